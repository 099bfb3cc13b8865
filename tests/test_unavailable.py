"""The database down or locked from outside the app (api.md, Health): every
request answers 503, problem+json `unavailable` for the API and a plain page
in the user's language for the pages, never 500; it writes nothing; and a lock
held from outside (a backup, a migration, another program) is waited for
DATABASE_LOCK_TIMEOUT seconds, not SQLite's old 30."""
import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, select, text

from app import create_app
from app.config import Defaults
from app.database import normalise_url
from app.extensions import db
from app.models import AuditRecord, Household
from tests.checkout_helpers import card_for, give_points, stocked
from tests.conftest import base_config
from tests.factories import count, login

ZH = "数据库正忙或连接不上"
EN = "The database is busy or cannot be reached"


@contextmanager
def held_from_outside(row: int | None = None):
    """Another program holds the database: on SQLite a write transaction on the
    file (as the sqlite3 shell or a backup would); on PostgreSQL an ACCESS
    EXCLUSIVE lock on the households table, or one household's row."""
    if db.engine.dialect.name == "sqlite":
        outside = sqlite3.connect(db.engine.url.database, isolation_level=None)
        outside.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outside.rollback()
            outside.close()
        return
    engine = create_engine(normalise_url(db.engine.url.render_as_string(hide_password=False)))
    with engine.connect() as outside:
        with outside.begin():
            if row is None:
                outside.execute(text("LOCK TABLE households IN ACCESS EXCLUSIVE MODE"))
            else:
                outside.execute(text("SELECT id FROM households WHERE id = :id FOR UPDATE"), {"id": row})
            yield
    engine.dispose()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable_problem(r, title=ZH):
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert r.content_type == "application/problem+json"
    body = r.get_json()
    assert body["type"] == "unavailable" and body["status"] == 503
    assert body["title"].startswith(title)
    assert r.headers["Retry-After"].isdigit()


def test_an_api_write_behind_an_outside_lock_answers_503_within_the_lock_timeout(client, world):
    """With the default timeout (5 s), a household created while another program holds the database
    answers 503 `unavailable` after about 5 s, not 500 after 30 s, and no household is written."""
    assert Defaults.DATABASE_LOCK_TIMEOUT == 5
    before = count(Household)
    headers = world.headers("staff")
    with held_from_outside():
        r, took = timed(lambda: client.post("/api/v1/households", headers=headers, json={
            "village_id": world.v1.id, "head_name": "甲", "members": 3}))
    assert_unavailable_problem(r)
    assert 4 <= took < 8, took
    db.session.rollback()
    assert count(Household) == before
    # Once the other program lets go, the same write goes through.
    r = client.post("/api/v1/households", headers=headers, json={
        "village_id": world.v1.id, "head_name": "甲", "members": 3})
    assert r.status_code == 201


def test_a_page_behind_an_outside_lock_answers_the_503_page_in_the_users_language(make_app, world):
    """A staff member setting a passbook PIN while the household is locked from outside gets the plain
    503 page in Chinese (English after switching), within the configured 2 s; nothing is written."""
    app = make_app(DATABASE_LOCK_TIMEOUT=2)
    hh = world.households["v1a"]
    c = app.test_client()
    assert login(c, "staff").status_code == 302
    with held_from_outside(row=hh.id):
        r, took = timed(lambda: c.post(f"/points/households/{hh.id}/pin", data={"pin": "482913"}))
        page = r.get_data(as_text=True)
        assert r.status_code == 503 and took < 4, (r.status_code, took)
        assert r.content_type.startswith("text/html") and ZH in page and "请过一分钟再试" in page
        c.get("/lang/en")
        r = c.post(f"/points/households/{hh.id}/pin", data={"pin": "482913"})
        assert r.status_code == 503 and EN in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(Household.passbook_pin_hash).where(Household.id == hh.id)) is None
    assert not db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.passbook_pin")).all()


def test_a_checkout_behind_an_outside_lock_answers_503_and_debits_nothing(make_app, world):
    """The checkout (which reads before it takes the write lock) answers 503 too, and debits nothing."""
    app = make_app(DATABASE_LOCK_TIMEOUT=2)
    products = stocked(world)
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    body = {"supermarket_id": world.sm_east.id, "card_payload": card_for(world, "v1a"),
            "lines": [{"product_id": products["香皂"].id, "quantity": 2}]}
    headers = world.headers("volunteer")
    with held_from_outside():
        r, took = timed(lambda: app.test_client().post("/api/v1/checkouts", headers=headers, json=body))
    assert_unavailable_problem(r)
    assert took < 4, took
    db.session.rollback()
    assert db.session.scalar(select(Household.balance).where(Household.id == hh.id)) == 100


UNREACHABLE = {
    "sqlite": "sqlite:///{tmp}/missing/dir/aixin.db",
    "postgresql": "postgresql://postgres@127.0.0.1:1/aixin",  # nothing listens on port 1
}


@pytest.fixture(params=sorted(UNREACHABLE))
def down(request, tmp_path):
    """An app whose database cannot be reached (same secret key as the tests' apps)."""
    app = create_app(base_config(UNREACHABLE[request.param].format(tmp=tmp_path)),
                     instance_path=str(tmp_path / "down"))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_an_unreachable_database_answers_503_to_the_api(down):
    """Any API call, public or with a token, answers 503 `unavailable` in the caller's language."""
    c = down.test_client()
    assert_unavailable_problem(c.get("/api/v1/households", headers={"Authorization": "Bearer x" * 10}))
    r = c.post("/api/v1/auth/token", json={"username": "staff", "password": "x"},
               headers={"Accept-Language": "en"})
    assert_unavailable_problem(r, title=EN)


def test_an_unreachable_database_answers_the_503_page(down, client, world):
    """A public page and a logged-in user's page answer the plain 503 page (zh, then en), not 500:
    the page is drawn without reading the user from the database."""
    c = down.test_client()
    r = c.get(f"/notice/{world.v1.id}")
    assert r.status_code == 503 and ZH in r.get_data(as_text=True)
    login(client, "staff")
    c.set_cookie("session", client.get_cookie("session").value)
    r = c.get("/")
    assert r.status_code == 503 and ZH in r.get_data(as_text=True)
    assert "staff" not in r.get_data(as_text=True)
    assert c.get("/lang/en").status_code == 302  # the page's language switch needs no database
    r = c.get("/households/")
    assert r.status_code == 503 and EN in r.get_data(as_text=True)
