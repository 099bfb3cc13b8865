"""Empty databases for tests that start from nothing: a new SQLite file, or a new
PostgreSQL database (created and dropped around the test) when TEST_DATABASE_URL is set."""
import os
import secrets
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.database import normalise_url

PG_URL = os.environ.get("TEST_DATABASE_URL")
KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="TEST_DATABASE_URL is not set"))]


@contextmanager
def fresh_database(kind: str, tmp_path):
    """Yield the URL of a database with no tables at all."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'fresh-{secrets.token_hex(4)}.db'}"
        return
    url = make_url(normalise_url(PG_URL))
    name = f"{url.database}_fresh_{os.getpid()}_{secrets.token_hex(4)}"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
