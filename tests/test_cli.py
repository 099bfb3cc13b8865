"""Command line: `flask users create` and `flask demo`."""
import re

import pytest
from sqlalchemy import func, inspect, select

from app import create_app
from app.extensions import db
from app.models import AuditRecord, Household, Region, Supermarket, User
from app.services.people.accounts import authenticate
from tests.conftest import base_config
from tests.factories import PASSWORD, count
from tests.freshdb import KINDS, fresh_database


def users_create(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["users", "create", *args], input=input)


def test_users_create_with_password(app, world):
    """`flask users create NAME --role staff --region-id R --password P` makes a working, audited account."""
    result = users_create(app, "newstaff", "--role", "staff", "--region-id", str(world.v2.id), "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "created user newstaff" in result.output and PASSWORD not in result.output
    user = authenticate("newstaff", PASSWORD)
    assert user is not None and user.role == "staff" and user.region_id == world.v2.id
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "user.create",
                                                       AuditRecord.object_id == user.id)).one()
    assert rec.user_id is None  # the command line acts as the system


def test_users_create_prompts_for_password(app, world):
    """Without --password the command asks twice, hides the answer and uses it."""
    result = users_create(app, "asked", "--role", "volunteer", "--supermarket-id", str(world.sm_east.id),
                          "--supermarket-id", str(world.sm_west.id), input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and PASSWORD not in result.output
    user = authenticate("asked", PASSWORD)
    assert {s.id for s in user.supermarkets} == {world.sm_east.id, world.sm_west.id}


def test_users_create_prompt_mismatch_writes_nothing(app, world):
    """Two different answers to the password prompt, then end of input: non-zero exit, no account."""
    before = count(User)
    result = users_create(app, "mismatch", "--role", "admin", input="first password\nsecond password\n")
    assert result.exit_code != 0
    assert count(User) == before


BAD_USERS = [
    (["shorty", "--role", "admin", "--password", "x" * 9], "password"),
    (["nowhere", "--role", "staff", "--password", PASSWORD], "region_id"),
    (["nowhere", "--role", "cadre", "--region-id", "987654", "--password", PASSWORD], "region_id"),
    (["noshop", "--role", "volunteer", "--password", PASSWORD], "supermarket_ids"),
    (["nodonor", "--role", "donor", "--password", PASSWORD], "donor_id"),
    (["staff", "--role", "admin", "--password", PASSWORD], "username"),
    (["a b", "--role", "admin", "--password", PASSWORD], "username"),
]


def test_users_create_bad_input(app, world):
    """A short password, a missing scope or a taken username: the field's message, exit 1, nothing written."""
    before = (count(User), count(AuditRecord))
    for args, field in BAD_USERS:
        result = users_create(app, *args)
        assert result.exit_code == 1, args
        assert re.search(rf"^{field}: \S", result.output, re.M), result.output
        assert (count(User), count(AuditRecord)) == before, args


def test_users_create_bad_role(app, world):
    """An unknown role is refused by the command with the allowed choices, before anything is written."""
    before = count(User)
    result = users_create(app, "boss", "--role", "boss", "--password", PASSWORD)
    assert result.exit_code == 2
    assert "--role" in result.output and "staff" in result.output
    assert count(User) == before


@pytest.fixture(params=KINDS)
def demo_app(request, tmp_path):
    """An app on a brand-new empty database (no migrations run yet)."""
    with fresh_database(request.param, tmp_path) as url:
        app = create_app(base_config(url), instance_path=str(tmp_path / "demo-instance"))
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def demo(app, *args):
    # The `flask` command pushes an app context for every command; the test runner does not.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo", "--households", "50", *args])
        db.session.remove()
    assert result.exit_code == 0, result.output
    return result.output


def logins(output: str) -> list[str]:
    """The login lines the demo prints (role, username, password, label)."""
    return [line for line in output.splitlines()
            if re.match(r"  (admin|cadre|staff|volunteer|donor)\s", line)]


def totals(app) -> dict:
    with app.app_context():
        db.session.remove()
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                for m in (Region, Supermarket, Household, User, AuditRecord)}


def test_demo_builds_schema_and_county(demo_app):
    """`flask demo` on an empty database creates the schema itself, then a county whose printed logins work."""
    output = demo(demo_app)
    with demo_app.app_context():
        assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
    got = totals(demo_app)
    assert got["Household"] == 50 and got["User"] == 5 and got["Region"] >= 3 and got["Supermarket"] >= 1
    lines = logins(output)
    assert [line.split()[0] for line in lines] == ["admin", "cadre", "staff", "volunteer", "donor"]
    client = demo_app.test_client()
    for line in lines:
        role, username, password = line.split()[:3]
        r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 201 and r.get_json()["user"]["role"] == role
    with demo_app.app_context():
        codes = db.session.scalars(select(Household.code)).all()
        assert len(set(codes)) == 50


def test_demo_twice_changes_nothing(demo_app):
    """Running `flask demo` again changes nothing and prints the same logins."""
    first = demo(demo_app)
    before = totals(demo_app)
    second = demo(demo_app)
    assert logins(second) == logins(first) and len(logins(first)) == 5
    assert totals(demo_app) == before


def test_demo_reset_starts_over(demo_app):
    """`flask demo --reset` drops the old demo and builds a new one with new passwords."""
    first = demo(demo_app)
    old_password = logins(first)[0].split()[2]
    again = demo(demo_app, "--reset")
    assert len(logins(again)) == 5 and logins(again) != logins(first)
    got = totals(demo_app)
    assert got["Household"] == 50 and got["User"] == 5
    with demo_app.app_context():
        assert authenticate("admin", old_password) is None
        assert authenticate("admin", logins(again)[0].split()[2]) is not None


def test_demo_leaves_a_real_database_alone(app, world):
    """On a database that holds real data and no demo, `flask demo` says so and writes nothing."""
    before = (count(Region), count(Household), count(User))
    result = app.test_cli_runner().invoke(args=["demo", "--households", "50"])
    assert result.exit_code == 0 and "nothing done" in result.output
    db.session.rollback()
    assert (count(Region), count(Household), count(User)) == before


def test_two_demo_databases_keep_their_own_logins(demo_app, tmp_path):
    """Demos built into two databases from one instance folder each print their own logins, never the other's."""
    first = logins(demo(demo_app))
    other = create_app(base_config(f"sqlite:///{tmp_path}/other.db"), instance_path=demo_app.instance_path)
    try:
        second = logins(demo(other))
        assert len(second) == 5 and second != first
        assert logins(demo(demo_app)) == first and logins(demo(other)) == second
    finally:
        with other.app_context():
            db.engine.dispose()
