"""The checkout counter (兑换): `check_out` debits points and takes goods in
one transaction; `void_checkout` gives both back through new entries.

Races (invariants 2, 3 and 4 in docs/architecture.md): the household row is locked first, by
the ledger writer's conditional debit (balance >= total, its row count
checked); on SQLite the views run under `late_write_lock`, and that first
write is where BEGIN IMMEDIATE takes the whole database. Then the lots, in
product and id order, by `take_many`. Any refusal raises, and the request
rolls everything back. What is read before the lock point (the card, the
household, the products) may change under us as it may on PostgreSQL; what
must not (stock, balance, the monthly limit, due entries) is read or
re-checked after it."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import Checkout, Household, Product, Supermarket, User, utcnow
from app.services import audit
from app.services.checkout.cards import at_till
from app.services.clock import local_midnight, local_today
from app.services.errors import (Conflict, Errors, InsufficientPoints, LimitExceeded, NotFound,
                                 ValidationError)
from app.services.goods.lots import return_for_void, take_and_record, take_many
from app.services.ledger import writer
from app.services.people import policy
from app.services.people.scope import get_supermarket
from app.services.validate import as_id, text

MAX_LINES = 100
MAX_QUANTITY = 999
REASON_MAX = 500
NO_CARD_REASON_MAX = 200
PIN_DIGITS = 6

# Why a household was served without its card (the counter offers these; the
# API also takes any other text). "pin" is recorded only when the household's
# passbook PIN was given and right.
NO_CARD_REASONS = {
    "pin": _l("Passbook PIN given"),
    "lost": _l("Card lost"),
    "elder": _l("An elder came without the card"),
    "at_home": _l("Card left at home"),
}


def no_card_text(checkout) -> str:
    """How a checkout's buyer was recognised, for receipts and lists: '' with a card."""
    if checkout.card_used:
        return ""
    reason = checkout.no_card_reason
    if not reason:
        return str(_l("No card"))
    return str(_l("No card: %(reason)s", reason=NO_CARD_REASONS.get(reason, reason)))


def _no_card_fields(errors: Errors, data: dict) -> tuple[str | None, str | None]:
    """The reason and the PIN of a checkout by household id, checked for shape."""
    by_household = (data.get("household_id") not in (None, "")
                    and all(data.get(k) in (None, "") for k in ("card_payload", "card_number")))
    reason = data.get("no_card_reason")
    pin = data.get("passbook_pin")
    if reason is not None:
        if not isinstance(reason, str):
            errors.add("no_card_reason", _l("Say why the card is not here."))
            reason = None
        elif not reason.strip():
            reason = None
        elif len(reason.strip()) > NO_CARD_REASON_MAX:
            errors.add("no_card_reason", _l("At most %(n)d characters.", n=NO_CARD_REASON_MAX))
            reason = None
        else:
            reason = reason.strip()
    if isinstance(pin, str) and not pin.strip():
        pin = None
    if pin is not None and (not isinstance(pin, str) or not pin.strip().isdigit()
                            or len(pin.strip()) != PIN_DIGITS):
        errors.add("passbook_pin", _l("The PIN is 6 digits."))
        pin = None
    if not by_household:
        if reason is not None:
            errors.add("no_card_reason", _l("Only a checkout without a card has a reason for it."))
        if pin is not None:
            errors.add("passbook_pin", _l("Only a checkout without a card takes the passbook PIN."))
        return None, None
    if reason == "pin" and pin is None:
        errors.add("passbook_pin", _l("Type the household's passbook PIN."))
    return reason, (pin.strip() if pin else None)


def pin_matches(household: Household, pin: str) -> bool:
    stored = household.passbook_pin_hash
    return stored is not None and check_password_hash(stored, pin)


def check_pin(household: Household, pin: str) -> None:
    """The household's passbook PIN, typed at the counter: right, or ValidationError."""
    if household.passbook_pin_hash is None:
        raise ValidationError({"passbook_pin": [_l("This household has no passbook PIN: pick a reason instead.")]})
    if not pin_matches(household, pin):
        raise ValidationError({"passbook_pin": [_l("Wrong PIN.")]})


def cart_lines(errors: Errors, data: dict) -> dict[int, int]:
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


def _products(errors: Errors, wanted: dict[int, int]) -> dict:
    """{id: (id, name, points_price, active)} of the cart's products; unknown or retired ones are errors."""
    if not wanted:
        return {}
    found = {p.id: p for p in db.session.connection().execute(_PRODUCTS, {"ids": list(wanted)})}
    for product_id in wanted:
        product = found.get(product_id)
        if product is None or not product.active:
            errors.add("lines", _l("Unknown product: %(id)s.", id=product_id))
    return found


# On the table's columns, run on the connection: rows, no ORM loading (every checkout asks).
_products_table = Product.__table__
_PRODUCTS = (select(_products_table.c.id, _products_table.c.name, _products_table.c.points_price,
                    _products_table.c.active)
             .where(_products_table.c.id.in_(bindparam("ids", expanding=True))))


def _month_spent(household_id: int, now: datetime) -> int:
    """Points this household redeemed this local month, not counting voided checkouts."""
    today = local_today(now)
    start = local_midnight(today.replace(day=1))
    return db.session.scalar(
        select(func.coalesce(func.sum(Checkout.total_points), 0))
        .where(Checkout.household_id == household_id, Checkout.created_at >= start,
               Checkout.voided_at.is_(None))) or 0


def _monthly_limit() -> int | None:
    """CHECKOUT_MONTHLY_LIMIT, or None when there is none."""
    limit = current_app.config.get("CHECKOUT_MONTHLY_LIMIT")
    return None if limit in (None, "", 0, "0") else int(limit)


def monthly_limit_left(household: Household, now: datetime | None = None) -> int | None:
    limit = _monthly_limit()
    if limit is None:
        return None
    return max(limit - _month_spent(household.id, now or utcnow()), 0)


@dataclass(frozen=True, slots=True)
class SoldLine:
    """A line of a checkout just made; `product` has the product's id and name."""
    product_id: int
    product: Any
    quantity: int
    unit_points: int
    points: int


@dataclass(frozen=True, slots=True)
class Sale:
    """A checkout just made, as `check_out` answers it: the row's fields as
    written, its lines, and the supermarket, household and volunteer it names.
    Not an ORM object: nothing to read back, track or flush on the counter's
    path (read it again with `get_checkout` to change it)."""
    id: int
    supermarket_id: int
    household_id: int
    card_id: int | None
    card_used: bool
    no_card_reason: str | None
    total_points: int
    balance_after: int
    entry_id: int
    created_at: datetime
    created_by_id: int
    lines: list[SoldLine]
    supermarket: Supermarket
    household: Household
    created_by: User
    voided_at: None = None
    voided_by_id: None = None
    void_reason: None = None


def check_out(actor: User, data: dict, *, now: datetime | None = None) -> Sale:
    """Redeem a cart for a household at a supermarket. Refusals, each with
    nothing written, in the API contract's order (the first that applies is
    answered): validation-error, not-found,
    card-revoked, household-inactive, insufficient-stock, limit-exceeded,
    insufficient-points."""
    policy.require(actor, "checkout.sell")
    now = now or utcnow()
    errors = Errors()
    sm_id = as_id(data.get("supermarket_id"))
    if sm_id is None:
        errors.add("supermarket_id", _l("This field is required."))
    if not any(data.get(k) not in (None, "") for k in ("card_payload", "card_number", "household_id")):
        errors.add("card_payload", _l("Scan a card or type its number."))
    reason, pin = _no_card_fields(errors, data)
    wanted = cart_lines(errors, data)
    products = _products(errors, wanted)
    errors.raise_if_any()

    # The till (volunteers: only their own supermarkets; a retired one takes
    # no checkouts, 409) and the buyer at it: one read for a volunteer's scan.
    sm, household, card = at_till(actor, sm_id, payload=data.get("card_payload"),
                                  number=data.get("card_number"),
                                  household_id=data.get("household_id"))
    if pin is not None:
        check_pin(household, pin)
        reason = "pin"

    total = sum(products[pid].points_price * qty for pid, qty in wanted.items())
    conn = db.session.connection()
    card_id = card.id if card else None
    row = {"supermarket_id": sm.id, "household_id": household.id, "card_id": card_id,
           "card_used": card is not None, "no_card_reason": None if card else reason,
           "total_points": total, "created_at": now, "created_by_id": actor.id}
    line_rows = [{"product_id": pid, "quantity": qty, "unit_points": products[pid].points_price,
                  "points": products[pid].points_price * qty} for pid, qty in sorted(wanted.items())]
    recorded = dict(checkout=row, lines=line_rows, village_id=household.village_id, note=sm.name,
                    audit=audit.row(household_id=household.id, total=total, card_used=card is not None))
    # The debit comes first: its UPDATE locks the household row (the writer's
    # lock order: the household, then lots) and, on SQLite under
    # late_write_lock, begins the write transaction. Everything above was
    # read outside it; everything below holds it, and runs prebuilt Core
    # statements on one connection (the ORM's bookkeeping would cost more
    # than the SQL on the counter's hot path). On PostgreSQL, without a
    # monthly limit to check between them, the debit and the checkout's rows
    # are one statement; it writes nothing when the debit takes nothing.
    done = None if _monthly_limit() else writer.debit_and_record(conn, **recorded)
    if done is None:
        # Post what is due for the household, then take the points.
        balance = writer.debit(conn, household.id, total, now)
        left = monthly_limit_left(household, now)  # spent this month before this checkout
        if balance is None or (left is not None and total > left):
            # Refused. The contract orders the refusals stock, the monthly limit,
            # points: ask the lots first (whatever they take is rolled back).
            take_many(sm.id, wanted, kind="redemption")
            if left is not None and total > left:
                raise LimitExceeded(_l("This household can redeem %(n)d more points this month.", n=left))
            balance = writer.balance_of(conn, household.id)
            raise InsufficientPoints(_l("Balance %(balance)d points; this cart needs %(total)d.",
                                        balance=balance, total=total))
        row["balance_after"] = balance
        done = (*writer.record_checkout(conn, **recorded), balance)
    checkout_id, entry_id, line_ids, row["balance_after"] = done
    db.session.expire(household, ["balance", "updated_at"])
    # The lots last: every checkout of a product takes the same lot rows, so
    # they are locked for as short a time as can be (then the commit).
    take_and_record(sm.id, wanted, kind="redemption", actor=actor, household_id=household.id,
                    village_id=household.village_id, checkout_id=checkout_id)

    # The answer, without reading anything back.
    return Sale(id=checkout_id, entry_id=entry_id, supermarket=sm, household=household,
                created_by=actor, lines=[SoldLine(product=products[line["product_id"]], **line)
                                         for line in line_rows], **row)


def till(actor: User, supermarket_id) -> Supermarket:
    """A supermarket where this user may check out (volunteers: their own; admin: any)."""
    policy.require(actor, "checkout.sell")
    return get_supermarket(actor, supermarket_id)


def get_checkout(actor: User, checkout_id) -> Checkout:
    policy.require(actor, "checkout.read")
    checkout = db.session.get(Checkout, as_id(checkout_id)) if as_id(checkout_id) else None
    if checkout is None:
        raise NotFound()
    get_supermarket(actor, checkout.supermarket_id)  # out of scope: NotFound
    return checkout


def void_checkout(actor: User, checkout_id, data: dict, *, now: datetime | None = None) -> Checkout:
    """Give a checkout's points and goods back (each unit to its own lot):
    the volunteer on the same day, a cadre or admin later. Once."""
    policy.require(actor, "checkout.void")
    now = now or utcnow()
    checkout = get_checkout(actor, checkout_id)
    errors = Errors()
    reason = text(errors, data, "reason", required=True, max_len=REASON_MAX)
    errors.raise_if_any()
    policy.require(actor, "checkout.void", checkout, now=now)
    claimed = db.session.execute(
        update(Checkout).where(Checkout.id == checkout.id, Checkout.voided_at.is_(None))
        .values(voided_at=now, voided_by_id=actor.id, void_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict(_l("This checkout has already been voided."))
    db.session.expire(checkout)
    # The household, then the lots: the order check_out locks them in.
    writer.void_redemption(household_id=checkout.household_id, checkout_id=checkout.id,
                           entry_id=checkout.entry_id, total=checkout.total_points,
                           made_at=checkout.created_at, actor_id=actor.id, reason=reason, now=now)
    return_for_void(actor, checkout.id)
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
