"""A real server in a separate process, on the test's database: for races
(many client threads at once) and for the browser tests."""
import os
import socket
import subprocess
import sys
import time
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
