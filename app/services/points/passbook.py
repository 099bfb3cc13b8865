"""The household's own passbook (积分存折) without a login: the card number and
a 6-digit PIN that village staff set. Only the PIN's hash is kept; the view
layer throttles failed attempts."""
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
from app.services.points.awards import pending_by_household, reversed_by
from app.services.people.scope import writable_household

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
    the reversals naming them, and the total number of entries."""
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.household_id == household.id))
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id)
        .order_by(LedgerEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    pending = pending_by_household([household.id]).get(household.id, 0)
    return {"pending": pending, "entries": entries, "reversals": reversed_by(entries),
            "total": total, "page": page, "per_page": per_page}
