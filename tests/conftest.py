"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set), the app, clients and factories."""
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.config import HOUSEHOLD_TAGS
from app.extensions import db
from tests.freshdb import KINDS, fresh_database

PG_URL = os.environ.get("TEST_DATABASE_URL")
FAST_HASH = "pbkdf2:sha256:1000"


def base_config(uri: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": False,
        # The test process reads while a live server writes: it must not hold SQLite's write lock.
        "SQLITE_LOCK_OUTSIDE_REQUESTS": False,
        **extra,
    }


def migrate_to_head(uri: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(uri), instance_path=str(instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """SQLite: one migrated file, copied for each test. PostgreSQL: migrated once."""
    instance = tmp_path_factory.mktemp("instance")
    if PG_URL:
        from app.database import normalise_url
        engine = create_engine(normalise_url(PG_URL))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate_to_head(PG_URL, instance)
        return None
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate_to_head(f"sqlite:///{path}", instance)
    return path


@pytest.fixture
def database_url(template_db, tmp_path):
    if PG_URL:
        from app.database import normalise_url
        engine = create_engine(normalise_url(PG_URL))
        with engine.begin() as conn:
            tables = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
            )).scalars().all()
            if tables:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
                # What migration 0010 seeds, as a migrated SQLite file has it.
                conn.execute(text("INSERT INTO household_tags (name, active) VALUES (:name, true)"),
                             [{"name": name} for name in HOUSEHOLD_TAGS])
        engine.dispose()
        return PG_URL
    path = tmp_path / "test.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on this test's database, with config overrides."""
    apps = []

    def factory(**overrides):
        app = create_app(base_config(database_url, **overrides), instance_path=str(tmp_path / "instance"))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    """A small county: two townships, three villages, two supermarkets, a user per role."""
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def live(database_url, tmp_path, app):
    """Start a server process on this test's database: `with live() as base_url:`.
    Build the data (world fixture ...) and commit before starting it; after the
    server has written, `db.session.rollback()` before reading its results."""
    from tests.live import live_server

    def start(workers: int = 0, **env):
        return live_server(database_url, str(tmp_path / "live-instance"), env=env, workers=workers)

    return start


@pytest.fixture(params=KINDS)
def demo_app(request, tmp_path):
    """An app on a brand-new empty database (no migrations run yet), for `flask demo`."""
    with fresh_database(request.param, tmp_path) as url:
        app = create_app(base_config(url), instance_path=str(tmp_path / "demo-instance"))
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
