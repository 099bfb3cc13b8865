"""A real server in a separate process, on the test's database: for races
(many client threads at once) and for the browser tests."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(database_url: str, instance_path: str, *, threads: int = 16, env: dict | None = None,
                workers: int = 0):
    """Serve the app with a threaded server in a child process; yield its base URL.

    Uses Werkzeug's threaded server (one process, many threads), which is how
    a village runs `flask run`; races between requests are real. With
    workers=N, gunicorn's N sync worker processes instead, as in production:
    the races then cross processes. Config goes through FLASK_ environment
    variables exactly as in production."""
    port = free_port()
    child_env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_SECRET_KEY": "live-test-secret",
        "FLASK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "FLASK_RATELIMIT_STORAGE_URI": "memory://",
        "AIXIN_INSTANCE_PATH": instance_path,
        **(env or {}),
    }
    code = (
        "import os; from app import create_app; from werkzeug.serving import run_simple;"
        "app = create_app(instance_path=os.environ['AIXIN_INSTANCE_PATH']);"
        f"run_simple('127.0.0.1', {port}, app, threaded=True)"
    )
    cmd = [sys.executable, "-c", code]
    if workers:
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", f"app:create_app(instance_path={instance_path!r})"]
    os.makedirs(instance_path, exist_ok=True)
    log_path = Path(instance_path) / f"server-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    out = log_path.read_text(errors="replace")
                    raise RuntimeError(f"live server did not start:\n{out}")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def request_json(base: str, method: str, path: str, token: str, body=None, headers=None):
    """A request to a live server; (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path, method=method, data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                 **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"null")
        except ValueError:
            return err.code, raw.decode(errors="replace")


def race(calls: list) -> list:
    """Run the callables in threads released at the same moment; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as err:  # reported as a result so the test shows it
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
