"""The goods side of the reports, at the supermarkets serving the scope
(a township's supermarket serves its villages): checkouts per day, goods
out by product, stock on hand and its value in points, low stock; and per
donor, what came in and what went out to households in the range.

A checkout counts on its local date unless voided (as in every report);
goods out are the units of those checkouts. Units in are the donation lines
received in the range; units out per donor are their lots' units redeemed by
the checkouts of the range. Stock is as it stands now. The donors' report
also follows the gifts of the range to now: share redeemed, the median days
to redemption, write-offs by reason (see donor_rows)."""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import Integer, case, func, select

from app.extensions import db
from app.models import (Checkout, CheckoutLine, Donation, DonationLine, Donor, Lot, LotMovement,
                        Product, Supermarket, User, Writeoff)
from app.services.clock import local_today
from app.services.people import policy
from app.services.people.scope import get_supermarket, visible_supermarkets
from app.services.validate import as_id
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


# Sorts of the donors' report: by what they gave (the points value of the goods
# of their gifts in the range, bought with their money too; then money, then
# units), or by how fast their goods reached households (the median days,
# donors with nothing redeemed yet last).
DONOR_SORTS = ("given", "speed")
# A donor whose gifts of the range were written off as expired at this share of
# the units (or more) hears, through the cadre, a polite suggestion.
EXPIRED_NOTICE_SHARE = 0.10
WRITEOFF_REASONS = ("expired", "damaged", "lost", "count")
TOP_WRITTEN_OFF = 3


def donations(actor: User, data: dict, period: Period, sort: str | None = None) -> list[dict]:
    """One row per donor with goods or money received, or goods redeemed, in
    the range at the supermarkets serving the scope (cadres, staff, admin)."""
    scope = scope_of(actor, data)
    return donor_rows(list(_markets(scope)), period, sort)


def supermarket_donations(actor: User, data: dict, period: Period,
                          sort: str | None = None) -> tuple[list[dict], list[Supermarket]]:
    """The same rows for the supermarkets a volunteer serves (all of them, or
    ?supermarket_id= one), with those supermarkets."""
    policy.require(actor, "stock.read")
    if data.get("supermarket_id") not in (None, ""):
        markets = [get_supermarket(actor, as_id(data.get("supermarket_id")))]
    else:
        markets = list(db.session.scalars(visible_supermarkets(actor)))
    return donor_rows([m.id for m in markets], period, sort), markets


def _suggestion(products: list[str]) -> str:
    """What a cadre may pass on to a donor whose gifts expire on the shelf."""
    return _("Suggest to the donor: goods that keep only a short time, such as %(products)s, "
             "can be given in several smaller batches.", products=_(", ").join(products))


def _weighted_median(counts: dict[int, int]) -> float | None:
    """The median of values given as {value: how many}: the middle unit's
    value (the mean of the two middle ones for an even count)."""
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(n):  # the value of the n-th unit, from 0
        seen = 0
        for value, k in ordered:
            seen += k
            if n < seen:
                return value
    return (nth((total - 1) // 2) + nth(total // 2)) / 2


def donor_rows(ids: list[int], period: Period, sort: str | None = None) -> list[dict]:
    """Per donor at the supermarkets `ids`, two views of one range.

    What moved in the range: donations and money received, goods received
    (units, their declared value in yuan, their points value), and units
    redeemed by checkouts of the range from any earlier gift (households,
    villages).

    What became of the gifts of the range, as it stands now (`given_*`): the
    lots of the donor's donations received in the range (goods given, and
    goods bought with their money), wherever a transfer took them; units
    redeemed from them (a voided checkout's units are back), the median days
    from a lot's receiving to the local day of each unit's checkout (the
    middle unit: one slow lot does not drag it as a mean would), units
    written off by reason, the top products written off, and whether the
    expired share earns the donor a suggestion (EXPIRED_NOTICE_SHARE)."""
    ids = ids or [0]
    received = (Donation.supermarket_id.in_(ids),
                Donation.received_on.between(period.start, period.end))
    given = {row.donor: row for row in db.session.execute(
        select(Donation.donor_id.label("donor"), func.count().label("donations"),
               func.sum(case((Donation.kind == "cash", Donation.amount_fen), else_=0)).label("cash"))
        .where(*received).group_by(Donation.donor_id))}
    goods_in = {row.donor: row for row in db.session.execute(
        select(Donation.donor_id.label("donor"), func.sum(DonationLine.quantity).label("units"),
               func.sum(DonationLine.quantity * func.coalesce(DonationLine.unit_value_fen, 0))
               .label("value"),
               func.sum(DonationLine.quantity * Product.points_price).label("points"))
        .join(DonationLine, DonationLine.donation_id == Donation.id)
        .join(Product, Product.id == DonationLine.product_id)
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

    # The gifts of the range: their lots (first lots, not a transfer's copy, for what was given).
    cohort = (Donation.donor_id.label("donor"), Lot.id.label("lot"))
    gift_lots = (select(*cohort).select_from(Lot)
                 .join(DonationLine, DonationLine.id == Lot.donation_line_id)
                 .join(Donation, Donation.id == DonationLine.donation_id).where(*received))
    cohort_points = {row.donor: row for row in db.session.execute(
        select(Donation.donor_id.label("donor"), func.sum(Lot.quantity).label("units"),
               func.sum(Lot.quantity * Product.points_price).label("points"))
        .select_from(Lot).join(DonationLine, DonationLine.id == Lot.donation_line_id)
        .join(Donation, Donation.id == DonationLine.donation_id)
        .join(Product, Product.id == Lot.product_id)
        .where(*received, Lot.source_lot_id.is_(None)).group_by(Donation.donor_id))}
    lots = gift_lots.subquery()
    dialect = db.session.get_bind().dialect.name
    # A redemption happened when its checkout did (the movement's own stamp is the write's).
    redeemed_on = local_day(dialect, Checkout.created_at)
    if dialect == "sqlite":
        waited = func.cast(func.julianday(redeemed_on) - func.julianday(Lot.received_on), Integer)
    else:
        waited = redeemed_on - Lot.received_on
    # A histogram of days waited per donor (units per day count): the median from it.
    waits: dict[int, dict[int, int]] = {}
    for donor_id, days, units in db.session.execute(
            select(lots.c.donor, waited.label("days"), func.sum(LotMovement.quantity))
            .select_from(LotMovement).join(lots, lots.c.lot == LotMovement.lot_id)
            .join(Lot, Lot.id == LotMovement.lot_id)
            .join(Checkout, Checkout.id == LotMovement.checkout_id)
            .where(LotMovement.kind == "redemption", Checkout.voided_at.is_(None))
            .group_by(lots.c.donor, waited)):
        hist = waits.setdefault(donor_id, {})
        hist[max(int(days), 0)] = hist.get(max(int(days), 0), 0) + int(units)
    written: dict[int, dict[str, int]] = {}
    worst: dict[int, list[tuple[int, int]]] = {}
    expired: dict[int, dict[int, int]] = {}
    # Write-offs are few: read them all from the write-offs (by their index, not
    # through every movement of the gifts' lots), then keep those of the gifts.
    donor_of_lot = dict(db.session.execute(select(lots.c.lot, lots.c.donor)).all())
    for lot_id, reason, product_id, units in db.session.execute(
            select(LotMovement.lot_id, Writeoff.reason, Writeoff.product_id, func.sum(LotMovement.quantity))
            .select_from(Writeoff).join(LotMovement, LotMovement.writeoff_id == Writeoff.id)
            # The IN steers SQLite to the movements' writeoff_id index (0.3 s -> 2 ms in a county).
            .where(LotMovement.writeoff_id.in_(select(Writeoff.id)), LotMovement.kind == "writeoff")
            .group_by(LotMovement.lot_id, Writeoff.reason, Writeoff.product_id)):
        donor_id = donor_of_lot.get(lot_id)
        if donor_id is None:
            continue
        by_reason = written.setdefault(donor_id, dict.fromkeys(WRITEOFF_REASONS, 0))
        by_reason[reason] = by_reason.get(reason, 0) + int(units)
        worst.setdefault(donor_id, []).append((product_id, int(units)))
        if reason == "expired":
            went = expired.setdefault(donor_id, {})
            went[product_id] = went.get(product_id, 0) + int(units)
    top_products: dict[int, list[tuple[int, int]]] = {}
    for donor_id, pairs in worst.items():
        summed: dict[int, int] = {}
        for pid, units in pairs:
            summed[pid] = summed.get(pid, 0) + units
        top_products[donor_id] = sorted(summed.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WRITTEN_OFF]
    product_names = {p.id: p for p in db.session.scalars(select(Product).where(
        Product.id.in_({pid for pairs in top_products.values() for pid, _ in pairs} or {0})))}
    for went in expired.values():
        for pid in went:
            product_names.setdefault(pid, db.session.get(Product, pid))

    donors = {d.id: d for d in db.session.scalars(
        select(Donor).where(Donor.id.in_(set(given) | set(goods_in) | set(out) or {0})))}
    rows = []
    for donor_id, donor in donors.items():
        g, i, o, c = given.get(donor_id), goods_in.get(donor_id), out.get(donor_id), cohort_points.get(donor_id)
        hist = waits.get(donor_id, {})
        gave = int(c.units or 0) if c else 0
        redeemed = sum(hist.values())
        offs = written.get(donor_id, dict.fromkeys(WRITEOFF_REASONS, 0))
        off_units = sum(offs.values())
        expired_share = offs["expired"] / gave if gave else None
        rows.append({
            "donor_id": donor_id, "name": donor.name, "kind": donor.kind,
            "donations": int(g.donations) if g else 0,
            "units_in": int(i.units or 0) if i else 0,
            "value_in": round(int(i.value or 0) / 100, 2) if i else 0.0,
            "points_in": int(i.points or 0) if i else 0,
            "cash_in": round(int(g.cash or 0) / 100, 2) if g else 0.0,
            "units_out": int(o.units or 0) if o else 0,
            "households": int(o.households or 0) if o else 0,
            "villages": int(o.villages or 0) if o else 0,
            "given_units": gave, "given_points": int(c.points or 0) if c else 0,
            "given_redeemed": redeemed, "given_remaining": gave - redeemed - off_units,
            "given_redeemed_share": round(redeemed / gave, 4) if gave else None,
            "median_days": _weighted_median(hist),
            "written_off": offs, "written_off_units": off_units,
            "written_off_share": round(off_units / gave, 4) if gave else None,
            "expired_share": round(expired_share, 4) if expired_share is not None else None,
            "top_written_off": [{"product_id": pid, "name": product_names[pid].name,
                                 "unit": product_names[pid].unit, "units": units}
                                for pid, units in top_products.get(donor_id, [])],
            "suggestion": _suggestion([product_names[pid].name for pid, _ in sorted(
                expired.get(donor_id, {}).items(), key=lambda kv: (-kv[1], kv[0]))][:TOP_WRITTEN_OFF])
            if expired_share is not None and expired_share >= EXPIRED_NOTICE_SHARE else None})
    if sort == "speed":
        rows.sort(key=lambda r: (r["median_days"] is None, r["median_days"] or 0,
                                 -r["given_redeemed"], r["donor_id"]))
    else:
        rows.sort(key=lambda r: (-r["given_points"], -r["cash_in"], -r["units_in"], -r["units_out"],
                                 r["donor_id"]))
    return rows
