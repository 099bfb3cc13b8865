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


@pytest.mark.parametrize("kind", KINDS)
def test_0013_seals_the_cards_already_issued(kind, tmp_path):
    """Cards issued before 0013 kept their token in clear: the upgrade hashes and seals each one (making
    the key file), drops the plain column, and the old cards still scan and print; downgrading puts
    the tokens back."""
    import secrets

    from sqlalchemy import insert, select, text

    from app.models import Card, Household
    from app.services.checkout import card_key
    from app.services.checkout.cards import card_token, find_card
    from app.services.people.regions import create_region

    tokens = [f"{secrets.randbelow(10**39):039d}" for _ in range(3)]
    with fresh_database(kind, tmp_path) as url:
        app = create_app(base_config(url), instance_path=str(tmp_path / "instance"))
        try:
            with app.app_context():
                runner = app.test_cli_runner()
                result = runner.invoke(args=["db", "upgrade", "0012"])
                assert result.exit_code == 0, result.output
                county = create_region(None, {"name": "青山县", "level": "county"})
                town = create_region(None, {"name": "东岭镇", "level": "township", "parent_id": county.id})
                village = create_region(None, {"name": "东坪村", "level": "village", "parent_id": town.id})
                ids = [db.session.execute(insert(Household).values(
                    code=f"0001-000{i}", village_id=village.id, head_name=name).returning(Household.id)).scalar()
                    for i, name in enumerate(["杜玉梅", "王喆", "李堃"])]
                db.session.execute(text(
                    "INSERT INTO cards (household_id, token, number, status, issued_at) "
                    "VALUES (:h, :t, :n, :s, CURRENT_TIMESTAMP)"),
                    [{"h": hid, "t": token, "n": f"10000000{i}{i}", "s": "active" if i else "revoked"}
                     for i, (hid, token) in enumerate(zip(ids, tokens))])
                db.session.commit()
                assert not card_key.key_file().exists()
                result = runner.invoke(args=["db", "upgrade"])
                assert result.exit_code == 0, result.output
                db.session.remove()
                assert "token" not in {c["name"] for c in inspect(db.engine).get_columns("cards")}
                assert oct(card_key.key_file().stat().st_mode & 0o777) == "0o600"
                dump = " ".join(str(v) for row in db.session.execute(text("SELECT * FROM cards")) for v in row)
                for hid, token in zip(ids, tokens):
                    assert token not in dump
                    card = find_card(payload="81" + token)
                    assert card is not None and card.household_id == hid and card_token(card) == token
                assert [c.status for c in db.session.scalars(select(Card).order_by(Card.id))] == [
                    "revoked", "active", "active"]
                db.session.remove()
                result = runner.invoke(args=["db", "downgrade", "0012"])
                assert result.exit_code == 0, result.output
                back = dict(db.session.execute(text("SELECT household_id, token FROM cards")).all())
                assert back == dict(zip(ids, tokens))
                db.session.remove()
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
