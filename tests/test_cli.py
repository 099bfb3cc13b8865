"""Command line: `flask users create` and `flask demo`."""
import re
from datetime import timedelta

from sqlalchemy import func, inspect, select

from app import create_app
from app.extensions import db
from app.demo.points import OBJECTIONS
from app.models import AuditRecord, Household, LedgerEntry, Lot, Region, Rule, Supermarket, User, Writeoff
from app.services.clock import local_today
from app.services.goods.check import check_lots
from app.services.people.accounts import authenticate
from tests.conftest import base_config
from tests.factories import PASSWORD, count


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


DEMO_LOGINS = 13   # admin, county cadre, township cadre, six village staff, two volunteers, two donors


def test_demo_builds_schema_and_county(demo_app):
    """`flask demo` on an empty database creates the schema itself, then a county whose printed logins work."""
    output = demo(demo_app)
    with demo_app.app_context():
        assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
    got = totals(demo_app)
    assert got["Household"] == 50 and got["User"] == DEMO_LOGINS and got["Region"] >= 3 and got["Supermarket"] >= 1
    lines = logins(output)
    assert [line.split()[0] for line in lines] == (["admin", "cadre", "cadre"] + ["staff"] * 6
                                                   + ["volunteer"] * 2 + ["donor"] * 2)
    client = demo_app.test_client()
    for line in lines:
        role, username, password = line.split()[:3]
        r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 201 and r.get_json()["user"]["role"] == role
    with demo_app.app_context():
        codes = db.session.scalars(select(Household.code)).all()
        assert len(set(codes)) == 50


def test_demo_logins_see_what_their_label_says(demo_app):
    """Each demo login is scoped like a real county's users, and the printed label names that scope:
    a village's staff see that village's households only, the township cadre that township's, each
    volunteer one supermarket, each donor their own donations."""
    lines = {line.split()[1]: line for line in logins(demo(demo_app))}
    client = demo_app.test_client()

    def get(username, path):
        password = lines[username].split()[2]
        token = client.post("/api/v1/auth/token", json={"username": username, "password": password}).get_json()["token"]
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, (username, path, r.status_code)
        return r.get_json()

    with demo_app.app_context():
        names = dict(db.session.execute(select(Region.id, Region.name)).all())
        levels = dict(db.session.execute(select(Region.id, Region.level)).all())
    everyone = get("cadre", "/api/v1/households?per_page=500")["total"]
    assert everyone == 50
    village_totals = []
    for username in ["staff"] + [f"staff{i}" for i in range(2, 7)]:
        seen = get(username, "/api/v1/households?per_page=500")
        villages = {h["village_id"] for h in seen["items"]}
        assert len(villages) == 1 and levels[villages.pop()] == "village"
        assert names[seen["items"][0]["village_id"]] in lines[username]
        village_totals.append(seen["total"])
    assert sum(village_totals) == everyone
    town = get("town", "/api/v1/households?per_page=500")
    assert 0 < town["total"] < everyone
    town_villages = {h["village_id"] for h in town["items"]}
    assert len(town_villages) == 3
    markets = [get(u, "/api/v1/supermarkets")["items"] for u in ("volunteer", "volunteer2")]
    assert [len(m) for m in markets] == [1, 1] and markets[0][0]["id"] != markets[1][0]["id"]
    for username, m in zip(("volunteer", "volunteer2"), markets):
        assert m[0]["name"] in lines[username]
    assert "donor" in lines and "donor2" in lines and lines["donor"] != lines["donor2"]


def test_demo_rules_make_sense(demo_app):
    """The demo's catalogue: a rule counted per term or per year has no monthly cap, the all-year
    rule is yearly, each category has one code prefix; and its history gives a yearly rule to a
    household at most once a year."""
    demo(demo_app)
    with demo_app.app_context():
        rules = db.session.scalars(select(Rule)).all()
        assert rules
        for rule in rules:
            if rule.unit in ("每学期", "每年", "每季度"):
                assert rule.cap_per_month is None, rule.code
            if "全年" in rule.name:
                assert rule.unit == "每年", rule.code
        prefixes = {}
        for rule in rules:
            prefixes.setdefault(rule.category, set()).add(rule.code.split("-")[0])
        assert all(len(p) == 1 for p in prefixes.values()), prefixes
        owners = [c for p in prefixes.values() for c in p]
        assert len(owners) == len(set(owners)), prefixes
        yearly = [r.code for r in rules if r.unit == "每年"]
        per_year = db.session.execute(
            select(LedgerEntry.household_id, LedgerEntry.rule_code, func.count())
            .where(LedgerEntry.rule_code.in_(yearly))
            .group_by(LedgerEntry.household_id, LedgerEntry.rule_code,
                      func.extract("year", LedgerEntry.occurred_on))).all()
        assert per_year and max(n for *_, n in per_year) == 1


def test_demo_takes_expired_food_off_the_shelf(demo_app):
    """The demo's volunteers write off food a week past its best-before date (reason expired), so the
    home's expiring list shows this week's, not a year of eggs; every lot still adds up."""
    demo(demo_app)
    with demo_app.app_context():
        today = local_today()
        stale = db.session.scalar(select(func.count()).select_from(Lot).where(
            Lot.remaining > 0, Lot.best_before < today - timedelta(days=7)))
        assert stale == 0
        expired = db.session.scalars(select(Writeoff).where(Writeoff.reason == "expired")).all()
        assert len(expired) > 2
        assert all(w.created_at.date() <= today for w in expired)
        assert check_lots() == []


def test_demo_donors_have_traces_with_real_numbers(demo_app):
    """The demo's donors with a login, and the bank whose cash bought goods, see their
    gifts reach households in several villages (the demo's checkouts take from
    their lots); the bank's money bought lots of its own that households took home;
    the bank agreed to be named in public, the individual donor did not."""
    from app.models import Checkout, Donation, DonationLine, Donor, LotMovement

    out = demo(demo_app)
    with demo_app.app_context():
        donors = {d.name: d for d in db.session.scalars(select(Donor))}
        reached = {name: db.session.execute(
            select(func.sum(LotMovement.quantity), func.count(func.distinct(LotMovement.household_id)),
                   func.count(func.distinct(LotMovement.village_id)))
            .join(Lot, Lot.id == LotMovement.lot_id).join(Checkout, Checkout.id == LotMovement.checkout_id)
            .where(Lot.donor_id == donors[name].id, LotMovement.kind == "redemption",
                   Checkout.voided_at.is_(None))).one()
            for name in ("青山县供销合作社", "爱心人士 王建华", "青山农商银行")}
        for name, (units, households, villages) in reached.items():
            assert units > 0 and households > 0 and villages > 0, name
        assert "青山县供销合作社" in out and "爱心人士 王建华" in out      # the two donor logins
        bank = donors["青山农商银行"]
        cash = db.session.scalar(select(Donation).where(Donation.kind == "cash"))
        assert cash.donor_id == bank.id
        bought = db.session.scalars(select(Lot).join(DonationLine, DonationLine.id == Lot.donation_line_id)
                                    .where(DonationLine.donation_id == cash.id)).all()
        assert bought and all(lot.donor_id == bank.id for lot in bought)
        assert sum(lot.redeemed for lot in bought) > 0
        assert bank.named_in_public is True and donors["爱心人士 王建华"].named_in_public is False


def test_demo_objection_fits_its_award(demo_app):
    """The demo's disputed award carries an objection about what that award was for, and who objected
    is kept apart from the reason (the public sees the reason only)."""
    demo(demo_app)
    with demo_app.app_context():
        entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.status == "disputed")).one()
        rule = db.session.get(Rule, entry.rule_id)
        assert entry.objection_reason == OBJECTIONS[rule.category]
        assert entry.objector and entry.objector not in entry.objection_reason


def test_demo_year_reads_in_the_audit_trail(demo_app):
    """The demo's year written in bulk is in the audit trail as the services would have left it:
    each household's creation, awards, deductions and checkouts, with its village, so a township
    cadre following a household on the trail sees its year."""
    lines = {line.split()[1]: line for line in logins(demo(demo_app))}
    with demo_app.app_context():
        hh = db.session.scalars(select(Household).join(Region, Region.id == Household.village_id)
                                .where(Region.name == "东坪村").order_by(Household.id)).first()
        entries = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.household_id == hh.id, LedgerEntry.kind.in_(("award", "deduction"))))
        from app.models import Checkout
        checkouts = db.session.scalar(select(func.count()).select_from(Checkout)
                                      .where(Checkout.household_id == hh.id))
        trail = db.session.execute(select(AuditRecord.action, AuditRecord.village_id)
                                   .where(AuditRecord.household_id == hh.id)).all()
        code, village_id = hh.code, hh.village_id
    assert entries > 0
    assert sum(a.startswith("points.") for a, _ in trail) == entries
    assert sum(a == "checkout.create" for a, _ in trail) == checkouts
    assert sum(a == "household.create" for a, _ in trail) == 1
    assert {v for _, v in trail} == {village_id}
    client = demo_app.test_client()
    client.post("/login", data={"username": "town", "password": lines["town"].split()[2]})
    page = client.get(f"/audit/?household={code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("points.award") + html.count("points.deduction") >= min(entries, 10)


def test_demo_twice_changes_nothing(demo_app):
    """Running `flask demo` again changes nothing and prints the same usernames, without the passwords."""
    first = demo(demo_app)
    before = totals(demo_app)
    second = demo(demo_app)
    assert len(logins(first)) == DEMO_LOGINS and len(logins(second)) == DEMO_LOGINS
    assert users(second) == users(first)
    assert not any(line.split()[2] in second for line in logins(first))  # no password again
    assert totals(demo_app) == before
    assert "already holds the demo" in second and "flask demo --reset" in second
    assert "already holds the demo" not in first


def users(output: str) -> list[tuple[str, str]]:
    return [tuple(line.split()[:2]) for line in logins(output)]


def test_demo_keeps_no_password_in_a_file_unless_asked(demo_app):
    """`flask demo` prints the passwords once and writes none to the instance folder; with
    --save-logins the file keeps them (mode 0600) and a later run prints them again."""
    from pathlib import Path

    first = demo(demo_app)
    passwords = [line.split()[2] for line in logins(first)]
    folder = Path(demo_app.instance_path)
    written = "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
    assert not [p for p in passwords if p in written]
    assert "--save-logins" in first
    again = demo(demo_app, "--reset", "--save-logins")
    saved = [line.split()[2] for line in logins(again)]
    files = [p for p in folder.glob("demo-logins*.json")]
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert all(p in files[0].read_text() for p in saved)
    assert logins(demo(demo_app)) == logins(again)


def test_demo_reset_starts_over(demo_app):
    """`flask demo --reset` drops the old demo and builds a new one with new passwords."""
    first = demo(demo_app)
    old_password = logins(first)[0].split()[2]
    again = demo(demo_app, "--reset")
    assert len(logins(again)) == DEMO_LOGINS and logins(again) != logins(first)
    got = totals(demo_app)
    assert got["Household"] == 50 and got["User"] == DEMO_LOGINS
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
    """Demos built into two databases from one instance folder (with --save-logins) each print their own
    logins, never the other's."""
    first = logins(demo(demo_app, "--save-logins"))
    other = create_app(base_config(f"sqlite:///{tmp_path}/other.db"), instance_path=demo_app.instance_path)
    try:
        second = logins(demo(other, "--save-logins"))
        assert len(second) == DEMO_LOGINS and second != first
        assert logins(demo(demo_app)) == first and logins(demo(other)) == second
    finally:
        with other.app_context():
            db.engine.dispose()
