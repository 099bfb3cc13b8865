"""The reports' test dataset, computed by hand: awards in three months, a
range that cuts the first and the last, a reversal, a rejected award, a
voided checkout, households exited before and during the range, one
registered after it."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import update

from app.extensions import db
from app.models import Household
from app.services import clock
from app.services.checkout.checkouts import check_out, void_checkout
from app.services.ledger import writer
from app.services.people.households import create_household, update_household
from app.services.points import entries
from app.services.points.awards import adjust_points, award_points
from app.services.reports.period import Period, month_of, months_back, next_month
from tests.checkout_helpers import stocked
from tests.goods_helpers import receive
from tests.points_helpers import make_rule


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=clock.local_zone())


def award_on(world, key: str, code: str, day: date, user: str = "admin"):
    actor = world.users[user]
    [entry] = award_points(actor, {"household_ids": [world.households[key].id], "rule_code": code,
                                   "occurred_on": day.isoformat()}, now=local_noon(day))
    db.session.commit()
    return entry


@dataclass
class Data:
    m0: date      # the first day of the month three months back
    m1: date
    m2: date
    range: Period
    products: dict


def build_report_data(world) -> Data:
    """The dataset; comments give what each household counts in the range."""
    today = clock.local_today()
    m0 = months_back(month_of(today), 3)
    m1, m2 = next_month(m0), next_month(next_month(m0))
    rng = Period(m0 + timedelta(days=14), m2 + timedelta(days=9))
    make_rule("QL-01", 10, category="勤劳致富")
    make_rule("HJ-01", 5, category="环境卫生")
    make_rule("KF-01", -3, category="扣分项")
    admin = world.users["admin"]
    world.households["v2x"] = create_household(admin, {"village_id": world.v2.id, "head_name": "赵某"})
    world.households["v3x"] = create_household(admin, {"village_id": world.v3.id, "head_name": "钱某"})
    db.session.commit()
    # Registered half a year ago, except v1new (today, after the range).
    db.session.execute(update(Household).values(created_at=clock.local_midnight(today - timedelta(days=200))))
    world.households["v1new"] = create_household(admin, {"village_id": world.v1.id, "head_name": "新户"})
    db.session.commit()

    # v1a: 10 (edge of m0) + 5 (m1) + 10 (edge of m2) earned, 3 deducted; two outside.
    award_on(world, "v1a", "QL-01", m0 + timedelta(days=4))      # before the range
    award_on(world, "v1a", "QL-01", m0 + timedelta(days=20))
    award_on(world, "v1a", "HJ-01", m1 + timedelta(days=2))
    award_on(world, "v1a", "KF-01", m1 + timedelta(days=5))
    award_on(world, "v1a", "QL-01", m2 + timedelta(days=3))
    award_on(world, "v1a", "QL-01", m2 + timedelta(days=15))     # after the range
    # v1b: an award reversed, an award rejected: nothing; one checkout of 8, one voided.
    reversed_ = award_on(world, "v1b", "QL-01", m1 + timedelta(days=10))
    writer.post_due(now=local_noon(m1 + timedelta(days=25)))
    entries.reverse_entry(world.users["cadre"], reversed_.id, {"reason": "重复录入"},
                          now=local_noon(m1 + timedelta(days=25)))
    rejected = award_on(world, "v1b", "HJ-01", m1 + timedelta(days=12))
    entries.raise_objection(world.users["cadre"], rejected.id, {"reason": "不属实"},
                            now=local_noon(m1 + timedelta(days=12)))
    entries.reject_entry(world.users["cadre"], rejected.id, {"reason": "核实不属实"},
                         now=local_noon(m1 + timedelta(days=13)))
    db.session.commit()
    # v2a: 10 on the edge of m0; a checkout of 6 on the edge of m2.
    award_on(world, "v2a", "QL-01", m0 + timedelta(days=16))
    # v3a: active before the range only.
    award_on(world, "v3a", "QL-01", m0 + timedelta(days=2))
    # v2x: exited before the range: not counted. v3x: exited during it: counted, 5.
    award_on(world, "v2x", "QL-01", m0 + timedelta(days=5))
    award_on(world, "v3x", "HJ-01", m1 + timedelta(days=3))
    for key, exited in (("v2x", m0 + timedelta(days=10)), ("v3x", m1 + timedelta(days=20))):
        update_household(admin, world.households[key].id, {"status": "exited"})
        world.households[key].exited_on = exited
    db.session.commit()

    products = stocked(world, {"香皂": 50, "食盐 400g": 50})
    receive(world, [(products["香皂"], 30)], received_on=(m1 + timedelta(days=1)).isoformat())
    for key in ("v1b", "v2a"):
        adjust_points(admin, world.households[key].id, {"points": 100, "reason": "期初余额"},
                      now=local_noon(m0))
    db.session.commit()
    soap, salt = products["香皂"], products["食盐 400g"]

    def sell(key, lines, day):
        c = check_out(world.users["volunteer"], {
            "supermarket_id": world.sm_east.id, "household_id": world.households[key].id,
            "lines": [{"product_id": p.id, "quantity": n} for p, n in lines]}, now=local_noon(day))
        db.session.commit()
        return c
    data = Data(m0, m1, m2, rng, products)
    data.v1b_checkout = sell("v1b", [(soap, 1)], m1 + timedelta(days=15))
    voided = sell("v1b", [(salt, 2)], m1 + timedelta(days=16))
    void_checkout(world.users["cadre"], voided.id, {"reason": "扫错"}, now=local_noon(m1 + timedelta(days=16)))
    db.session.commit()
    data.v2a_checkout = sell("v2a", [(salt, 1)], m2 + timedelta(days=5))
    writer.post_due()   # what the request boundary does on the next request
    db.session.commit()
    return data


def args(data: Data, **more) -> dict:
    return {"from": data.range.start.isoformat(), "to": data.range.end.isoformat(), **more}
