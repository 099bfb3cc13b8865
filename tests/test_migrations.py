"""Migrations: `flask db upgrade` builds the whole schema from nothing, and matches the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import app.models  # noqa: F401  (every model on the metadata)
from app import create_app
from app.extensions import db
from tests.conftest import base_config
from tests.freshdb import KINDS, fresh_database


@pytest.fixture(params=KINDS)
def upgraded(request, tmp_path):
    """An app on a fresh, empty database after `flask db upgrade`, and the command's result."""
    with fresh_database(request.param, tmp_path) as url:
        app = create_app(base_config(url), instance_path=str(tmp_path / "instance"))
        with app.app_context():
            assert inspect(db.engine).get_table_names() == []
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        try:
            yield app, result
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_upgrade_from_empty_creates_every_table(upgraded):
    """`flask db upgrade` on an empty database succeeds and creates every table and column of the models."""
    app, result = upgraded
    assert result.exit_code == 0, result.output
    with app.app_context():
        inspector = inspect(db.engine)
        tables = set(inspector.get_table_names())
        assert set(db.metadata.tables) | {"alembic_version"} <= tables
        for name, table in db.metadata.tables.items():
            columns = {c["name"] for c in inspector.get_columns(name)}
            assert {c.name for c in table.columns} == columns, name


def test_migrations_match_models(upgraded):
    """After upgrading, autogenerate finds no difference between the database and the models (`flask db check`)."""
    app, result = upgraded
    assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    assert diffs == []


def test_upgrade_twice_changes_nothing(upgraded):
    """Running `flask db upgrade` again on an up-to-date database is a no-op that succeeds."""
    app, result = upgraded
    assert result.exit_code == 0, result.output
    with app.app_context():
        before = set(inspect(db.engine).get_table_names())
    again = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) == before
