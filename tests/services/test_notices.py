"""The village notice: which entries it lists, the deadline and the ranking."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.services.points import notices
from app.services.ledger import writer as posting
from app.services.errors import NotFound
from app.services import clock
from app.services.points import entries
from tests.points_helpers import at, award, make_rule


def test_ranking_ties_reversals_and_deadline(world):
    """Equal totals share a rank, reversed and cancelled entries do not count, and the deadline is the latest notice end."""
    make_rule("A", 5)
    make_rule("B", 3)
    make_rule("D", -2)
    award(world, "staff", ["v1a", "v1b"], "A")
    award(world, "staff", ["v1a"], "D")
    award(world, "staff", ["v1b"], "D")
    old = award(world, "staff", ["v1a"], "B", now=at(-5))[0]
    posting.post_due()
    entries.reverse_entry(world.users["cadre"], old.id, {"reason": "错了"})
    cancelled = award(world, "staff", ["v1b"], "B")[0]
    entries.raise_objection(world.users["staff"], cancelled.id, {"reason": "x"})
    entries.reject_entry(world.users["cadre"], cancelled.id, {"reason": "y"})
    award(world, "staff_east", ["v2a"], "A")
    db.session.commit()
    notice = notices.village_notice(world.v1.id)
    states = {(r.name, r.points): r.state for r in notice.rows}
    month_start = clock.local_today().replace(day=1)
    if old.occurred_on >= month_start:
        assert states[("杜*梅", 3)] == "reversed"
    assert ("王*", 3) not in states            # cancelled: never on the notice
    assert "钟*英" not in {r.name for r in notice.rows}
    assert [(r.rank, r.name, r.points) for r in notice.ranking] == [(1, "杜*梅", 3), (1, "王*", 3)]
    assert notice.deadline == clock.local_today() + timedelta(days=3)
    assert notice.awarded == 10 and notice.deducted == 4


def test_month_outside_range_is_not_found(world):
    """A future month, a malformed month or a region that is not a village: not found."""
    for village, month in ((world.v1.id, "2999-01"), (world.v1.id, "2026-13"), (world.v1.id, "x"),
                           (world.east.id, None)):
        with pytest.raises(NotFound):
            notices.village_notice(village, month)


def test_notice_rows_carry_the_household_digits_and_leave_withdrawals_out(world):
    """Each row and ranking line has the last 4 digits of its household code; a withdrawn
    award is not on the notice and not in the ranking."""
    make_rule("A", 5)
    kept, gone = award(world, "staff", ["v1a", "v1b"], "A")
    entries.withdraw_entry(world.users["staff"], gone.id, {"reason": "录错户"})
    db.session.commit()
    notice = notices.village_notice(world.v1.id)
    code = world.households["v1a"].code
    assert [(r.name, r.household_no) for r in notice.rows] == [("杜*梅", code[-4:])]
    assert [(r.name, r.household_no, r.points) for r in notice.ranking] == [("杜*梅", code[-4:], 5)]
    assert notices.household_digits("0012-12345") == "2345"


def test_public_villages_grouped_by_township(world):
    """Active villages, grouped under their township, townships and villages by name."""
    world.v2.active = False
    db.session.commit()
    groups = notices.public_villages()
    assert [(g.township.name, g.places, [v.name for v in g.villages]) for g in groups] == [
        ("东岭镇", ["青山县"], ["东坪村"]), ("西坡乡", ["青山县"], ["西沟村"])]
