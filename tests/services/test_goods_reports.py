"""The supermarket and donation reports against the hand-computed dataset of
tests/reports_helpers.py: two checkouts counted in the range (a third voided),
30 units of soap received in it, the opening stock received today (after it)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Donation, DonationLine, Donor, Lot, LotMovement
from app.services.checkout.checkouts import check_out, void_checkout
from app.services.errors import Forbidden, NotFound
from app.services.points.awards import adjust_points
from app.services.goods.writeoffs import write_off
from app.services.reports import goods
from tests.goods_helpers import receive
from tests.reports_helpers import Data, args, build_report_data, local_noon


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
    soap = data.products["香皂"]
    assert row == {"donor_id": world.donor.id, "name": "青山农商银行", "kind": "company",
                   "donations": 1, "units_in": 30, "value_in": 0.0, "cash_in": 0.0,
                   "points_in": 30 * soap.points_price,
                   "units_out": 2,          # 1 soap + 1 salt; the voided checkout counts nowhere
                   "households": 2, "villages": 2,
                   # The 30 soap of the range, followed to today: 1 redeemed 14 days after it came.
                   "given_units": 30, "given_points": 30 * soap.points_price, "given_redeemed": 1,
                   "given_remaining": 29, "given_redeemed_share": 0.0333, "median_days": 14.0,
                   "written_off": {"expired": 0, "damaged": 0, "lost": 0, "count": 0},
                   "written_off_units": 0, "written_off_share": 0.0, "expired_share": 0.0,
                   "top_written_off": [], "suggestion": None}
    assert goods.donations(world.users["cadre_west"], args(data), data.range) == []


def _gift_lots(donation_id: int) -> list[Lot]:
    db.session.expire_all()
    return list(db.session.scalars(select(Lot).join(DonationLine, DonationLine.id == Lot.donation_line_id)
                                   .where(DonationLine.donation_id == donation_id)))


def test_gifts_add_up_against_lot_movements_after_voids_and_writeoffs(world, data):
    """Write-offs by reason and a void: the donor's row says what the lots and
    their movements say, and an expired share of 10% earns the suggestion."""
    soap = data.products["香皂"]
    [gift] = db.session.scalars(select(Donation).where(
        Donation.received_on == data.m1 + timedelta(days=1))).all()
    volunteer = world.users["volunteer"]
    for n, reason in ((3, "expired"), (2, "damaged"), (1, "lost")):
        write_off(volunteer, world.sm_east.id, {"product_id": soap.id, "quantity": n, "reason": reason})
    void_checkout(world.users["cadre"], data.v1b_checkout.id, {"reason": "扫错"})
    db.session.commit()
    [row] = goods.donations(world.users["admin"], args(data), data.range)
    lots = _gift_lots(gift.id)
    moved = dict(db.session.execute(
        select(LotMovement.kind, func.sum(LotMovement.quantity))
        .where(LotMovement.lot_id.in_([lot.id for lot in lots])).group_by(LotMovement.kind)).all())
    assert row["given_units"] == sum(lot.quantity for lot in lots) == 30
    assert row["given_redeemed"] == moved["redemption"] - moved["return"] == sum(
        lot.redeemed for lot in lots) == 0
    assert row["written_off"] == {"expired": 3, "damaged": 2, "lost": 1, "count": 0}
    assert row["written_off_units"] == moved["writeoff"] == sum(lot.written_off for lot in lots) == 6
    assert row["given_remaining"] == sum(lot.remaining for lot in lots) == 24
    assert (row["written_off_share"], row["expired_share"]) == (0.2, 0.1)
    assert row["median_days"] is None            # the only redemption was voided
    assert row["top_written_off"] == [{"product_id": soap.id, "name": "香皂", "unit": soap.unit,
                                       "units": 6}]
    assert "香皂" in row["suggestion"]
    assert row["units_out"] == 1                 # the salt of the range; the soap's checkout is void


def test_median_days_to_redemption_by_hand(world, data):
    """Four units redeemed 2, 5, 5 and 20 days after their gift came: the median is
    5 (the mean would be 8); a voided checkout's unit counts nowhere. Sorted by
    speed this donor comes first (the other's soap took 14 days), and by amount
    given too (5 rice at 50 points outweigh 30 soap); with enough soap more, second."""
    rice = data.products["大米 5kg"]
    admin = world.users["admin"]
    donor = Donor(name="张大姐", kind="individual")
    db.session.add(donor)
    db.session.commit()
    came = data.m1 + timedelta(days=2)
    receive(world, [(rice, 5)], donor=donor, received_on=came.isoformat())
    for key in ("v1a", "v1b", "v2a"):
        adjust_points(admin, world.households[key].id, {"points": 500, "reason": "期初余额"},
                      now=local_noon(data.m0))
    db.session.commit()

    def sell(key, n, day):
        c = check_out(world.users["volunteer"], {
            "supermarket_id": world.sm_east.id, "household_id": world.households[key].id,
            "lines": [{"product_id": rice.id, "quantity": n}]}, now=local_noon(came + timedelta(days=day)))
        db.session.commit()
        return c
    voided = sell("v1a", 1, 1)
    void_checkout(world.users["cadre"], voided.id, {"reason": "扫错"},
                  now=local_noon(came + timedelta(days=1)))
    sell("v1a", 1, 2)
    sell("v1b", 2, 5)
    sell("v2a", 1, 20)
    rows = goods.donations(admin, args(data), data.range, "speed")
    assert [(r["name"], r["median_days"]) for r in rows] == [("张大姐", 5.0), ("青山农商银行", 14.0)]
    mine = rows[0]
    assert (mine["given_units"], mine["given_redeemed"], mine["given_remaining"]) == (5, 4, 1)
    assert mine["given_redeemed_share"] == 0.8 and mine["suggestion"] is None
    soap = data.products["香皂"]
    assert 5 * rice.points_price > 30 * soap.points_price
    assert [r["name"] for r in goods.donations(admin, args(data), data.range, "given")] == [
        "张大姐", "青山农商银行"]
    more = (5 * rice.points_price - 30 * soap.points_price) // soap.points_price + 1
    receive(world, [(soap, more)], received_on=came.isoformat())
    assert [r["name"] for r in goods.donations(admin, args(data), data.range, "given")] == [
        "青山农商银行", "张大姐"]
    assert goods._weighted_median({3: 1, 9: 1}) == 6.0 and goods._weighted_median({}) is None


def test_a_volunteer_sees_the_donors_of_their_supermarkets_only(world, data):
    rows, markets = goods.supermarket_donations(world.users["volunteer"], args(data), data.range)
    assert [m.name for m in markets] == ["东岭镇爱心超市"] and [r["name"] for r in rows] == ["青山农商银行"]
    rows, _ = goods.supermarket_donations(world.users["volunteer_west"], args(data), data.range)
    assert rows == []
    with pytest.raises(NotFound):
        goods.supermarket_donations(world.users["volunteer_west"],
                                    args(data, supermarket_id=world.sm_east.id), data.range)
    with pytest.raises(Forbidden):
        goods.supermarket_donations(world.users["donor"], args(data), data.range)
