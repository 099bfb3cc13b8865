"""Engine set-up shared by every entry point: SQLite pragmas and write transactions."""
import sqlite3

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


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_conn, _record):
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    # We emit BEGIN ourselves (below), so pysqlite must not.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """A deferred transaction that reads and then writes fails with "database is
    locked" under contention; every transaction that may write takes the write
    lock up front. Safe requests (GET, HEAD) read without it, unless the
    connection asks for it with `execution_options(aixin_write=True)`."""
    if conn.dialect.name != "sqlite":
        return
    forced = conn.get_execution_options().get("aixin_write", False)
    if not forced and has_request_context() and request.method in SAFE_METHODS:
        conn.exec_driver_sql("BEGIN")
    elif (not forced and not has_request_context() and has_app_context()
          and not current_app.config.get("SQLITE_LOCK_OUTSIDE_REQUESTS", True)):
        # Tests: the test process reads while a live server writes; it must not hold the lock.
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
