"""Engine set-up shared by every entry point: SQLite pragmas and write transactions."""
import math
import os
import sqlite3
import time

try:
    import fcntl
except ImportError:  # Windows: writers fall back to SQLite's busy handler
    fcntl = None

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def normalise_url(url: str) -> str:
    """Let people paste a plain postgresql:// URL; we ship psycopg 3, not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class SQLiteConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions queue on a file lock.

    SQLite makes a writer that finds the database locked sleep in its busy
    handler (1, 2, 5, 10 ... 100 ms between tries), so under a steady stream
    of short writes, waiters oversleep and the lock sits idle while they
    sleep: a few writers already stretch the latency tail to seconds. Writers
    here first take an exclusive `flock` on `<database>-writer` (every process
    and thread opens its own descriptor), polling every half millisecond, and
    only then BEGIN IMMEDIATE, which then finds the database free. The lock
    goes with the transaction's end, or with the process if it dies."""

    writer_fd: int | None = None
    holds_writer_lock = False
    busy_ms = 5000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # How long a writer waits for the write lock, in all (`timeout` at connect,
        # DATABASE_LOCK_TIMEOUT in the app): the queue of our own writers, who hold
        # it for milliseconds, and then SQLite's busy handler, for a lock held from
        # outside the app (a backup, the sqlite3 shell, another program).
        timeout = kwargs.get("timeout", args[1] if len(args) > 1 else 5.0)
        self.lock_timeout = float(timeout)
        self.busy_ms = int(self.lock_timeout * 1000)

    def open_writer_lock(self) -> None:
        row = self.execute("PRAGMA database_list").fetchone()
        path = row[2] if row else ""
        if path and fcntl is not None:  # not for an in-memory database
            self.writer_fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT, 0o600)

    def begin_immediate(self, timeout: float | None = None) -> None:
        """Take the write lock within `timeout` seconds (the connection's lock
        timeout by default), else fail with SQLite's own "database is locked"."""
        timeout = self.lock_timeout if timeout is None else timeout
        if self.writer_fd is not None and not self.holds_writer_lock:
            started = time.monotonic()
            deadline = started + timeout
            while True:
                try:
                    fcntl.flock(self.writer_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError("database is locked") from None
                    time.sleep(0.0005)
            self.holds_writer_lock = True
            # What is left of the wait goes to the busy handler, so a writer that
            # queued behind one stuck on an outside lock does not wait twice.
            left = deadline - time.monotonic()
            self._set_busy_ms(max(50, math.ceil(left * 10) * 100))
        try:
            super().execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _set_busy_ms(self, ms: int) -> None:
        if ms != self.busy_ms:
            super().execute(f"PRAGMA busy_timeout={int(ms)}")
            self.busy_ms = ms

    def _release(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            fcntl.flock(self.writer_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
            if self.writer_fd is not None:
                os.close(self.writer_fd)
                self.writer_fd = None


def begin_immediate(dbapi_conn) -> None:
    if isinstance(dbapi_conn, SQLiteConnection):
        dbapi_conn.begin_immediate()
    else:
        dbapi_conn.execute("BEGIN IMMEDIATE")


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_conn, _record):
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    # We emit BEGIN ourselves (below), so pysqlite must not.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # busy_timeout: sqlite3.connect's timeout (DATABASE_LOCK_TIMEOUT, see configure_database).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    if isinstance(dbapi_conn, SQLiteConnection):
        dbapi_conn.open_writer_lock()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """A deferred transaction that reads and then writes fails with "database is
    locked" under contention; every transaction that may write takes the write
    lock up front. Safe requests (GET, HEAD) read without it, unless the
    connection asks for it with `execution_options(aixin_write=True)`."""
    if conn.dialect.name != "sqlite":
        return
    conn.info.pop("aixin_pending", None)
    forced = conn.get_execution_options().get("aixin_write", False)
    if not forced and has_request_context() and request.method in SAFE_METHODS:
        conn.exec_driver_sql("BEGIN")
    elif not forced and has_request_context() and _late_endpoint():
        # Reads run in autocommit until the first write, which
        # begins the write transaction: see late_write_lock.
        conn.info["aixin_pending"] = True
    elif (not forced and not has_request_context() and has_app_context()
          and not current_app.config.get("SQLITE_LOCK_OUTSIDE_REQUESTS", True)):
        # Tests: the test process reads while a live server writes; it must not hold the lock.
        conn.exec_driver_sql("BEGIN")
    else:
        begin_immediate(conn.connection.dbapi_connection)


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_late_begin(conn, cursor, statement, _params, context, _many):
    """late_write_lock: the first write takes SQLite's write lock (BEGIN
    IMMEDIATE) just before it runs."""
    if not conn.info.get("aixin_pending"):
        return
    if statement.lstrip()[:7].upper().startswith(WRITES):
        conn.info["aixin_pending"] = False
        begin_immediate(cursor.connection)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _sqlite_late_end(conn):
    conn.info.pop("aixin_pending", None)


def late_write_lock(view):
    """For a hot write request whose service marks its own lock point (the
    checkout): on SQLite, what it reads before that point is read outside the
    write transaction, as on PostgreSQL under READ COMMITTED, and the write
    lock is held only from its first write to the commit.
    Without this, every write request holds SQLite's write lock from its
    first statement. Only for services whose first write locks what they
    depend on, and that re-check after it what must not change under them
    (conditional UPDATEs, FOR UPDATE), as they must on PostgreSQL anyway."""
    view.aixin_late_lock = True  # functools.wraps carries it out through other decorators
    return view


def _late_endpoint() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "aixin_late_lock", False))

