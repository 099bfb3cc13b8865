"""The audit trail (全程留痕): each write carries the household and village it
concerns (and its client address, where there is a request), and the trail
reads back by user, household, village, kind and date, within the reader's
reach: cadres their region and their own acts, admins all, nobody else."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import AuditRecord
from app.services import audit, audit_trail
from app.services.checkout.checkouts import check_out, void_checkout
from app.services.clock import local_today
from app.services.errors import Forbidden, ValidationError
from app.services.ledger.writer import post_due
from app.services.people.households import update_household
from app.services.points.passbook import set_passbook_pin
from tests.checkout_helpers import card_for, give_points, stocked
from tests.points_helpers import at, award, make_rule


def records(action: str) -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                                   .order_by(AuditRecord.id)))


def trail(user, **filters) -> list[dict]:
    """Every record `user` reads with these filters (first page, large enough)."""
    f = audit_trail.parse_filters(user, {k: str(v) for k, v in filters.items()})
    return audit_trail.records(user, f, per_page=500).rows


def test_household_writes_carry_the_household_and_its_village(app, world):
    """Writes on a household, on its entries, its card and its checkouts each name the household and its village."""
    hh = world.households["v1a"]
    make_rule("T-A", 5)
    award(world, "staff", ["v1a"], "T-A")
    give_points(world, hh, 100)
    products = stocked(world)
    payload = card_for(world, "v1a")
    c = check_out(world.users["volunteer"], {"supermarket_id": world.sm_east.id, "card_payload": payload,
                                             "lines": [{"product_id": products["香皂"].id, "quantity": 1}]})
    db.session.commit()
    void_checkout(world.users["volunteer"], c.id, {"reason": "扫错"})
    update_household(world.users["staff"], hh.id, {"members": 5})
    db.session.commit()
    for action in ("household.create", "points.award", "points.adjust", "card.issue",
                   "checkout.create", "checkout.void", "household.update"):
        rows = [r for r in records(action) if r.household_id == hh.id]
        assert rows, action
        assert all(r.village_id == world.v1.id for r in rows), action


def test_a_checkout_records_its_household_without_looking_it_up(app, world):
    """The counter's hot path: the checkout's audit record takes the household and village the
    checkout already holds, with no query of its own."""
    give_points(world, world.households["v1a"], 100)
    products = stocked(world)
    payload = card_for(world, "v1a")
    statements = []
    listen = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        check_out(world.users["volunteer"], {"supermarket_id": world.sm_east.id, "card_payload": payload,
                                             "lines": [{"product_id": products["香皂"].id, "quantity": 1}]})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    db.session.commit()
    assert not [s for s in statements if s.lstrip().startswith("SELECT households.village_id")]
    [rec] = records("checkout.create")
    assert (rec.household_id, rec.village_id) == (world.households["v1a"].id, world.v1.id)


def test_the_command_line_and_services_outside_a_request_record_no_address(app, world):
    """Outside a request (the CLI, the demo) the address is blank, not made up."""
    assert {r.address for r in records("household.create")} == {None}


def test_a_village_wide_act_carries_the_village(app, world):
    """Cards for a whole village: the record names the village (no single household)."""
    from app.services.checkout.cards import issue_village_cards
    issue_village_cards(world.users["staff"], world.v1.id)
    db.session.commit()
    [rec] = records("cards.issue_village")
    assert (rec.household_id, rec.village_id) == (None, world.v1.id)


def test_posting_after_notice_leaves_a_record_per_household(app, world):
    """Entries posted when their notice ends are recorded per household, so each household's trail shows them."""
    make_rule("T-A", 5)
    award(world, "staff", ["v1a", "v1b"], "T-A")
    award(world, "staff_west", ["v3a"], "T-A")
    assert post_due(now=at(10)) == 3
    db.session.commit()
    posted = records("points.post")
    assert sorted((r.household_id, r.village_id, r.details["count"]) for r in posted) == sorted([
        (world.households["v1a"].id, world.v1.id, 1), (world.households["v1b"].id, world.v1.id, 1),
        (world.households["v3a"].id, world.v3.id, 1)])


def test_a_bulk_record_names_each_rows_household(app, world):
    """record_many (an import) gives each row its own household and village, with one lookup for all."""
    hh = [world.households[k] for k in ("v1a", "v2a", "v3a")]
    db.session.expire_all()   # not in the session: their villages are looked up
    audit.record_many(world.users["admin"], "household.update", "households", [h.id for h in hh])
    db.session.commit()
    got = [(r.household_id, r.village_id) for r in records("household.update")]
    assert got == [(hh[0].id, world.v1.id), (hh[1].id, world.v2.id), (hh[2].id, world.v3.id)]


def test_details_naming_a_household_fill_the_columns(app, world):
    """A record whose details name a household_id carries it and its village."""
    hh = world.households["v2a"]
    audit.record(world.users["admin"], "points.objection", None, household_id=hh.id)
    db.session.commit()
    [rec] = records("points.objection")
    assert (rec.household_id, rec.village_id) == (hh.id, world.v2.id)


# -- reading ---------------------------------------------------------------------------

@pytest.fixture
def acts(app, world):
    """A PIN set in each of the three villages, by their staff."""
    for staff, key in (("staff", "v1a"), ("staff_east", "v2a"), ("staff_west", "v3a")):
        set_passbook_pin(world.users[staff], world.households[key].id)
    db.session.commit()


def test_only_cadres_and_admins_read_the_trail(world, acts):
    """Staff, volunteers and donors are refused (403); cadres and admins read."""
    for name in ("staff", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            audit_trail.parse_filters(world.users[name], {})
        with pytest.raises(Forbidden):
            audit_trail.records(world.users[name], audit_trail.Filters())
    assert trail(world.users["admin"]) and trail(world.users["cadre"])


def test_a_cadre_sees_their_region_and_their_own_acts(world, acts):
    """The west township's cadre sees 西沟村's records and their own, never 东坪村's; the county cadre sees all three villages."""
    west = world.users["cadre_west"]
    villages = {r["village_id"] for r in trail(west)}
    assert villages == {world.v3.id}
    set_passbook_pin(world.users["admin"], world.households["v1a"].id)  # an admin's act in the east
    db.session.commit()
    assert world.households["v1a"].code not in {r["household_code"] for r in trail(west)}
    county = {r["village_id"] for r in trail(world.users["cadre"], kind="household.passbook_pin")}
    assert county == {world.v1.id, world.v2.id, world.v3.id}
    # Their own act with no village (a fairness note on a user) is theirs to see.
    audit.record(west, "fairness.explain", None, subject_type="user")
    db.session.commit()
    assert "fairness.explain" in {r["action"] for r in trail(west)}
    assert "fairness.explain" not in {r["action"] for r in trail(world.users["cadre"])}


def test_a_household_or_village_out_of_reach_is_refused_as_a_filter(world, acts):
    """A cadre asking for a household code or village outside their region gets a field error, not its records."""
    west = world.users["cadre_west"]
    with pytest.raises(ValidationError) as err:
        audit_trail.parse_filters(west, {"household": world.households["v1a"].code})
    assert "household" in err.value.errors
    with pytest.raises(ValidationError) as err:
        audit_trail.parse_filters(west, {"village_id": str(world.v1.id)})
    assert "village_id" in err.value.errors
    for bad in ({"user_id": "x"}, {"kind": "points; drop"}, {"from": "2026-13-01"},
                {"from": "2026-03-02", "to": "2026-03-01"}):
        with pytest.raises(ValidationError):
            audit_trail.parse_filters(west, bad)


def test_filters_by_user_household_village_kind_and_date(world, acts):
    """Each filter keeps exactly the records it names; a kind without a dot takes the whole family."""
    admin = world.users["admin"]
    hh = world.households["v2a"]
    assert {r["household_id"] for r in trail(admin, household=hh.code)} == {hh.id}
    assert {r["village_id"] for r in trail(admin, village_id=world.v3.id)} == {world.v3.id}
    by_staff = trail(admin, user_id=world.users["staff_east"].id)
    assert by_staff and {r["user_id"] for r in by_staff} == {world.users["staff_east"].id}
    family = {r["action"] for r in trail(admin, kind="household")}
    assert family == {"household.create", "household.passbook_pin"}
    assert {r["action"] for r in trail(admin, kind="household.passbook_pin")} == {"household.passbook_pin"}
    today = local_today()
    assert len(trail(admin, kind="household.passbook_pin", **{"from": today.isoformat(), "to": today.isoformat()})) == 3
    assert trail(admin, **{"from": (today + timedelta(days=1)).isoformat()}) == []
    assert trail(admin, to=(today - timedelta(days=1)).isoformat()) == []


def test_the_trail_pages_newest_first_by_keyset(world, acts):
    """Pages of two: newest first, each page older than the last, and back again, no record twice or lost."""
    admin = world.users["admin"]
    f = audit_trail.parse_filters(admin, {})
    everything = audit_trail.records(admin, f, per_page=1000).rows
    assert [r["at"] for r in everything] == sorted((r["at"] for r in everything), reverse=True)
    seen, page = [], audit_trail.records(admin, f, per_page=2)
    assert page.newer is None
    while True:
        seen += [r["id"] for r in page.rows]
        if page.older is None:
            break
        page = audit_trail.records(admin, f, per_page=2, before=page.older)
    assert seen == [r["id"] for r in everything]
    back = audit_trail.records(admin, f, per_page=2, after=page.newer)
    assert [r["id"] for r in back.rows] == seen[-len(page.rows) - 2:-len(page.rows)]


def test_an_export_too_large_is_refused_with_a_reason(world, acts, monkeypatch):
    """More records than a file holds: a clear refusal, not a silently cut file."""
    monkeypatch.setattr(audit_trail, "EXPORT_MAX", 2)
    with pytest.raises(ValidationError):
        audit_trail.export_rows(world.users["admin"], audit_trail.Filters())

