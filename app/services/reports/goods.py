"""The goods side of the reports, at the supermarkets serving the scope
(a township's supermarket serves its villages): checkouts per day, goods
out by product, stock on hand and its value in points, low stock; and per
donor, what came in and what went out to households in the range.

A checkout counts on its local date unless voided (as in every report);
goods out are the units of those checkouts. Units in are the donation lines
received in the range; units out per donor are their lots' units redeemed by
the checkouts of the range. Stock is as it stands now."""
from datetime import timedelta

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import (Checkout, CheckoutLine, Donation, DonationLine, Donor, Lot, LotMovement,
                        Product, Supermarket, User)
from app.services.clock import local_today
from app.services.ledger.totals import local_day
from app.services.reports.figures import scope_of, serving_supermarkets
from app.services.reports.period import Period

TOP_PRODUCTS = 30


def _markets(scope) -> dict[int, Supermarket]:
    return {s.id: s for s in db.session.scalars(serving_supermarkets(scope))}


def supermarkets(actor: User, data: dict, period: Period) -> dict:
    """{"items": one row per supermarket, "days": checkouts per local day,
    "products": goods out by product (most units first), "low": products at or
    below their low-stock threshold}."""
    scope = scope_of(actor, data)
    markets = _markets(scope)
    ids = list(markets) or [0]
    made = (Checkout.supermarket_id.in_(ids), Checkout.voided_at.is_(None),
            period.holds(Checkout.created_at))
    counted = {row.sm: row for row in db.session.execute(
        select(Checkout.supermarket_id.label("sm"), func.count().label("checkouts"),
               func.count(func.distinct(Checkout.household_id)).label("households"),
               func.sum(Checkout.total_points).label("points"))
        .where(*made).group_by(Checkout.supermarket_id))}
    # Goods out per supermarket and product, in one pass over the lines.
    out: dict[int, int] = {}
    by_product: dict[int, list[int]] = {}
    for sm_id, product_id, units, points in db.session.execute(
            select(Checkout.supermarket_id, CheckoutLine.product_id, func.sum(CheckoutLine.quantity),
                   func.sum(CheckoutLine.points))
            .join(CheckoutLine, CheckoutLine.checkout_id == Checkout.id)
            .where(*made).group_by(Checkout.supermarket_id, CheckoutLine.product_id)):
        out[sm_id] = out.get(sm_id, 0) + int(units)
        sums = by_product.setdefault(product_id, [0, 0])
        sums[0] += int(units)
        sums[1] += int(points or 0)
    on_hand = (select(Lot.supermarket_id.label("sm"), Lot.product_id.label("product"),
                      func.sum(Lot.remaining).label("units"))
               .where(Lot.supermarket_id.in_(ids))
               .group_by(Lot.supermarket_id, Lot.product_id).subquery())
    stock = {row.sm: row for row in db.session.execute(
        select(on_hand.c.sm, func.sum(on_hand.c.units).label("units"),
               func.sum(on_hand.c.units * Product.points_price).label("value"),
               func.sum(case((on_hand.c.units <= Product.low_stock_threshold, 1), else_=0)).label("low"))
        .join(Product, Product.id == on_hand.c.product)
        .where(Product.active.is_(True)).group_by(on_hand.c.sm))}
    items = []
    for sm_id, sm in markets.items():
        c, s = counted.get(sm_id), stock.get(sm_id)
        items.append({
            "supermarket_id": sm_id, "name": sm.name,
            "checkouts": int(c.checkouts) if c else 0, "households": int(c.households) if c else 0,
            "points_redeemed": int(c.points or 0) if c else 0, "units_out": int(out.get(sm_id) or 0),
            "units_in_stock": int(s.units or 0) if s else 0,
            "stock_value_points": int(s.value or 0) if s else 0,
            "low_stock": int(s.low or 0) if s else 0})
    dialect = db.session.get_bind().dialect.name
    day = local_day(dialect, Checkout.created_at)
    made_on = {str(d)[:10]: (int(n), int(p or 0)) for d, n, p in db.session.execute(
        select(day.label("day"), func.count(), func.sum(Checkout.total_points))
        .where(*made).group_by(day))}
    # Every day of the range, those without a checkout too (a chart's gaps are days closed).
    last = min(period.end, local_today())
    days = [{"day": d.isoformat(), "checkouts": made_on.get(d.isoformat(), (0, 0))[0],
             "points": made_on.get(d.isoformat(), (0, 0))[1]}
            for d in (period.start + timedelta(days=i) for i in range((last - period.start).days + 1))]
    top = sorted(by_product.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_PRODUCTS]
    names = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.id.in_([pid for pid, _ in top] or [0])))}
    products = [{"product_id": pid, "name": names[pid].name, "unit": names[pid].unit,
                 "units": units, "points": points} for pid, (units, points) in top]
    low = [{"supermarket_id": sm, "supermarket": markets[sm].name, "product_id": pid, "name": name,
            "unit": unit, "units": int(units), "threshold": threshold}
           for sm, pid, name, unit, units, threshold in db.session.execute(
               select(on_hand.c.sm, Product.id, Product.name, Product.unit, on_hand.c.units,
                      Product.low_stock_threshold)
               .join(Product, Product.id == on_hand.c.product)
               .where(Product.active.is_(True), on_hand.c.units <= Product.low_stock_threshold)
               .order_by(on_hand.c.sm, on_hand.c.units, Product.name))]
    return {"items": items, "days": days, "products": products, "low": low}


def donations(actor: User, data: dict, period: Period) -> list[dict]:
    """One row per donor with goods or money received, or goods redeemed, in
    the range at the supermarkets serving the scope (most units in first)."""
    scope = scope_of(actor, data)
    ids = list(_markets(scope)) or [0]
    received = (Donation.supermarket_id.in_(ids),
                Donation.received_on.between(period.start, period.end))
    given = {row.donor: row for row in db.session.execute(
        select(Donation.donor_id.label("donor"), func.count().label("donations"),
               func.sum(case((Donation.kind == "cash", Donation.amount_fen), else_=0)).label("cash"))
        .where(*received).group_by(Donation.donor_id))}
    goods_in = {row.donor: row for row in db.session.execute(
        select(Donation.donor_id.label("donor"), func.sum(DonationLine.quantity).label("units"),
               func.sum(DonationLine.quantity * func.coalesce(DonationLine.unit_value_fen, 0))
               .label("value"))
        .join(DonationLine, DonationLine.donation_id == Donation.id)
        # Goods bought with a cash gift are the cash's, already counted as money.
        .where(*received, DonationLine.purchase_id.is_(None), Donation.kind == "goods")
        .group_by(Donation.donor_id))}
    # Units redeemed from the donor's lots by checkouts of the range not voided
    # (a void's return is then no longer counted twice).
    moved = (select(Lot.donor_id.label("donor"), LotMovement.household_id.label("household"),
                    LotMovement.village_id.label("village"),
                    func.sum(LotMovement.quantity).label("units"))
             .join(Lot, Lot.id == LotMovement.lot_id)
             .join(Checkout, Checkout.id == LotMovement.checkout_id)
             .where(Lot.supermarket_id.in_(ids), Lot.donor_id.is_not(None),
                    LotMovement.kind == "redemption", Checkout.voided_at.is_(None),
                    period.holds(Checkout.created_at))
             .group_by(Lot.donor_id, LotMovement.household_id, LotMovement.village_id).subquery())
    out = {row.donor: row for row in db.session.execute(
        select(moved.c.donor, func.sum(moved.c.units).label("units"),
               func.count(func.distinct(case((moved.c.units > 0, moved.c.household)))).label("households"),
               func.count(func.distinct(case((moved.c.units > 0, moved.c.village)))).label("villages"))
        .group_by(moved.c.donor))}
    donors = {d.id: d for d in db.session.scalars(
        select(Donor).where(Donor.id.in_(set(given) | set(goods_in) | set(out) or {0})))}
    rows = []
    for donor_id, donor in donors.items():
        g, i, o = given.get(donor_id), goods_in.get(donor_id), out.get(donor_id)
        rows.append({
            "donor_id": donor_id, "name": donor.name, "kind": donor.kind,
            "donations": int(g.donations) if g else 0,
            "units_in": int(i.units or 0) if i else 0,
            "value_in": round(int(i.value or 0) / 100, 2) if i else 0.0,
            "cash_in": round(int(g.cash or 0) / 100, 2) if g else 0.0,
            "units_out": int(o.units or 0) if o else 0,
            "households": int(o.households or 0) if o else 0,
            "villages": int(o.villages or 0) if o else 0})
    rows.sort(key=lambda r: (-r["units_in"], -r["units_out"], r["donor_id"]))
    return rows
