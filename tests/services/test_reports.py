"""The cadres' reports against the small dataset of tests/reports_helpers.py,
computed by hand."""
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Household
from app.services import clock
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.people.households import create_household, update_household
from app.services.reports import figures, period, visits
from app.services.reports.period import Period, month_of, months_back, next_month
from tests.points_helpers import make_rule
from tests.reports_helpers import Data, args, award_on, build_report_data


@pytest.fixture
def data(app, world) -> Data:
    return build_report_data(world)


def test_summary_counts_by_hand(world, data):
    soap, salt = data.products["香皂"], data.products["食盐 400g"]
    got = figures.summary(world.users["admin"], args(data), data.range)
    assert got == {
        "households": 5,                       # v1a v1b v2a v3a v3x
        "participating_households": 3,         # v1a v2a v3x
        "participation_rate": 0.6,
        "points_awarded": 40, "points_deducted": 3,
        "points_redeemed": soap.points_price + salt.points_price, "checkouts": 2,
        "households_redeeming": 2,
        "donations": 1, "goods_in": 30, "goods_out": 2,
        "since_start": {"checkouts": 2, "households_redeeming": 2},
    }


def test_top_rules_count_live_entries_in_the_range(world, data):
    """QL-01: v1a twice in the range and v2a once; HJ-01: v1a and v3x; the reversed and
    the rejected award of v1b count nowhere, nor do the awards outside the range."""
    assert figures.top_rules(world.users["admin"], args(data), data.range) == [
        {"rule_code": "QL-01", "name": "规则 QL-01", "category": "勤劳致富", "uses": 3, "points": 30},
        {"rule_code": "HJ-01", "name": "规则 HJ-01", "category": "环境卫生", "uses": 2, "points": 10},
        {"rule_code": "KF-01", "name": "规则 KF-01", "category": "扣分项", "uses": 1, "points": -3}]
    assert [r["rule_code"] for r in figures.top_rules(world.users["cadre_west"], {}, data.range)] == ["HJ-01"]


def test_engagement_rows_sum_to_the_summary(world, data):
    rows, total = figures.engagement(world.users["admin"], args(data), data.range)
    assert total == 5
    assert [(r["household_id"], r["earned"]) for r in rows] == [
        (world.households["v1a"].id, 25), (world.households["v2a"].id, 10),
        (world.households["v3x"].id, 5), (world.households["v1b"].id, 0),
        (world.households["v3a"].id, 0)]
    v1a = rows[0]
    assert (v1a["deducted"], v1a["redeemed"], v1a["awards"]) == (3, 0, 3)
    assert v1a["by_category"] == {"勤劳致富": 20, "环境卫生": 5, "扣分项": -3}
    assert v1a["last_award_on"] == data.m2 + timedelta(days=15)   # the latest, whatever the range
    v1b = rows[3]
    assert (v1b["redeemed"], v1b["awards"], v1b["by_category"]) == (data.products["香皂"].points_price, 0, {})
    assert v1b["last_redeemed_on"] == data.m1 + timedelta(days=15)   # the voided one is not it
    summary = figures.summary(world.users["admin"], args(data), data.range)
    assert sum(r["earned"] for r in rows) == summary["points_awarded"]
    assert sum(r["deducted"] for r in rows) == summary["points_deducted"]
    assert sum(r["redeemed"] for r in rows) == summary["points_redeemed"]


def test_engagement_sorts_and_filters(world, data):
    admin = world.users["admin"]
    rows, _ = figures.engagement(admin, args(data), data.range, sort="last_award_on")
    # Never awarded first (none here: v1b's award was reversed, so it has none), then oldest.
    assert [r["household_id"] for r in rows][0] == world.households["v1b"].id
    assert rows[1]["household_id"] == world.households["v3a"].id
    rows, total = figures.engagement(admin, args(data, village_id=str(world.v1.id)), data.range)
    assert total == 2 and {r["household_id"] for r in rows} == {
        world.households["v1a"].id, world.households["v1b"].id}
    update_household(admin, world.households["v2a"].id, {"tags": ["低保"]})
    db.session.commit()
    rows, total = figures.engagement(admin, args(data, tag="低保"), data.range)
    assert total == 1 and rows[0]["household_id"] == world.households["v2a"].id
    with pytest.raises(ValidationError):
        figures.engagement(admin, args(data, tag="不存在"), data.range)
    page, total = figures.engagement(admin, args(data), data.range, page=2, per_page=2)
    assert total == 5 and [r["earned"] for r in page] == [5, 0]


def test_villages_side_by_side(world, data):
    rows = figures.villages(world.users["admin"], args(data), data.range)
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["石门村", "东坪村", "西沟村"]
    assert by_name["石门村"] | {} == {
        "village_id": world.v2.id, "name": "石门村", "households": 1,
        "participating_households": 1, "participation_rate": 1.0, "points_awarded": 10,
        "points_deducted": 0, "points_redeemed": data.products["食盐 400g"].points_price,
        "checkouts": 1, "awarded_per_household": 10.0, "rank": 1}
    assert (by_name["东坪村"]["participation_rate"], by_name["东坪村"]["awarded_per_household"],
            by_name["东坪村"]["rank"]) == (0.5, 12.5, 2)
    assert (by_name["西沟村"]["households"], by_name["西沟村"]["awarded_per_household"],
            by_name["西沟村"]["rank"]) == (2, 2.5, 3)


def test_ranking_shares_places_and_puts_empty_villages_last():
    rows = [{"village_id": i, "participation_rate": rate, "awarded_per_household": per}
            for i, rate, per in ((1, 0.5, 3.0), (2, None, None), (3, 0.5, 3.0), (4, 0.9, 1.0),
                                 (5, 0.5, 2.0))]
    ranked = figures.rank(rows)
    assert [(r["village_id"], r["rank"]) for r in ranked] == [(4, 1), (1, 2), (3, 2), (5, 4), (2, 5)]


def test_trends_by_month(world, data):
    rows = figures.trends(world.users["admin"], args(data), data.range)
    salt, soap = data.products["食盐 400g"].points_price, data.products["香皂"].points_price
    assert rows == [
        {"month": data.m0.strftime("%Y-%m"), "points_awarded": 20, "points_deducted": 0,
         "points_redeemed": 0, "checkouts": 0, "participating_households": 2,
         "by_category": {"勤劳致富": 20}},
        {"month": data.m1.strftime("%Y-%m"), "points_awarded": 10, "points_deducted": 3,
         "points_redeemed": soap, "checkouts": 1, "participating_households": 2,
         "by_category": {"扣分项": -3, "环境卫生": 10}},
        {"month": data.m2.strftime("%Y-%m"), "points_awarded": 10, "points_deducted": 0,
         "points_redeemed": salt, "checkouts": 1, "participating_households": 1,
         "by_category": {"勤劳致富": 10}},
    ]


def test_whole_months_read_the_same_as_the_ledger(world, data):
    """A range of whole months (read from the totals) and the same days as edges
    (read from the ledger) give the same figures."""
    whole = Period(data.m0, next_month(data.m2) - timedelta(days=1))
    assert whole.edges() == [] and whole.whole_months() == (data.m0, data.m2)
    admin = world.users["admin"]
    from_totals = figures.trends(admin, {}, whole)
    days = [Period(data.m0, data.m0 + timedelta(days=20)),
            Period(data.m0 + timedelta(days=21), next_month(data.m0) - timedelta(days=1))]
    by_days = [figures.summary(admin, {}, p)["points_awarded"] for p in days]
    assert sum(by_days) == from_totals[0]["points_awarded"] == 50   # v1a 2, v2a, v3a, v2x


def test_scopes(world, data):
    west = figures.summary(world.users["cadre_west"], {}, data.range)
    assert west["households"] == 2 and west["points_awarded"] == 5
    staff = figures.summary(world.users["staff"], {}, data.range)   # 东坪村 only
    assert staff["households"] == 2 and staff["points_awarded"] == 25
    with pytest.raises(NotFound):
        figures.summary(world.users["cadre_west"], {"region_id": str(world.v1.id)}, data.range)
    with pytest.raises(NotFound):
        figures.engagement(world.users["staff"], {"village_id": str(world.v2.id)}, data.range)
    east = figures.villages(world.users["cadre"], {"region_id": str(world.east.id)}, data.range)
    assert {r["name"] for r in east} == {"东坪村", "石门村"}
    for name in ("volunteer", "donor"):
        with pytest.raises(Forbidden):
            figures.summary(world.users[name], {}, data.range)
        with pytest.raises(Forbidden):
            visits.inactive(world.users[name], {})


def test_range_rules(app):
    today = clock.local_today()
    assert period.parse({}) == Period(today - timedelta(days=29), today)
    assert period.parse({}, default="months").start == months_back(month_of(today), 11)
    assert period.parse({"from": "2026-01-01", "to": "2030-12-31"}).end == date(2030, 12, 31)
    for bad in ({"from": "2026-03-02", "to": "2026-03-01"}, {"from": "2021-01-01", "to": "2026-01-01"},
                {"from": "2026-02-30"}, {"to": "yesterday"}):
        with pytest.raises(ValidationError):
            period.parse(bad)


def test_period_edges():
    p = Period(date(2026, 1, 15), date(2026, 4, 10))
    assert p.whole_months() == (date(2026, 2, 1), date(2026, 3, 1))
    assert p.edges() == [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 4, 1), date(2026, 4, 10))]
    inside = Period(date(2026, 2, 3), date(2026, 2, 20))
    assert inside.whole_months() is None and inside.edges() == [(date(2026, 2, 3), date(2026, 2, 20))]
    across = Period(date(2026, 1, 20), date(2026, 2, 5))
    assert across.edges() == [(date(2026, 1, 20), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 5))]
    assert months_back(date(2026, 5, 31), 3) == date(2026, 2, 28)


# -- needs a visit ------------------------------------------------------------------------

def test_needs_a_visit(app, world):
    """months=1: quiet since the same day last month; deductions are not
    activity; a visit in the window takes a household off the list."""
    make_rule("QL-01", 10, category="勤劳致富")
    make_rule("KF-01", -3, category="扣分项")
    admin = world.users["admin"]
    today = clock.local_today()
    db.session.execute(update(Household).values(created_at=clock.local_midnight(today - timedelta(days=300))))
    db.session.commit()
    # v1a: awarded 10 days ago: active. v1b: awarded 25 days ago but only... see below.
    for key, days in (("v1a", 10), ("v1b", 45), ("v3a", 29)):
        award_on(world, key, "QL-01", today - timedelta(days=days))
    award_on(world, "v2a", "KF-01", today - timedelta(days=3))       # a deduction only
    fresh = create_household(admin, {"village_id": world.v1.id, "head_name": "新户"})
    db.session.commit()
    since = months_back(today, 1)
    rows, total, got_since = visits.inactive(world.users["cadre"], {"months": "1"})
    assert got_since == since
    expected_quiet = [k for k, d in (("v1b", 45), ("v3a", 29)) if today - timedelta(days=d) < since]
    # Never active first (by id), then the longest quiet.
    assert [r["household_id"] for r in rows] == (
        [world.households["v2a"].id, fresh.id] + [world.households[k].id for k in expected_quiet])
    assert total == len(rows)
    assert rows[0]["last_award_on"] is None and rows[0]["created_on"] == today - timedelta(days=300)
    visit = visits.record_visit(world.users["staff"], world.households["v1b"].id,
                                {"visited_on": (today - timedelta(days=2)).isoformat(), "note": "家中无人"})
    db.session.commit()
    rows, _, _ = visits.inactive(world.users["cadre"], {"months": "1"})
    assert world.households["v1b"].id not in [r["household_id"] for r in rows]
    assert visits.visits_of(world.users["staff"], world.households["v1b"]) == [visit]
    # Quiet for three months counts it again after a visit older than the window.
    older = visits.inactive(world.users["cadre"], {"months": "24"})[0]
    assert {r["household_id"] for r in older} == {world.households["v2a"].id, fresh.id}
    for bad in ({"visited_on": (today + timedelta(days=1)).isoformat()}, {"visited_on": "x"}, {}):
        with pytest.raises(ValidationError):
            visits.record_visit(world.users["staff"], world.households["v1a"].id, bad)
    with pytest.raises(NotFound):
        visits.record_visit(world.users["staff"], world.households["v3a"].id,
                            {"visited_on": today.isoformat()})
    with pytest.raises(ValidationError):
        visits.inactive(world.users["cadre"], {"months": "25"})


def test_exit_date_is_recorded(app, world):
    admin = world.users["admin"]
    hh = update_household(admin, world.households["v1a"].id, {"status": "exited"})
    db.session.commit()
    assert hh.exited_on == clock.local_today()
    hh = update_household(admin, world.households["v1a"].id, {"status": "active"})
    db.session.commit()
    assert hh.exited_on is None


def test_ledger_check_holds_the_kept_days(world, data):
    """The writer kept every household's last award and redemption through
    reversals, rejections and a void; the check sees a wrong one."""
    from app.services.invariants import check_invariants

    assert [str(v) for v in check_invariants()] == []
    v1a = world.households["v1a"]
    db.session.execute(update(Household).where(Household.id == v1a.id).values(last_award_on=None))
    found = [str(v) for v in check_invariants()]
    assert len(found) == 1 and f"household {v1a.id}: last award None" in found[0]


def test_a_month_read_from_totals_or_from_the_ledger_agrees(world, data):
    """The same month, whole (from the totals) and cut in two ranges (read
    from the ledger), gives the same figures and categories."""
    admin = world.users["admin"]
    end = next_month(data.m1) - timedelta(days=1)
    [whole] = figures.trends(admin, {}, Period(data.m1, end))
    halves = [figures.trends(admin, {}, p)[0] for p in (Period(data.m1, data.m1 + timedelta(days=9)),
                                                          Period(data.m1 + timedelta(days=10), end))]
    for key in ("points_awarded", "points_deducted", "points_redeemed", "checkouts"):
        assert whole[key] == sum(h[key] for h in halves), key
    merged: dict = {}
    for h in halves:
        for category, points in h["by_category"].items():
            merged[category] = merged.get(category, 0) + points
    assert whole["by_category"] == merged == {"环境卫生": 10, "扣分项": -3}
