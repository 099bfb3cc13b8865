"""Fairness checks: each kind flags a planted pattern and leaves its honest
twin alone; explanations keep the flag listed, marked."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.services import clock
from app.services.checkout.checkouts import check_out
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.ledger import writer
from app.services.people.accounts import create_user
from app.services.points import entries
from app.services.points.awards import adjust_points, award_points
from app.services.reports import fairness
from tests.checkout_helpers import card_for, more_households, stocked
from tests.factories import PASSWORD
from tests.points_helpers import make_rule


@pytest.fixture
def rules(app, world):
    make_rule("QL-01", 2, category="勤劳致富")
    make_rule("KF-01", -2, category="扣分项")
    world.users["staff2"] = create_user(None, {"username": "staff2", "password": PASSWORD,
                                               "role": "staff", "region_id": world.v1.id})
    db.session.commit()


def give(world, user: str, households, code: str = "QL-01", days_late: int = 0):
    """One award to each household (repeats allowed), entered today by `user`."""
    today = clock.local_today()
    made = []
    for hh in households:
        made += award_points(world.users[user], {
            "household_ids": [hh.id], "rule_code": code,
            "occurred_on": (today - timedelta(days=days_late)).isoformat()})
    db.session.commit()
    return made


def kinds(world, user: str = "cadre", **data) -> list[tuple[str, str]]:
    return [(f["kind"], f["subject"]["name"]) for f in fairness.flags(world.users[user], data)]


def test_concentration(world, rules):
    many = more_households(world, 20)
    few = many[:3]
    # staff: 20 awards, 9 of them (45 %) to three households; staff2: 20 to 20 households.
    give(world, "staff", few * 3 + many[3:14])
    give(world, "staff2", many)
    flags = fairness.flags(world.users["cadre"], {})
    assert [(f["kind"], f["subject"]["name"]) for f in flags] == [("concentration", "staff")]
    flag = flags[0]
    assert (flag["value"], flag["threshold"], flag["entry_count"]) == (0.45, 0.4, 9)
    assert flag["entry_ids"] == sorted(flag["entry_ids"], reverse=True)
    assert "staff" in flag["explanation"] and "20" in flag["explanation"]
    # One award fewer to the three: 8 of 20 is still 40 %; 7 of 19 is not flagged.


def test_concentration_needs_twenty_awards(world, rules):
    hh = more_households(world, 2)
    give(world, "staff", hh * 9 + hh[:1])          # 19 awards, all to two households
    assert kinds(world) == []


def test_reversals(world, rules):
    many = more_households(world, 10)
    bad = give(world, "staff", many)
    good = give(world, "staff2", many)
    later = clock.local_today() + timedelta(days=10)
    now = clock.local_midnight(later)
    writer.post_due(now=now)
    db.session.commit()
    for e in bad[:3]:                               # 3 of 10: 30 %
        entries.reverse_entry(world.users["cadre"], e.id, {"reason": "不属实"}, now=now)
    entries.reverse_entry(world.users["cadre"], good[0].id, {"reason": "录错"}, now=now)   # 10 %
    db.session.commit()
    flags = fairness.flags(world.users["cadre"], {})
    assert [(f["kind"], f["subject"]["name"], f["value"]) for f in flags] == [("reversals", "staff", 0.3)]
    assert set(flags[0]["entry_ids"]) == {e.id for e in bad[:3]}


def test_rejections_count_as_reversals(world, rules):
    many = more_households(world, 10)
    made = give(world, "staff", many)
    for e in made[:3]:
        entries.raise_objection(world.users["cadre"], e.id, {"reason": "未参加"})
        entries.reject_entry(world.users["cadre"], e.id, {"reason": "核实未参加"})
    db.session.commit()
    assert kinds(world) == [("reversals", "staff")]


@pytest.mark.parametrize("data", [{}, "this-month"])
def test_withdrawals_are_not_reversals(world, rules, data):
    """Ten awards withdrawn by their author raise no reversals flag (neither in the days
    read from the ledger nor in the whole months kept in author_months); ten awards
    of which three a cadre rejected do."""
    if data == "this-month":
        today = clock.local_today()
        data = {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}
    many = more_households(world, 10)
    for e in give(world, "staff", many):
        entries.withdraw_entry(world.users["staff"], e.id, {"reason": "录错了"})
    db.session.commit()
    assert kinds(world, **data) == []
    made = give(world, "staff2", many)
    for e in made[:3]:
        entries.raise_objection(world.users["cadre"], e.id, {"reason": "未参加"})
        entries.reject_entry(world.users["cadre"], e.id, {"reason": "核实未参加"})
    db.session.commit()
    assert kinds(world, **data) == [("reversals", "staff2")]


def test_backdated(world, rules):
    many = more_households(world, 10)
    give(world, "staff", many[:5], days_late=20)     # half of 10, 20 days late
    give(world, "staff", many[5:])
    give(world, "staff2", many[:4], days_late=20)    # 4 of 10
    give(world, "staff2", many[4:])
    give(world, "staff2", many[:9], days_late=13)    # 13 days is not late
    assert kinds(world) == [("backdated", "staff")]


def test_deductions(world, rules):
    # 东坪村 (v1): 12 households; 10 deductions to one household: 100 % on ceil(12/10) = 2.
    v1 = more_households(world, 10)
    give(world, "staff", [v1[0]] * 10, code="KF-01")
    # 石门村 (v2): 10 deductions spread over 10 households: the top 1 carries 10 %.
    v2 = more_households(world, 10, village=world.v2)
    give(world, "staff_east", v2, code="KF-01")
    flags = fairness.flags(world.users["cadre"], {})
    assert [(f["kind"], f["subject"]["type"], f["subject"]["name"], f["value"]) for f in flags] == [
        ("deductions", "village", "东坪村", 1.0)]
    assert flags[0]["entry_count"] == 10


def test_no_card(world, rules):
    buyers = more_households(world, 2, village=world.v1)
    stocked(world, {"香皂": 100})
    for hh in buyers:
        adjust_points(world.users["admin"], hh.id, {"points": 1000, "reason": "期初余额"})
    db.session.commit()
    world.households["b0"], world.households["b1"] = buyers
    cards = [card_for(world, "b0"), card_for(world, "b1")]
    from tests.goods_helpers import load_products
    soap = load_products()["香皂"]

    def sell(user, card: str | None, hh):
        data = {"supermarket_id": world.sm_east.id, "lines": [{"product_id": soap.id, "quantity": 1}]}
        data.update({"card_payload": card} if card else {"household_id": hh.id})
        check_out(world.users[user], data)
        db.session.commit()

    for i in range(10):                               # volunteer: 3 of 10 without a card
        sell("volunteer", None if i < 3 else cards[0], buyers[0])
    for i in range(10):                               # admin: 2 of 10
        sell("admin", None if i < 2 else cards[1], buyers[1])
    assert kinds(world) == [("no-card", "volunteer")]


def test_no_card_counts_checkouts_recorded_without_a_card(world, rules):
    """The flag reads card_used (what the checkout recorded), not whether a card row is linked:
    3 of 10 recorded as made without a card is flagged, with those checkouts' ids."""
    from sqlalchemy import select, update
    from app.models import Checkout
    buyers = more_households(world, 1, village=world.v1)
    stocked(world, {"香皂": 100})
    adjust_points(world.users["admin"], buyers[0].id, {"points": 1000, "reason": "期初余额"})
    db.session.commit()
    world.households["b0"] = buyers[0]
    card = card_for(world, "b0")
    from tests.goods_helpers import load_products
    soap = load_products()["香皂"]
    for _i in range(10):
        check_out(world.users["volunteer"], {"supermarket_id": world.sm_east.id, "card_payload": card,
                                             "lines": [{"product_id": soap.id, "quantity": 1}]})
        db.session.commit()
    assert kinds(world) == []
    ids = db.session.scalars(select(Checkout.id).order_by(Checkout.id).limit(3)).all()
    db.session.execute(update(Checkout).where(Checkout.id.in_(ids)).values(card_used=False))
    db.session.commit()
    flags = fairness.flags(world.users["cadre"], {})
    assert [(f["kind"], f["subject"]["name"]) for f in flags] == [("no-card", "volunteer")]
    assert sorted(flags[0]["entry_ids"]) == ids and flags[0]["entry_count"] == 3


def test_explained_flags_stay_listed_marked(world, rules):
    hh = more_households(world, 1)
    give(world, "staff", hh * 20)
    flag = fairness.flags(world.users["cadre"], {})[0]
    today = clock.local_today()
    note = fairness.explain(world.users["cadre"], {
        "kind": "concentration", "subject_type": "user", "subject_id": flag["subject"]["id"],
        "from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(),
        "note": "该户为孤寡老人，本月集中帮扶"})
    db.session.commit()
    again = fairness.flags(world.users["cadre"], {})
    assert len(again) == 1 and again[0]["explained"]["note"] == note.note
    assert again[0]["explained"]["by"] == "cadre"
    with pytest.raises(ValidationError):
        fairness.explain(world.users["cadre"], {"kind": "other", "subject_type": "user",
                                                "subject_id": 1, "note": "x"})
    with pytest.raises(NotFound):
        fairness.explain(world.users["cadre_west"], {"kind": "deductions", "subject_type": "village",
                                                     "subject_id": world.v1.id, "note": "x"})


def test_who_sees_flags(world, rules):
    hh = more_households(world, 1)
    give(world, "staff", hh * 20)
    assert kinds(world, "admin") == [("concentration", "staff")]
    assert kinds(world, "cadre_west") == []           # the awards are in 东岭镇
    for user in ("staff", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            fairness.flags(world.users[user], {})
