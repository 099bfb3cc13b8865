"""The passbook (积分存折): a household's entries as staff, cadres and the API
read them, and the household's own view without a login, opened by its card
number and a 6-digit PIN that village staff set. Only the PIN's hash is kept;
the view layer throttles failed attempts."""
import re
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import Household, LedgerEntry, User
from app.services import audit
from app.services.people.accounts import hash_password
from app.services.checkout.cards import find_card
from app.services.errors import Errors
from app.services.people import policy
from app.services.people.scope import get_household, writable_household

PIN_RE = re.compile(r"\d{6}")
_dummy_hash: str | None = None


def weak_pin(pin: str) -> bool:
    """000000, 123456, 654321 and the like are the first guesses anyone tries."""
    return len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210"


def new_pin() -> str:
    while True:
        pin = f"{secrets.randbelow(10**6):06d}"
        if not weak_pin(pin):
            return pin


def set_passbook_pin(actor: User, household_id, pin: str | None = None) -> tuple[Household, str]:
    """Set (or reset) the household's passbook PIN; with none given, a random one.
    Returns the household and the PIN, to be shown once and never stored."""
    policy.require(actor, "passbook.pin")
    household = writable_household(actor, household_id)
    errors = Errors()
    generated = pin is None or (isinstance(pin, str) and not pin.strip())
    if generated:
        pin = new_pin()
    elif not isinstance(pin, str) or not PIN_RE.fullmatch(pin.strip()):
        errors.add("pin", _l("The PIN is 6 digits."))
    elif weak_pin(pin.strip()):
        errors.add("pin", _l("This PIN is too easy to guess; choose another."))
    if household.status != "active":
        errors.add("pin", _l("This household has exited the programme."))
    errors.raise_if_any()
    pin = pin.strip()
    household.passbook_pin_hash = hash_password(pin)
    audit.record(actor, "household.passbook_pin", household, generated=generated)
    return household, pin


def clear_passbook_pin(actor: User, household_id) -> Household:
    """Remove the PIN: the passbook can no longer be opened without a login."""
    policy.require(actor, "passbook.pin")
    household = writable_household(actor, household_id)
    if household.passbook_pin_hash is not None:
        household.passbook_pin_hash = None
        audit.record(actor, "household.passbook_pin_clear", household)
    return household


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not-a-real-pin")
    return _dummy_hash


def open_passbook(card_number, pin) -> Household | None:
    """The household whose active card has this number and whose PIN this is; else None.
    Every failure costs one hash check, so timing tells nothing about the card."""
    pin = pin.strip() if isinstance(pin, str) else ""
    card = find_card(number=card_number) if isinstance(card_number, str) else None
    household = card.household if card is not None and card.status == "active" else None
    stored = household.passbook_pin_hash if household is not None else None
    if stored is None or not PIN_RE.fullmatch(pin):
        check_password_hash(_dummy(), pin or "x")
        return None
    if not check_password_hash(stored, pin) or household.status != "active":
        return None
    return household


def passbook_page(household: Household, *, page: int = 1, per_page: int = 200):
    """What the passbook shows: points on notice, a page of entries (newest first),
    the reversals naming them, and the total number of entries. A page past
    the last (even ?page=10**23) is empty."""
    page = min(max(page, 1), 1_000_000)
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.household_id == household.id))
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id)
        .order_by(LedgerEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    pending = pending_by_household([household.id]).get(household.id, 0)
    return {"pending": pending, "entries": entries, "reversals": reversed_by(entries),
            "total": total, "page": page, "per_page": per_page}


def household_ledger(actor: User, household_id, *, page: int = 1, per_page: int = 50):
    """A page of a household's entries, newest first, with the total."""
    household = get_household(actor, household_id)
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.household_id == household.id))
    items = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id)
        .order_by(LedgerEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return household, items, total


def reversed_by(entries: list[LedgerEntry]) -> dict[int, int]:
    """{entry id: id of the reversal naming it}, for these entries, in one query."""
    ids = [e.id for e in entries]
    if not ids:
        return {}
    rows = db.session.execute(
        select(LedgerEntry.reversal_of, LedgerEntry.id).where(LedgerEntry.reversal_of.in_(ids))
    ).all()
    return dict(rows)


def pending_by_household(household_ids) -> dict[int, int]:
    """Signed sum of pending and disputed entries per household, in one query."""
    ids = list(household_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(LedgerEntry.household_id, func.sum(LedgerEntry.points))
        .where(LedgerEntry.household_id.in_(ids),
               LedgerEntry.status.in_(("pending", "disputed")))
        .group_by(LedgerEntry.household_id)
    ).all()
    return {hid: int(total or 0) for hid, total in rows}
