"""The supermarket and donation reports against the hand-computed dataset of
tests/reports_helpers.py: two checkouts counted in the range (a third voided),
30 units of soap received in it, the opening stock received today (after it)."""
import pytest

from app.extensions import db
from app.services.errors import Forbidden
from app.services.goods.writeoffs import write_off
from app.services.reports import goods
from tests.reports_helpers import Data, args, build_report_data


@pytest.fixture
def data(app, world) -> Data:
    return build_report_data(world)


def test_supermarkets_by_hand(world, data):
    soap, salt = data.products["香皂"], data.products["食盐 400g"]
    found = goods.supermarkets(world.users["admin"], args(data), data.range)
    east, west = found["items"]
    assert east == {
        "supermarket_id": world.sm_east.id, "name": "东岭镇爱心超市",
        "checkouts": 2, "households": 2,                   # v1b, v2a; the void counts nowhere
        "points_redeemed": soap.points_price + salt.points_price, "units_out": 2,
        "units_in_stock": 79 + 49,                         # 50 + 30 - 1 soap, 50 - 1 salt
        "stock_value_points": 79 * soap.points_price + 49 * salt.points_price,
        "low_stock": 0}
    assert west["checkouts"] == 0 and west["units_in_stock"] == 0
    days = found["days"]                      # every day of the range, from its first
    assert days[0]["day"] == data.range.start.isoformat() and days[-1]["day"] == data.range.end.isoformat()
    assert {d["day"]: d["checkouts"] for d in days if d["checkouts"]} == {
        data.m1.replace(day=16).isoformat(): 1, data.m2.replace(day=6).isoformat(): 1}
    assert {p["name"]: p["units"] for p in found["products"]} == {"香皂": 1, "食盐 400g": 1}
    assert found["low"] == []


def test_low_stock_is_listed_once_below_the_threshold(world, data):
    salt = data.products["食盐 400g"]
    write_off(world.users["volunteer"], world.sm_east.id,
              {"product_id": salt.id, "quantity": 45, "reason": "damaged", "note": "受潮"})
    db.session.commit()
    found = goods.supermarkets(world.users["admin"], args(data), data.range)
    assert [(p["name"], p["units"], p["threshold"]) for p in found["low"]] == [
        ("食盐 400g", 4, salt.low_stock_threshold)]
    assert found["items"][0]["low_stock"] == 1


def test_a_cadre_sees_the_supermarkets_serving_their_region(world, data):
    found = goods.supermarkets(world.users["cadre_west"], {}, data.range)
    assert [r["name"] for r in found["items"]] == ["西坡乡爱心超市"]
    with pytest.raises(Forbidden):
        goods.supermarkets(world.users["volunteer"], {}, data.range)


def test_donations_in_and_out_by_donor(world, data):
    [row] = goods.donations(world.users["admin"], args(data), data.range)
    assert row == {"donor_id": world.donor.id, "name": "青山农商银行", "kind": "company",
                   "donations": 1, "units_in": 30, "value_in": 0.0, "cash_in": 0.0,
                   "units_out": 2,          # 1 soap + 1 salt; the voided checkout counts nowhere
                   "households": 2, "villages": 2}
    assert goods.donations(world.users["cadre_west"], args(data), data.range) == []
