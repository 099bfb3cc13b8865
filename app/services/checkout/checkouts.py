"""The checkout counter (兑换): `check_out` debits points and takes goods in
one transaction; `void_checkout` gives both back through new entries.

Races (DESIGN.md invariants 2, 3, 4): the household row is locked first,
by the conditional UPDATE that debits it (balance >= total, its row count
checked); on SQLite the views run under `late_write_lock`, and that first
write is where BEGIN IMMEDIATE takes the whole database. Then the lots, in
product and id order, by `take_many`. Any refusal raises, and the request
rolls everything back. What is read before the lock point (the card, the household, the products)
may change under us as it may on PostgreSQL; what must not (stock, balance,
the monthly limit, due entries) is read or re-checked after it."""
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import aliased, make_transient_to_detached

from app.extensions import db
from app.models import (
    Card, Checkout, CheckoutLine, Household, LedgerEntry, Product, Region, Supermarket, User,
    utcnow,
)
from app.services import audit
from app.services.checkout.cards import CardRevoked, find_card
from app.services.errors import (
    Conflict, Errors, Forbidden, HouseholdInactive, InsufficientPoints, LimitExceeded, NotFound,
)
from app.services.points.awards import local_midnight, local_today, post_due
from app.services.ledger.writer import anything_due, posted_this_request
from app.services.people.scope import HOUSEHOLD_READERS, get_supermarket, require_role
from app.services.goods.stock import record_movements, return_for_void, take_many
from app.services.validate import as_id, text

SELLERS = ("volunteer", "admin")
_households = Household.__table__
_checkouts = Checkout.__table__
_checkout_lines = CheckoutLine.__table__
_entries = LedgerEntry.__table__
MAX_LINES = 100
MAX_QUANTITY = 999


def _lines(errors: Errors, data: dict) -> dict[int, int]:
    """{product_id: quantity}, the same product on two lines merged."""
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        errors.add("lines", _l("The cart is empty."))
        return {}
    if len(lines) > MAX_LINES:
        errors.add("lines", _l("At most %(n)d lines.", n=MAX_LINES))
        return {}
    merged: dict[int, int] = {}
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            errors.add(f"lines.{i}", _l("Each line needs a product_id and a quantity."))
            continue
        product_id = as_id(line.get("product_id"))
        qty = line.get("quantity")
        if product_id is None:
            errors.add(f"lines.{i}.product_id", _l("Unknown product."))
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1 or qty > MAX_QUANTITY:
            errors.add(f"lines.{i}.quantity", _l("The quantity must be a whole number from 1 to %(n)d.", n=MAX_QUANTITY))
            continue
        if product_id is not None:
            merged[product_id] = merged.get(product_id, 0) + qty
    return merged


def _products(errors: Errors, wanted: dict[int, int]) -> dict[int, Product]:
    if not wanted:
        return {}
    found = {p.id: p for p in db.session.scalars(_PRODUCTS, {"ids": list(wanted)})}
    for product_id in wanted:
        product = found.get(product_id)
        if product is None or not product.active:
            errors.add("lines", _l("Unknown product: %(id)s.", id=product_id))
    return found


def _find_household(actor: User, sm: Supermarket, data: dict) -> tuple[Household, Card | None]:
    """The buyer, from a card scan, a typed card number or a household id.
    Unknown, or not served by this supermarket: NotFound."""
    card = None
    if data.get("card_payload") is not None:
        card = find_card(payload=data.get("card_payload"))
    elif data.get("card_number") is not None:
        card = find_card(number=data.get("card_number"))
    if card is not None:
        household_id = card.household_id
    elif data.get("card_payload") is not None or data.get("card_number") is not None:
        raise NotFound(_l("No card with this code."))
    else:
        household_id = as_id(data.get("household_id"))
    # One query: the household, if its village lies under the region this
    # supermarket serves. The sellers are the supermarket's own volunteers
    # (get_supermarket checked that) and admins, who may see every household
    # it serves, so this answers what get_household plus a region check did.
    require_role(actor, *HOUSEHOLD_READERS)
    if not isinstance(household_id, int):
        raise NotFound()
    household = db.session.scalars(SERVED_HOUSEHOLD, {"household_id": household_id,
                                                      "region_id": sm.region_id}).first()
    if household is None:
        raise NotFound()
    return household, card


_PRODUCTS = select(Product).where(Product.id.in_(bindparam("ids", expanding=True)))
_served_by = aliased(Region)
# Built once (the counter's busiest query): a household, if its village lies
# under the region a supermarket serves.
SERVED_HOUSEHOLD = (
    select(Household)
    .join(Region, Region.id == Household.village_id)
    .join(_served_by, _served_by.id == bindparam("region_id"))
    .where(Household.id == bindparam("household_id"),
           func.substr(Region.path, 1, func.length(_served_by.path)) == _served_by.path)
)


def _month_spent(household_id: int, now: datetime) -> int:
    """Points this household redeemed this local month, not counting voided checkouts."""
    today = local_today(now)
    start = local_midnight(today.replace(day=1))
    return db.session.scalar(
        select(func.coalesce(func.sum(Checkout.total_points), 0))
        .where(Checkout.household_id == household_id, Checkout.created_at >= start,
               Checkout.voided_at.is_(None))) or 0


def monthly_limit_left(household: Household, now: datetime | None = None) -> int | None:
    limit = current_app.config.get("CHECKOUT_MONTHLY_LIMIT")
    if limit in (None, "", 0, "0"):
        return None
    return max(int(limit) - _month_spent(household.id, now or utcnow()), 0)


def check_out(actor: User, data: dict, *, now: datetime | None = None) -> Checkout:
    """Redeem a cart for a household at a supermarket. Refusals, each with
    nothing written, in the order of api.md: validation-error, not-found,
    card-revoked, household-inactive, insufficient-stock, limit-exceeded,
    insufficient-points."""
    require_role(actor, *SELLERS)
    now = now or utcnow()
    errors = Errors()
    sm_id = as_id(data.get("supermarket_id"))
    if sm_id is None:
        errors.add("supermarket_id", _l("This field is required."))
    if not any(data.get(k) not in (None, "") for k in ("card_payload", "card_number", "household_id")):
        errors.add("card_payload", _l("Scan a card or type its number."))
    wanted = _lines(errors, data)
    products = _products(errors, wanted)
    errors.raise_if_any()

    sm = get_supermarket(actor, sm_id)  # volunteers: only their own supermarkets
    household, card = _find_household(actor, sm, data)
    if card is not None and card.status != "active":
        raise CardRevoked()
    if household.status != "active":
        raise HouseholdInactive(_l("This household has exited the programme."))

    total = sum(products[pid].points_price * qty for pid, qty in wanted.items())
    conn = db.session.connection()
    due = not posted_this_request() and anything_due(conn, now, [household.id])

    if due:
        post_due(now, household_ids=[household.id])
    # The debit comes first: its UPDATE locks the household row (the order of
    # awards and posting: the household, then lots) and, on SQLite under
    # late_write_lock, begins the write transaction. Everything above was
    # read outside it; everything below holds it, and runs prebuilt Core
    # statements on one connection (the ORM's bookkeeping would cost more
    # than the SQL on the counter's hot path).
    balance = conn.execute(_DEBIT, {"household_id": household.id, "total": total, "now": now}).scalar()
    left = monthly_limit_left(household, now)  # spent this month before this checkout
    # Then the lots, in (product, id) order. A refused debit is answered only
    # after them: api.md orders the refusals stock, the monthly limit, points.
    taken = take_many(sm.id, wanted, kind="redemption")
    if left is not None and total > left:
        raise LimitExceeded(_l("This household can redeem %(n)d more points this month.", n=left))
    if balance is None:
        balance = conn.execute(_BALANCE, {"household_id": household.id}).scalar()
        raise InsufficientPoints(_l("Balance %(balance)d points; this cart needs %(total)d.",
                                    balance=balance, total=total))
    db.session.expire(household, ["balance", "updated_at"])

    card_id = card.id if card else None
    checkout_id = conn.execute(_INSERT_CHECKOUT, {
        "supermarket_id": sm.id, "household_id": household.id, "card_id": card_id,
        "total_points": total, "balance_after": balance, "created_at": now,
        "created_by_id": actor.id}).scalar_one()
    entry_id = conn.execute(_INSERT_ENTRY, {
        "household_id": household.id, "kind": "redemption", "points": -total, "status": "posted",
        "posted_at": now, "occurred_on": local_today(now), "created_at": now,
        "created_by_id": actor.id, "checkout_id": checkout_id, "note": sm.name,
        "needs_approval": False}).scalar_one()
    conn.execute(_SET_ENTRY, {"checkout": checkout_id, "entry": entry_id})
    line_rows = [{"checkout_id": checkout_id, "product_id": pid, "quantity": qty,
                  "unit_points": products[pid].points_price,
                  "points": products[pid].points_price * qty} for pid, qty in sorted(wanted.items())]
    line_ids = conn.execute(_INSERT_LINES, line_rows).scalars().all()
    record_movements(taken, kind="redemption", actor=actor, household_id=household.id,
                     village_id=household.village_id, checkout_id=checkout_id)
    audit.record_ref(actor, "checkout.create", "checkouts", checkout_id,
                     household_id=household.id, total=total)

    # The answer, as the ORM would load it, without reading it back.
    checkout = Checkout(id=checkout_id, supermarket_id=sm.id, household_id=household.id,
                        card_id=card_id, total_points=total, balance_after=balance,
                        entry_id=entry_id, created_at=now, created_by_id=actor.id,
                        voided_at=None, voided_by_id=None, void_reason=None,
                        supermarket=sm, household=household)
    checkout.lines = [CheckoutLine(id=line_id, product=products[row["product_id"]], **row)
                      for line_id, row in zip(line_ids, line_rows)]
    # Persistent and clean, as if loaded: nothing for the next flush to do.
    for obj in (*checkout.lines, checkout):
        make_transient_to_detached(obj)
    db.session.add(checkout)
    return checkout


_DEBIT = (update(_households)
          .where(_households.c.id == bindparam("household_id"), _households.c.balance >= bindparam("total"))
          .values(balance=_households.c.balance - bindparam("total"), updated_at=bindparam("now"))
          .returning(_households.c.balance))
_BALANCE = select(_households.c.balance).where(_households.c.id == bindparam("household_id"))
_INSERT_CHECKOUT = insert(_checkouts).returning(_checkouts.c.id)
_INSERT_ENTRY = insert(_entries).returning(_entries.c.id)
_SET_ENTRY = update(_checkouts).where(_checkouts.c.id == bindparam("checkout")).values(
    entry_id=bindparam("entry"))
_INSERT_LINES = insert(_checkout_lines).returning(_checkout_lines.c.id, sort_by_parameter_order=True)


def get_checkout(actor: User, checkout_id) -> Checkout:
    require_role(actor, "volunteer", "admin", "cadre")
    checkout = db.session.get(Checkout, as_id(checkout_id)) if as_id(checkout_id) else None
    if checkout is None:
        raise NotFound()
    get_supermarket(actor, checkout.supermarket_id)  # out of scope: NotFound
    return checkout


def void_checkout(actor: User, checkout_id, data: dict, *, now: datetime | None = None) -> Checkout:
    """Give a checkout's points and goods back (each unit to its own lot):
    the volunteer on the same day, a cadre or admin later. Once."""
    require_role(actor, "volunteer", "admin", "cadre")
    now = now or utcnow()
    checkout = get_checkout(actor, checkout_id)
    errors = Errors()
    reason = text(errors, data, "reason", required=True, max_len=500)
    errors.raise_if_any()
    if actor.role == "volunteer" and local_today(checkout.created_at) != local_today(now):
        raise Forbidden(_l("Only a cadre can void a checkout of an earlier day."))
    claimed = db.session.execute(
        update(Checkout).where(Checkout.id == checkout.id, Checkout.voided_at.is_(None))
        .values(voided_at=now, voided_by_id=actor.id, void_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict(_l("This checkout has already been voided."))
    db.session.expire(checkout)
    # The household, then the lots: the order check_out locks them in.
    db.session.execute(
        update(Household).where(Household.id == checkout.household_id)
        .values(balance=Household.balance + checkout.total_points, updated_at=now)
        .execution_options(synchronize_session=False))
    return_for_void(actor, checkout.id)
    db.session.add(LedgerEntry(
        household_id=checkout.household_id, kind="reversal", points=checkout.total_points,
        status="posted", posted_at=now, occurred_on=local_today(now), created_at=now,
        created_by_id=actor.id, reversal_of=checkout.entry_id, checkout_id=checkout.id,
        note=reason))
    db.session.flush()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Household) and obj.id == checkout.household_id:
            db.session.expire(obj, ["balance", "updated_at"])
    audit.record(actor, "checkout.void", checkout, reason_given=True)
    return checkout


def checkouts_at(actor: User, supermarket_id, *, day=None, limit: int = 100) -> list[Checkout]:
    sm = get_supermarket(actor, as_id(supermarket_id))
    query = select(Checkout).where(Checkout.supermarket_id == sm.id)
    if day is not None:
        start = local_midnight(day)
        query = query.where(Checkout.created_at >= start,
                            Checkout.created_at < start + timedelta(days=1))
    return db.session.scalars(query.order_by(Checkout.id.desc()).limit(limit)).all()
