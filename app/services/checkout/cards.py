"""Issue, revoke and resolve member cards (积分卡)."""
import re
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import Card, Household, User, utcnow
from app.services import audit
from app.services.errors import DomainError, NotFound, ValidationError
from app.services.people.scope import get_household, require_role, writable_household

# The QR payload: "8" marks an Aixin card, "1" is the payload version, then the
# 39-digit token. Digits only: USB scanners behind a Chinese input method can
# swallow letters, and numeric QR codes stay small (version 2, 25x25).
PAYLOAD_PREFIX = "81"
TOKEN_DIGITS = 39
PAYLOAD_RE = re.compile(rf"{PAYLOAD_PREFIX}(\d{{{TOKEN_DIGITS}}})")
NUMBER_RE = re.compile(r"\d{10}")


class CardRevoked(DomainError):
    slug = "card-revoked"
    status = 410
    title = _l("This card has been revoked. Ask the village staff for the new card.")


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _new_number() -> str:
    while True:
        body = f"{secrets.randbelow(9 * 10**8) + 10**8}"
        number = body + luhn_digit(body)
        if not db.session.scalars(select(Card.id).where(Card.number == number)).first():
            return number


def qr_payload(card: Card) -> str:
    return PAYLOAD_PREFIX + card.token


def format_number(number: str) -> str:
    """1234 5678 90: easier to read out and type."""
    return f"{number[:4]} {number[4:8]} {number[8:]}"


def issue_card(actor: User, household_id) -> Card:
    """A new card for the household; any earlier card is revoked at once."""
    household = writable_household(actor, household_id)
    if household.status != "active":
        raise ValidationError({"household_id": [_l("This household has exited the programme.")]})
    now = utcnow()
    revoked = db.session.execute(
        update(Card).where(Card.household_id == household.id, Card.status == "active")
        .values(status="revoked", revoked_at=now)
    ).rowcount
    token = f"{secrets.randbelow(10**TOKEN_DIGITS):0{TOKEN_DIGITS}d}"
    card = Card(household_id=household.id, token=token, number=_new_number(), status="active",
                issued_at=now, issued_by_id=actor.id)
    db.session.add(card)
    audit.record(actor, "card.issue", card, household_id=household.id, revoked=revoked)
    return card


def current_card(household: Household) -> Card | None:
    return db.session.scalars(
        select(Card).where(Card.household_id == household.id, Card.status == "active")
        .order_by(Card.id.desc())
    ).first()


def _normalise(value) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"[\s-]", "", value)


def find_card(payload=None, number=None) -> Card | None:
    """The card a scan or a typed number names (any status), or None."""
    if payload is not None:
        match = PAYLOAD_RE.fullmatch(_normalise(payload) or "")
        if not match:
            return None
        return db.session.scalars(_BY_TOKEN, {"token": match.group(1)}).first()
    value = _normalise(number)
    if not value or not NUMBER_RE.fullmatch(value):
        return None
    return db.session.scalars(_BY_NUMBER, {"number": value}).first()


# Built once: the counter asks on every scan.
_BY_TOKEN = select(Card).where(Card.token == bindparam("token"))
_BY_NUMBER = select(Card).where(Card.number == bindparam("number"))


def resolve_card(actor: User, *, payload=None, number=None) -> Card:
    """What a scan gives the counter: the active card and its household.
    Unknown or out of scope: NotFound; revoked: CardRevoked."""
    require_role(actor, "admin", "cadre", "staff", "volunteer")
    if payload is None and number is None:
        raise ValidationError({"payload": [_l("Scan a card or type its number.")]})
    card = find_card(payload=payload, number=number)
    if card is None:
        raise NotFound(_l("No card with this code."))
    get_household(actor, card.household_id)  # out of scope: NotFound
    if card.status != "active":
        raise CardRevoked()
    return card
