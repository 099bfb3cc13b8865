"""Donations, lots and every movement out of a lot (invariant 3), at the service layer."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditRecord, Donation, DonationLine, Lot, LotMovement, Stocktake, Writeoff,
)
from app.services.goods import donations
from app.services.errors import (
    Conflict, Forbidden, InsufficientStock, NotFound, ValidationError,
)
from app.services.invariants import check_invariants
from app.services import clock
from app.services.goods import levels
from app.services.goods import lots
from app.services.goods import stocktakes
from app.services.goods import transfers
from app.services.goods import writeoffs
from tests.factories import count
from tests.goods_helpers import assert_lots_balance, level, load_products, lots_of, receive, redeem


@pytest.fixture
def products(world):
    return load_products()


def days_ago(n: int) -> str:
    return (clock.local_today() - timedelta(days=n)).isoformat()


def test_each_line_becomes_a_lot(world, products):
    """Receiving a donation makes one lot per line, full, with the donor and the line named."""
    rice, oil = products["大米 5kg"], products["食用油 5L"]
    d = receive(world, [(rice, 10), (oil, 4)])
    assert d.receipt_no and d.receipt_no.startswith("JZ")
    lots = db.session.scalars(select(Lot).order_by(Lot.id)).all()
    assert [(lot.product_id, lot.quantity, lot.remaining) for lot in lots] == [(rice.id, 10, 10), (oil.id, 4, 4)]
    assert {lot.donor_id for lot in lots} == {world.donor.id}
    assert [lot.donation_line_id for lot in lots] == [line.id for line in d.lines]
    assert level(world.sm_east, rice) == 10
    assert db.session.scalar(select(AuditRecord).where(AuditRecord.action == "donation.receive")).user_id \
        == world.users["volunteer"].id
    assert_lots_balance()


def test_write_off_takes_the_oldest_lots_first(world, products):
    """A write-off empties the oldest lot (by date received) before touching newer ones."""
    soap = products["香皂"]
    receive(world, [(soap, 5)], received_on=days_ago(1))
    receive(world, [(soap, 5)], received_on=days_ago(10))
    receive(world, [(soap, 5)], received_on=days_ago(5))
    w = writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                        {"product_id": soap.id, "quantity": 7, "reason": "damaged"})
    db.session.commit()
    newest, oldest, middle = lots_of(world.sm_east, soap)
    assert (oldest.remaining, oldest.written_off) == (0, 5)
    assert (middle.remaining, middle.written_off) == (3, 2)
    assert (newest.remaining, newest.written_off) == (5, 0)
    moves = db.session.scalars(select(LotMovement).where(LotMovement.writeoff_id == w.id)
                               .order_by(LotMovement.id)).all()
    assert [(m.lot_id, m.quantity, m.kind) for m in moves] == \
        [(oldest.id, 5, "writeoff"), (middle.id, 2, "writeoff")]
    assert level(world.sm_east, soap) == 8
    assert_lots_balance()


def test_write_off_beyond_stock_changes_nothing(world, products):
    """Asking for more than the stock is InsufficientStock, and no lot or record changes."""
    soap = products["香皂"]
    receive(world, [(soap, 3)])
    receive(world, [(soap, 2)])
    with pytest.raises(InsufficientStock):
        writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                        {"product_id": soap.id, "quantity": 6, "reason": "lost"})
    db.session.rollback()
    assert level(world.sm_east, soap) == 5
    assert count(Writeoff) == 0 and count(LotMovement) == 0
    # Nothing at all of a product this supermarket never had.
    with pytest.raises(InsufficientStock):
        writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                        {"product_id": products["棉被"].id, "quantity": 1, "reason": "lost"})
    db.session.rollback()


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2.5", "abc", None, True, [], 10**9])
def test_write_off_refuses_bad_quantities(world, products, quantity):
    """A write-off quantity must be a positive whole number: anything else is a 422 and nothing moves."""
    soap = products["香皂"]
    receive(world, [(soap, 5)])
    with pytest.raises(ValidationError) as err:
        writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                        {"product_id": soap.id, "quantity": quantity, "reason": "damaged"})
    assert "quantity" in err.value.errors
    db.session.rollback()
    assert level(world.sm_east, soap) == 5 and count(Writeoff) == 0


def test_write_off_needs_a_known_product_and_reason(world, products):
    """Unknown product ids and reasons outside the list are validation errors."""
    with pytest.raises(ValidationError) as err:
        writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                        {"product_id": 99999, "quantity": 1, "reason": "stolen"})
    assert set(err.value.errors) == {"product_id", "reason"}


def test_write_off_scope(world, products):
    """Volunteers write off only at their own supermarket (404 elsewhere); cadres, staff and donors may not (403)."""
    soap = products["香皂"]
    receive(world, [(soap, 5)])
    body = {"product_id": soap.id, "quantity": 1, "reason": "damaged"}
    with pytest.raises(NotFound):
        writeoffs.write_off(world.users["volunteer_west"], world.sm_east.id, body)
    for user in ("cadre", "staff", "donor"):
        with pytest.raises(Forbidden):
            writeoffs.write_off(world.users[user], world.sm_east.id, body)
    writeoffs.write_off(world.users["admin"], world.sm_east.id, body)
    db.session.commit()
    assert level(world.sm_east, soap) == 4


def test_transfer_keeps_each_units_origin(world, products):
    """A transfer makes lots at the receiving supermarket that name their source lot, donor and donation line."""
    soap = products["香皂"]
    other = donations.create_donor(None, {"name": "爱心人士 李明", "kind": "person"})
    db.session.commit()
    a = receive(world, [(soap, 3)], received_on=days_ago(3))
    b = receive(world, [(soap, 4)], donor=other, received_on=days_ago(1))
    t = transfers.transfer_stock(world.users["volunteer"], {
        "from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
        "product_id": soap.id, "quantity": 5, "note": "西坡缺货"})
    db.session.commit()
    east_a, east_b = lots_of(world.sm_east, soap)
    assert (east_a.remaining, east_a.transferred_out) == (0, 3)
    assert (east_b.remaining, east_b.transferred_out) == (2, 2)
    west = lots_of(world.sm_west, soap)
    assert [(lot.source_lot_id, lot.donor_id, lot.donation_line_id, lot.quantity, lot.transfer_id)
            for lot in west] == [(east_a.id, world.donor.id, a.lines[0].id, 3, t.id),
                                 (east_b.id, other.id, b.lines[0].id, 2, t.id)]
    # The units keep their age, so the oldest still go first at the new place.
    assert west[0].received_on == east_a.received_on
    assert level(world.sm_east, soap) == 2 and level(world.sm_west, soap) == 5
    assert_lots_balance()


def test_transfer_refusals(world, products):
    """Transfers need another, existing supermarket and enough stock; a volunteer sends only from their own."""
    soap = products["香皂"]
    receive(world, [(soap, 2)])
    body = {"from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_east.id,
            "product_id": soap.id, "quantity": 1}
    with pytest.raises(ValidationError) as err:
        transfers.transfer_stock(world.users["volunteer"], body)
    assert "to_supermarket_id" in err.value.errors
    with pytest.raises(ValidationError):
        transfers.transfer_stock(world.users["volunteer"], {**body, "to_supermarket_id": 9999})
    with pytest.raises(InsufficientStock):
        transfers.transfer_stock(world.users["volunteer"], {**body, "to_supermarket_id": world.sm_west.id,
                                                        "quantity": 3})
    db.session.rollback()
    with pytest.raises(NotFound):
        transfers.transfer_stock(world.users["volunteer_west"], {**body, "to_supermarket_id": world.sm_west.id})
    assert count(Lot) == 1


def test_checkout_takes_and_void_returns_to_the_same_lots(world, products):
    """A redemption records household and village per lot; return_for_void gives each unit back to its lot, once."""
    rice = products["大米 5kg"]
    receive(world, [(rice, 2)], received_on=days_ago(2))
    receive(world, [(rice, 5)], received_on=days_ago(1))
    hh = world.households["v1a"]
    redeem(world.users["volunteer"], world.sm_east.id, rice.id, 4,
                            household=hh, checkout_id=77)
    db.session.commit()
    taken = db.session.scalars(select(LotMovement).where(LotMovement.checkout_id == 77)
                               .order_by(LotMovement.id)).all()
    assert [(m.quantity, m.household_id, m.village_id, m.kind) for m in taken] == \
        [(2, hh.id, hh.village_id, "redemption"), (2, hh.id, hh.village_id, "redemption")]
    old, new = lots_of(world.sm_east, rice)
    assert (old.remaining, old.redeemed, new.remaining, new.redeemed) == (0, 2, 3, 2)
    assert_lots_balance()
    back = lots.return_for_void(world.users["admin"], 77)
    db.session.commit()
    assert sorted((m.lot_id, m.quantity) for m in back) == [(old.id, 2), (new.id, 2)]
    old, new = lots_of(world.sm_east, rice)
    assert (old.remaining, old.redeemed, new.remaining, new.redeemed) == (2, 0, 5, 0)
    assert lots.return_for_void(world.users["admin"], 77) == []
    assert_lots_balance()
    with pytest.raises(InsufficientStock):
        redeem(None, world.sm_east.id, rice.id, 8, household=hh)


def test_stocktake_count_review_finalize(world, products):
    """A volunteer counts and submits; only a cadre or admin finalizes: a shortage is a count write-off, a surplus a new lot."""
    soap, towel, quilt = products["香皂"], products["毛巾"], products["棉被"]
    receive(world, [(soap, 10), (towel, 5)])
    vol = world.users["volunteer"]
    st = stocktakes.start_stocktake(vol, world.sm_east.id, {"note": "月底盘点"})
    with pytest.raises(Conflict):
        stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [
        {"product_id": soap.id, "counted": 8}, {"product_id": towel.id, "counted": 5},
        {"product_id": quilt.id, "counted": 2}]})
    db.session.commit()
    assert {line.product_id: (line.expected, line.counted) for line in st.lines} == \
        {soap.id: (10, 8), towel.id: (5, 5), quilt.id: (0, 2)}
    with pytest.raises(Conflict):
        stocktakes.finalize_stocktake(world.users["admin"], st.id)  # not submitted yet
    stocktakes.submit_stocktake(vol, st.id)
    db.session.commit()
    with pytest.raises(Forbidden):
        stocktakes.finalize_stocktake(vol, st.id)
    with pytest.raises(NotFound):
        stocktakes.finalize_stocktake(world.users["cadre_west"], st.id)
    stocktakes.finalize_stocktake(world.users["cadre"], st.id, {"note": "核对无误"})
    db.session.commit()
    assert st.status == "finalized" and st.decided_by_id == world.users["cadre"].id
    assert level(world.sm_east, soap) == 8 and level(world.sm_east, towel) == 5
    w = db.session.scalar(select(Writeoff).where(Writeoff.stocktake_id == st.id))
    assert (w.product_id, w.quantity, w.reason, w.created_by_id) == (soap.id, 2, "count", world.users["cadre"].id)
    (surplus,) = lots_of(world.sm_east, quilt)
    assert (surplus.quantity, surplus.stocktake_id, surplus.donor_id, surplus.donation_line_id) == (2, st.id, None, None)
    with pytest.raises(Conflict):
        stocktakes.finalize_stocktake(world.users["admin"], st.id)  # only once
    assert_lots_balance()


def test_stocktake_reopen_and_cancel(world, products):
    """A reviewer can send a count back or cancel it; cancelling changes no stock."""
    soap = products["香皂"]
    receive(world, [(soap, 4)])
    vol = world.users["volunteer"]
    st = stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": soap.id, "counted": 1}]})
    stocktakes.submit_stocktake(vol, st.id)
    stocktakes.reopen_stocktake(world.users["admin"], st.id, {"note": "请复盘"})
    assert st.status == "counting"
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": soap.id, "counted": 3}]})
    assert [line.counted for line in st.lines] == [3]
    stocktakes.cancel_stocktake(vol, st.id)
    db.session.commit()
    assert st.status == "cancelled" and level(world.sm_east, soap) == 4
    with pytest.raises(ValidationError):
        st2 = stocktakes.start_stocktake(vol, world.sm_east.id)
        stocktakes.record_counts(vol, st2.id, {"counts": [{"product_id": soap.id, "counted": -1}]})


def test_shortage_larger_than_stock_left_is_refused(world, products):
    """If units were sold after counting, a shortage no longer in stock is a 409 and nothing is adjusted."""
    soap = products["香皂"]
    receive(world, [(soap, 5)])
    vol = world.users["volunteer"]
    st = stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": soap.id, "counted": 0}]})
    stocktakes.submit_stocktake(vol, st.id)
    writeoffs.write_off(vol, world.sm_east.id, {"product_id": soap.id, "quantity": 2, "reason": "damaged"})
    db.session.commit()
    with pytest.raises(InsufficientStock):
        stocktakes.finalize_stocktake(world.users["admin"], st.id)
    db.session.rollback()
    assert db.session.get(Stocktake, st.id).status == "submitted"
    assert level(world.sm_east, soap) == 3


def test_lot_arithmetic_after_every_kind_of_movement(world, products):
    """After receipts, redemptions, voids, write-offs, transfers (twice over) and a stocktake, every lot balances."""
    rice = products["大米 5kg"]
    receive(world, [(rice, 20)], received_on=days_ago(4))
    receive(world, [(rice, 7)], received_on=days_ago(2))
    vol, admin = world.users["volunteer"], world.users["admin"]
    redeem(vol, world.sm_east.id, rice.id, 6, household=world.households["v1a"], checkout_id=1)
    assert_lots_balance()
    writeoffs.write_off(vol, world.sm_east.id, {"product_id": rice.id, "quantity": 3, "reason": "expired"})
    assert_lots_balance()
    transfers.transfer_stock(vol, {"from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
                               "product_id": rice.id, "quantity": 14})
    assert_lots_balance()
    redeem(None, world.sm_west.id, rice.id, 5, household=world.households["v3a"], checkout_id=2)
    transfers.transfer_stock(admin, {"from_supermarket_id": world.sm_west.id, "to_supermarket_id": world.sm_east.id,
                                 "product_id": rice.id, "quantity": 4})
    assert_lots_balance()
    lots.return_for_void(admin, 1)
    assert_lots_balance()
    st = stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": rice.id, "counted": 15}]})
    stocktakes.submit_stocktake(vol, st.id)
    stocktakes.finalize_stocktake(admin, st.id)
    db.session.commit()
    assert_lots_balance()
    assert level(world.sm_east, rice) == 15 and level(world.sm_west, rice) == 5
    total = db.session.execute(select(func.sum(Lot.remaining), func.sum(Lot.redeemed),
                                      func.sum(Lot.written_off))).one()
    assert tuple(total) == (20, 5, 3)
    assert check_invariants() == []


def test_ledger_check_reports_lot_violations(world, products):
    """flask ledger check finds a lot whose counters disagree with its movements, or a donation line whose lots do not add up."""
    rice = products["大米 5kg"]
    d = receive(world, [(rice, 5)])
    lot = lots_of(world.sm_east, rice)[0]
    db.session.add(LotMovement(lot_id=lot.id, kind="redemption", quantity=1,
                               household_id=world.households["v1a"].id, village_id=world.v1.id))
    db.session.execute(DonationLine.__table__.update().where(DonationLine.id == d.lines[0].id)
                       .values(quantity=6))
    db.session.commit()
    messages = [str(v) for v in check_invariants()]
    assert any(f"lot {lot.id}: counters" in m for m in messages), messages
    assert any(f"donation line {d.lines[0].id}: quantity 6 but its lots hold 5" in m for m in messages)
    assert all(m.startswith("invariant 3") for m in messages)


def test_the_database_refuses_an_unbalanced_lot(world, products):
    """Invariant 3 is also a CHECK constraint: a lot cannot be written with remaining below zero or out of balance."""
    from sqlalchemy.exc import IntegrityError
    rice = products["大米 5kg"]
    receive(world, [(rice, 5)])
    lot = lots_of(world.sm_east, rice)[0]
    for values in ({"remaining": -1, "written_off": 6}, {"remaining": 4}):
        with pytest.raises(IntegrityError):
            db.session.execute(Lot.__table__.update().where(Lot.id == lot.id).values(**values))
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize("line,field", [
    ({"quantity": 0}, "lines.0.quantity"), ({"quantity": -2}, "lines.0.quantity"),
    ({"quantity": 1.5}, "lines.0.quantity"), ({"quantity": "x"}, "lines.0.quantity"),
    ({"product_id": 99999}, "lines.0.product_id"), ({"product_id": "abc"}, "lines.0.product_id"),
    ({"unit_value": "-3"}, "lines.0.unit_value"), ({"unit_value": "1.234"}, "lines.0.unit_value"),
])
def test_bad_donation_lines_write_nothing(world, products, line, field):
    """A bad line (quantity, product, value) refuses the whole donation with a field error."""
    body = {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
            "lines": [{"product_id": products["香皂"].id, "quantity": 2, **line}]}
    with pytest.raises(ValidationError) as err:
        donations.receive_donation(world.users["volunteer"], body)
    assert field in err.value.errors and "lines" in err.value.errors
    db.session.rollback()
    assert count(Donation) == 0 and count(Lot) == 0


def test_donation_refusals(world, products):
    """Unknown donors, retired products, empty lines and future dates are refused; another supermarket is 404."""
    soap = products["香皂"]
    vol = world.users["volunteer"]
    good = {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
            "lines": [{"product_id": soap.id, "quantity": 1}]}
    for bad, field in (({"donor_id": 4242}, "donor_id"), ({"lines": []}, "lines"),
                       ({"received_on": (clock.local_today() + timedelta(days=1)).isoformat()}, "received_on"),
                       ({"received_on": "2026-13-01"}, "received_on"), ({"supermarket_id": None}, "supermarket_id"),
                       ({"donor_id": None}, "donor_id")):
        with pytest.raises(ValidationError) as err:
            donations.receive_donation(vol, {**good, **bad})
        assert field in err.value.errors, (bad, err.value.errors)
    from app.services.goods.products import set_product_active
    set_product_active(None, soap.id, False)
    with pytest.raises(ValidationError) as err:
        donations.receive_donation(vol, good)
    assert "lines.0.product_id" in err.value.errors
    set_product_active(None, soap.id, True)
    with pytest.raises(NotFound):
        donations.receive_donation(vol, {**good, "supermarket_id": world.sm_west.id})
    with pytest.raises(Forbidden):
        donations.receive_donation(world.users["cadre"], good)
    db.session.rollback()
    assert count(Donation) == 0


def test_a_new_donor_can_come_with_the_donation(world, products):
    """Receiving with a `donor` object adds the donor in the same act."""
    d = donations.receive_donation(world.users["volunteer"], {
        "donor": {"name": "石门村乡贤会", "kind": "organisation", "contact": "张会长 13800000000"},
        "supermarket_id": world.sm_east.id, "lines": [{"product_id": products["毛巾"].id, "quantity": 20}]})
    db.session.commit()
    assert d.donor.name == "石门村乡贤会" and d.donor.kind == "organisation"
    with pytest.raises(ValidationError) as err:
        donations.receive_donation(world.users["volunteer"], {
            "donor": {"name": "", "kind": "alien"}, "supermarket_id": world.sm_east.id,
            "lines": [{"product_id": products["毛巾"].id, "quantity": 1}]})
    assert {"donor.name", "donor.kind"} <= set(err.value.errors)


def test_cash_donation_buys_goods_traced_to_the_donor(world, products):
    """Goods bought with a cash donation become lots of that donor; the money cannot be spent twice."""
    vol = world.users["volunteer"]
    cash = donations.record_cash_donation(vol, {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
                                                "amount": "1000.50"})
    db.session.commit()
    assert (cash.kind, cash.amount_fen) == ("cash", 100050)
    oil = products["食用油 5L"]
    p = donations.record_purchase(vol, cash.id, {"supplier": "镇供销社", "lines": [
        {"product_id": oil.id, "quantity": 10, "unit_value": "65.00"}]})
    db.session.commit()
    (lot,) = lots_of(world.sm_east, oil)
    assert (lot.donor_id, lot.quantity, lot.donation_line.purchase_id) == (world.donor.id, 10, p.id)
    assert donations.spent_fen(cash.id) == 65000
    with pytest.raises(ValidationError) as err:
        donations.record_purchase(vol, cash.id, {"lines": [
            {"product_id": oil.id, "quantity": 6, "unit_value": 60}]})
    assert "lines" in err.value.errors
    with pytest.raises(ValidationError) as err:
        donations.record_purchase(vol, cash.id, {"lines": [{"product_id": oil.id, "quantity": 1}]})
    assert "lines.0.unit_value" in err.value.errors
    goods_donation = receive(world, [(oil, 1)])
    with pytest.raises(ValidationError):
        donations.record_purchase(vol, goods_donation.id, {"lines": [
            {"product_id": oil.id, "quantity": 1, "unit_value": 1}]})
    db.session.rollback()
    redeem(vol, world.sm_east.id, oil.id, 3, household=world.households["v2a"])
    trace = donations.trace_donation(vol, cash.id)
    assert trace["amount"] == 1000.5 and trace["spent"] == 650
    assert [(line["product_id"], line["quantity"], line["redeemed"]) for line in trace["lines"]] == [(oil.id, 10, 3)]
    for bad in ("0", "-5", "12.345", "abc", None):
        with pytest.raises(ValidationError):
            donations.record_cash_donation(vol, {"donor_id": world.donor.id,
                                                 "supermarket_id": world.sm_east.id, "amount": bad})


def test_trace_follows_units_through_transfers_and_voids(world, products):
    """The trace counts redemptions from the line's lots wherever they moved, distinct households, per village; voids count back."""
    rice, soap = products["大米 5kg"], products["香皂"]
    d = receive(world, [(rice, 10), (soap, 6)])
    vol = world.users["volunteer"]
    hh = world.households
    redeem(vol, world.sm_east.id, rice.id, 2, household=hh["v1a"], checkout_id=1)
    redeem(vol, world.sm_east.id, rice.id, 1, household=hh["v1a"], checkout_id=2)
    redeem(vol, world.sm_east.id, rice.id, 1, household=hh["v2a"], checkout_id=3)
    redeem(vol, world.sm_east.id, rice.id, 1, household=hh["v1b"], checkout_id=4)
    lots.return_for_void(vol, 4)
    transfers.transfer_stock(vol, {"from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
                               "product_id": rice.id, "quantity": 3})
    redeem(None, world.sm_west.id, rice.id, 2, household=hh["v3a"], checkout_id=5)
    writeoffs.write_off(vol, world.sm_east.id, {"product_id": rice.id, "quantity": 1, "reason": "damaged"})
    db.session.commit()
    trace = donations.trace_donation(world.users["donor"], d.id)
    rice_line = next(line for line in trace["lines"] if line["product_id"] == rice.id)
    assert {k: rice_line[k] for k in ("quantity", "redeemed", "written_off", "remaining", "households",
                                      "transferred")} == \
        {"quantity": 10, "redeemed": 6, "written_off": 1, "remaining": 3, "households": 3, "transferred": 3}
    assert rice_line["villages"] == [  # most units first
        {"id": world.v1.id, "name": "东坪村", "quantity": 3},
        {"id": world.v3.id, "name": "西沟村", "quantity": 2},
        {"id": world.v2.id, "name": "石门村", "quantity": 1},
    ]
    soap_line = next(line for line in trace["lines"] if line["product_id"] == soap.id)
    assert (soap_line["redeemed"], soap_line["remaining"], soap_line["households"], soap_line["villages"]) == \
        (0, 6, 0, [])
    assert trace["totals"]["households"] == 3 and trace["totals"]["villages"] == 3
    assert trace["donor"] == {"id": world.donor.id, "name": world.donor.name, "kind": "company"}
    text = repr(trace)
    for h in hh.values():
        assert h.head_name not in text and h.code not in text
    assert "household_id" not in text


def test_donor_trace_sums_over_donations_and_is_private(world, products):
    """A donor's trace sums its donations per product; another donor account sees nothing of it (404)."""
    rice = products["大米 5kg"]
    receive(world, [(rice, 4)])
    receive(world, [(rice, 6)], supermarket=world.sm_west, user="volunteer_west")
    redeem(None, world.sm_west.id, rice.id, 2, household=world.households["v3a"])
    db.session.commit()
    trace = donations.trace_donor(world.users["donor"], world.donor.id)
    assert trace["donations"] == 2
    assert [(line["product_id"], line["quantity"], line["redeemed"], line["remaining"], line["households"])
            for line in trace["lines"]] == [(rice.id, 10, 2, 8, 1)]
    other = donations.create_donor(None, {"name": "另一家企业", "kind": "company"})
    from app.services.people.accounts import create_user
    stranger = create_user(None, {"username": "stranger", "password": "correct horse battery",
                                  "role": "donor", "donor_id": other.id})
    db.session.commit()
    with pytest.raises(NotFound):
        donations.trace_donor(stranger, world.donor.id)
    with pytest.raises(NotFound):
        donations.trace_donation(stranger, db.session.scalar(select(Donation.id)))
    items, total = donations.search_donations(stranger)
    assert total == 0
    # A volunteer sees the part of the trace at supermarkets they keep.
    assert donations.trace_donor(world.users["volunteer"], world.donor.id)["donations"] == 1
    with pytest.raises(Forbidden):
        donations.trace_donor(world.users["staff"], world.donor.id)


def test_low_stock_for_the_volunteer(world, products):
    """Products at or below their threshold show for the volunteer of that supermarket only."""
    soap, rice = products["香皂"], products["大米 5kg"]
    receive(world, [(soap, 3), (rice, 50)])
    receive(world, [(soap, 1)], supermarket=world.sm_west, user="volunteer_west")
    low = levels.low_stock(world.users["volunteer"])
    assert [(sm.id, p.id, qty) for sm, p, qty in low] == [(world.sm_east.id, soap.id, 3)]
    assert levels.low_stock(world.users["donor"]) == []
    _, rows, total = levels.stock_levels(world.users["volunteer"], world.sm_east.id, low_only=True)
    assert [(p.id, qty) for p, qty in rows] == [(soap.id, 3)] and total == 1
    # The threshold is per product: raise rice's and it shows too.
    rice.low_stock_threshold = 60
    db.session.commit()
    assert {p.id for _, p, _ in levels.low_stock(world.users["volunteer"])} == {soap.id, rice.id}


# -- best-before dates: expiring first, the volunteer's list (issue 10) -----------------------

def _lot(world, product, n, best_before, received_on, supermarket=None):
    d = donations.receive_donation(world.users["admin"], {
        "donor_id": world.donor.id, "supermarket_id": (supermarket or world.sm_east).id,
        "received_on": received_on,
        "lines": [{"product_id": product.id, "quantity": n, "best_before": best_before}]})
    db.session.commit()
    return db.session.scalar(select(Lot).where(Lot.donation_line_id == d.lines[0].id))


def days_ahead(n: int) -> str:
    return (clock.local_today() + timedelta(days=n)).isoformat()


def test_units_leave_the_lot_that_expires_first_then_the_oldest(world, products):
    """Redemptions and write-offs take the earliest best-before date first; lots with the
    same date go oldest first; lots without a date go last, oldest first."""
    eggs = products["鸡蛋 30枚"]
    undated_old = _lot(world, eggs, 2, None, days_ago(40))
    undated_new = _lot(world, eggs, 2, None, days_ago(30))
    june_new = _lot(world, eggs, 2, days_ahead(60), days_ago(5))
    june_old = _lot(world, eggs, 2, days_ahead(60), days_ago(10))
    soon = _lot(world, eggs, 2, days_ahead(3), days_ago(1))
    hh = world.households["v1a"]
    taken = redeem(world.users["volunteer"], world.sm_east.id, eggs.id, 5, household=hh)
    assert [(t.lot_id, t.quantity) for t in taken] == [(soon.id, 2), (june_old.id, 2), (june_new.id, 1)]
    w = writeoffs.write_off(world.users["volunteer"], world.sm_east.id,
                            {"product_id": eggs.id, "quantity": 3, "reason": "damaged"})
    db.session.commit()
    assert [(m.lot_id, m.quantity) for m in lots.movements_of(LotMovement.writeoff_id, w.id)] == \
        [(june_new.id, 1), (undated_old.id, 2)]
    assert [lot.id for lot in levels.lots_in_stock(world.sm_east.id, eggs.id)] == [undated_new.id]
    assert_lots_balance()


def test_a_transfer_carries_the_best_before_date(world, products):
    """The lot made at the receiving supermarket keeps the date, so it is still taken in turn there."""
    eggs = products["鸡蛋 30枚"]
    _lot(world, eggs, 4, days_ahead(20), days_ago(2))
    transfers.transfer_stock(world.users["admin"], {
        "from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
        "product_id": eggs.id, "quantity": 3})
    db.session.commit()
    (moved,) = lots_of(world.sm_west, eggs)
    assert moved.best_before.isoformat() == days_ahead(20) and moved.remaining == 3


def test_the_volunteer_sees_what_expires_within_30_days_at_their_supermarkets(world, products):
    """Expired lots first (marked), then by date; not beyond 30 days, not empty lots, not
    lots without a date, not another supermarket's; cadres (who keep no stock) get none."""
    eggs, oil = products["鸡蛋 30枚"], products["食用油 5L"]
    in_ten = _lot(world, eggs, 3, days_ahead(10), days_ago(1))
    gone = _lot(world, oil, 2, days_ahead(2), days_ago(1))
    past = _lot(world, oil, 1, days_ago(3), days_ago(20))
    today = _lot(world, eggs, 4, days_ahead(0), days_ago(20))
    _lot(world, eggs, 3, days_ahead(31), days_ago(1))            # beyond 30 days
    _lot(world, eggs, 3, None, days_ago(1))                      # no date
    _lot(world, eggs, 3, days_ahead(5), days_ago(1), supermarket=world.sm_west)  # elsewhere
    writeoffs.write_off(world.users["volunteer"], world.sm_east.id, {
        "product_id": oil.id, "quantity": 2, "reason": "expired", "lot_id": gone.id})
    db.session.commit()
    listed = levels.expiring(world.users["volunteer"])
    assert [(lot.id, expired) for _sm, lot, expired in listed] == \
        [(past.id, True), (today.id, False), (in_ten.id, False)]
    assert {sm.id for sm, _lot, _e in listed} == {world.sm_east.id}
    assert levels.expiring(world.users["cadre"]) == []
    assert [sm.id for sm, _lot, _e in levels.expiring(world.users["volunteer_west"])] == [world.sm_west.id]


def _backdate(checkout_id: int, days: int) -> None:
    """Move a test checkout's redemption rows back in time (the trace reads their day)."""
    at = clock.utcnow() - timedelta(days=days)
    for m in db.session.scalars(select(LotMovement).where(LotMovement.checkout_id == checkout_id)):
        m.created_at = at
    db.session.commit()


def test_trace_adds_up_against_lots_and_checkouts(world, products):
    """After redemptions, a void, a write-off, a transfer and a stocktake, each line's
    received = redeemed + written off + remaining, its redeemed and households match the
    redemption rows still standing, its months sum to its redeemed units, and its first
    and last redemption are the days of the oldest and newest standing checkout."""
    rice, soap = products["大米 5kg"], products["香皂"]
    d = receive(world, [(rice, 20), (soap, 8)], received_on=days_ago(70))
    vol, hh = world.users["volunteer"], world.households
    redeem(vol, world.sm_east.id, rice.id, 3, household=hh["v1a"], checkout_id=11)
    redeem(vol, world.sm_east.id, rice.id, 2, household=hh["v2a"], checkout_id=12)
    redeem(vol, world.sm_east.id, soap.id, 1, household=hh["v1b"], checkout_id=13)
    redeem(vol, world.sm_east.id, rice.id, 4, household=hh["v1b"], checkout_id=14)
    db.session.commit()
    _backdate(11, 60)
    _backdate(12, 31)
    _backdate(14, 80)  # the oldest, but voided: it counts no more
    lots.return_for_void(vol, 14)
    writeoffs.write_off(vol, world.sm_east.id, {"product_id": rice.id, "quantity": 2, "reason": "damaged"})
    transfers.transfer_stock(vol, {"from_supermarket_id": world.sm_east.id,
                                   "to_supermarket_id": world.sm_west.id, "product_id": rice.id,
                                   "quantity": 5})
    redeem(None, world.sm_west.id, rice.id, 1, household=hh["v3a"], checkout_id=15)
    st = stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": rice.id, "counted": 7},
                                                    {"product_id": soap.id, "counted": 7}]})
    stocktakes.submit_stocktake(vol, st.id)
    stocktakes.finalize_stocktake(world.users["cadre"], st.id)
    db.session.commit()
    assert_lots_balance()
    trace = donations.trace_donation(world.users["donor"], d.id)
    assert trace["public_code"] == d.public_code and len(d.public_code) >= 16
    today = clock.local_today()
    for line in trace["lines"]:
        assert line["quantity"] == line["redeemed"] + line["written_off"] + line["remaining"]
        lot_ids = select(Lot.id).where(Lot.donation_line_id == line["id"])
        moves = db.session.execute(select(LotMovement.kind, LotMovement.quantity, LotMovement.household_id)
                                   .where(LotMovement.lot_id.in_(lot_ids))).all()
        standing = sum(q if k == "redemption" else -q for k, q, _h in moves if k in ("redemption", "return"))
        assert line["redeemed"] == standing
        assert sum(m["redeemed"] for m in line["months"]) == line["redeemed"]
        stock = db.session.scalar(select(func.sum(Lot.remaining)).where(Lot.id.in_(lot_ids)))
        assert line["remaining"] == stock
    rice_line = next(line for line in trace["lines"] if line["product_id"] == rice.id)
    # 20 received: 3 + 2 + 1 redeemed (the void's 4 came back), 2 damaged, 5 moved west
    # (1 of them redeemed there), and the stocktake found 7 of the 8 left at the east.
    assert {k: rice_line[k] for k in ("redeemed", "written_off", "remaining", "households", "transferred")} == \
        {"redeemed": 6, "written_off": 3, "remaining": 11, "households": 3, "transferred": 5}
    assert rice_line["first_redeemed_on"] == (today - timedelta(days=60)).isoformat()
    assert rice_line["last_redeemed_on"] == today.isoformat()
    months = {}
    for n, ago in ((3, 60), (2, 31), (1, 0)):
        key = (today - timedelta(days=ago)).strftime("%Y-%m")
        months[key] = months.get(key, 0) + n
    assert rice_line["months"] == [{"month": m, "redeemed": n} for m, n in sorted(months.items())]
    soap_line = next(line for line in trace["lines"] if line["product_id"] == soap.id)
    assert (soap_line["redeemed"], soap_line["written_off"], soap_line["remaining"]) == (1, 0, 7)
    assert trace["totals"]["first_redeemed_on"] == rice_line["first_redeemed_on"]
    assert trace["totals"]["households"] == 4 and trace["totals"]["villages"] == 3
    assert sum(m["redeemed"] for m in trace["months"]) == trace["totals"]["redeemed"] == 7
    # The donor's trace: the same sums, per product.
    whole = donations.trace_donor(world.users["donor"], world.donor.id)
    assert [(x["product_id"], x["redeemed"], x["remaining"], x["first_redeemed_on"]) for x in whole["lines"]
            if x["product_id"] == rice.id] == [(rice.id, 6, 11, rice_line["first_redeemed_on"])]
    assert whole["months"] == trace["months"] and whole["last_redeemed_on"] == today.isoformat()
    text = repr(trace) + repr(whole)
    for h in hh.values():
        assert h.head_name not in text and h.code not in text
