"""A real server in a separate process, on the test's database: for races
(many client threads at once) and for the browser tests."""
import json
import os
import signal
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


class ServerProcess:
    """A server child process on a database and instance folder that a test can
    start, SIGKILL (master and workers at once, as a power cut or the OOM killer
    would) and start again on the same database and folder.

    `kind` is "threaded" (Werkzeug's threaded server, one process, as
    `flask run` serves a village) or "gunicorn" (gunicorn's sync workers, as the
    README runs production). Each start takes a new free port; `base` is the
    current base URL. Config goes through FLASK_ environment variables exactly
    as in production."""

    def __init__(self, database_url: str, instance_path: str, *, kind: str = "threaded",
                 workers: int = 2, env: dict | None = None):
        self.kind, self.workers, self.instance_path = kind, workers, instance_path
        self.env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_SECRET_KEY": "live-test-secret",
            "FLASK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "FLASK_RATELIMIT_STORAGE_URI": "memory://",
            "AIXIN_INSTANCE_PATH": instance_path,
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.base = ""
        self._log = None

    def command(self, port: int) -> list[str]:
        if self.kind == "gunicorn":
            return [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
                    "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                    f"app:create_app(instance_path={self.instance_path!r})"]
        code = (
            "import os; from app import create_app; from werkzeug.serving import run_simple;"
            "app = create_app(instance_path=os.environ['AIXIN_INSTANCE_PATH']);"
            f"run_simple('127.0.0.1', {port}, app, threaded=True)"
        )
        return [sys.executable, "-c", code]

    def start(self, kind: str | None = None) -> str:
        """Start the server (of another kind, if given) and wait until /healthz answers; its base URL."""
        self.kind = kind or self.kind
        port = free_port()
        os.makedirs(self.instance_path, exist_ok=True)
        log_path = Path(self.instance_path) / f"server-{port}.log"
        self._log = open(log_path, "wb")
        # Its own process group, so kill() reaches gunicorn's workers too.
        self.proc = subprocess.Popen(self.command(port), cwd=ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self.base
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    out = log_path.read_text(errors="replace")
                    raise RuntimeError(f"live server did not start:\n{out}") from None
                time.sleep(0.1)

    def pids(self) -> list[int]:
        """The server's processes (gunicorn's master and workers), read from /proc."""
        if self.proc is None:
            return []
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":  # pgid; not a zombie
                out.append(int(stat.parent.name))
        return sorted(out)

    def kill(self) -> None:
        """SIGKILL every process of the server at once, with requests in flight (nothing is
        read first, so no request gets an answer in the meantime); then wait until all are gone."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        deadline = time.time() + 10
        while self.pids() and time.time() < deadline:
            time.sleep(0.02)
        assert not self.pids(), f"still running after SIGKILL: {self.pids()}"
        self._close_log()

    def stop(self) -> None:
        """End the server the polite way (SIGTERM), as the live_server fixture always did."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def live_server(database_url: str, instance_path: str, *, threads: int = 16, env: dict | None = None,
                workers: int = 0):
    """Serve the app with a threaded server in a child process; yield its base URL.

    Uses Werkzeug's threaded server (one process, many threads), which is how
    a village runs `flask run`; races between requests are real. With
    workers=N, gunicorn's N sync worker processes instead, as in production:
    the races then cross processes. Config goes through FLASK_ environment
    variables exactly as in production."""
    server = ServerProcess(database_url, instance_path, kind="gunicorn" if workers else "threaded",
                           workers=workers, env=env)
    try:
        yield server.start()
    finally:
        server.stop()


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
