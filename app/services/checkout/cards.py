"""Member cards (积分卡): issue (revoking the old card), the village's card
sheet, and the one path from a scanned card, a typed card number or a
household id to the household a supermarket may serve (`at_counter`)."""
import re
import secrets

from cryptography.fernet import InvalidToken
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Card, Household, Region, Supermarket, User, user_supermarkets, utcnow
from app.services import audit
from app.services.checkout import card_key
from app.services.checkout.card_key import CardKeyMissing
from app.services.errors import DomainError, HouseholdInactive, NotFound, ValidationError
from app.services.people import policy
from app.services.people.regions import require_open
from app.services.people.scope import (ancestor_paths, get_household, get_region, get_supermarket,
                                       writable_household, writable_village)
from app.services.validate import as_id, contains

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


def new_token() -> str:
    return f"{secrets.randbelow(10**TOKEN_DIGITS):0{TOKEN_DIGITS}d}"


def token_columns(token: str, key=None) -> dict:
    """How a card keeps its token: the hash it is found by, and the token sealed."""
    return {"token_hash": card_key.token_hash(token), "token_sealed": card_key.seal(token, key)}


def card_token(card: Card, key=None) -> str:
    """The card's token, to print it: in memory right after issue, otherwise
    unsealed with the card key (CardKeyMissing when this server has none that
    opens it). Never needed to scan."""
    return card.issued_token or card_key.unseal(card.token_sealed, key)


def qr_payload(card: Card, key=None) -> str:
    return PAYLOAD_PREFIX + card_token(card, key)


def reprintable(card: Card, key=None) -> bool:
    """Whether this server can print the card again (it has the card key)."""
    try:
        card_token(card, key)
    except CardKeyMissing:
        return False
    return True


def format_number(number: str) -> str:
    """1234 5678 90: easier to read out and type."""
    return f"{number[:4]} {number[4:8]} {number[8:]}"


def issue_card(actor: User, household_id) -> Card:
    """A new card for the household; any earlier card is revoked at once."""
    policy.require(actor, "cards.issue")
    household = writable_household(actor, household_id)
    if household.status != "active":
        raise ValidationError({"household_id": [_l("This household has exited the programme.")]})
    now = utcnow()
    revoked = db.session.execute(
        update(Card).where(Card.household_id == household.id, Card.status == "active")
        .values(status="revoked", revoked_at=now)
    ).rowcount
    token = new_token()
    card = Card(household_id=household.id, **token_columns(token), number=_new_number(),
                status="active", issued_at=now, issued_by_id=actor.id)
    card.issued_token = token
    db.session.add(card)
    audit.record(actor, "card.issue", card, household_id=household.id, revoked=revoked)
    return card


CHUNK = 5000


def new_numbers(n: int, rng=None) -> list[str]:
    """n card numbers, unique among themselves and unused by any card so far
    (a few queries for any n, instead of one per card)."""
    draw = (lambda: rng.randrange(10**8, 10**9)) if rng is not None else (
        lambda: secrets.randbelow(9 * 10**8) + 10**8)
    numbers: set[str] = set()
    while len(numbers) < n:
        fresh = set()
        while len(fresh) < n - len(numbers):
            body = f"{draw()}"
            number = body + luhn_digit(body)
            if number not in numbers:
                fresh.add(number)
        used = set()
        batch = sorted(fresh)
        for start in range(0, len(batch), 900):
            used.update(db.session.scalars(
                select(Card.number).where(Card.number.in_(batch[start:start + 900]))))
        numbers |= fresh - used
    return list(numbers)


def issue_in_bulk(household_ids: list[int], *, actor_id: int | None, now, rng=None) -> int:
    """A new active card for each of these households, written in chunks (the
    callers revoke any earlier card first). Shared by a village's "cards for
    every household" and the demo."""
    numbers = new_numbers(len(household_ids), rng)
    key = card_key.sealer()
    rows = [{"household_id": hid, **token_columns(new_token(), key),
             "number": number, "status": "active", "issued_at": now, "issued_by_id": actor_id}
            for hid, number in zip(household_ids, numbers)]
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(Card), rows[start:start + CHUNK])
    return len(rows)


def issue_village_cards(actor: User, village_id, *, reissue: bool = False) -> dict:
    """Cards for a whole village in one go: every active household without a
    current card gets one (run again, none); with `reissue`, every current
    card of the village's active households is revoked and replaced.
    Returns {"issued": N, "revoked": M}."""
    policy.require(actor, "cards.issue")
    village = writable_village(actor, village_id)
    now = utcnow()
    # Take the village's row first: two clerks pressing the button at once
    # queue here instead of giving a household two active cards.
    db.session.execute(update(Region).where(Region.id == village.id)
                       .values(household_seq=Region.household_seq)
                       .execution_options(synchronize_session=False))
    active = select(Household.id).where(Household.village_id == village.id,
                                        Household.status == "active")
    revoked = 0
    if reissue:
        revoked = db.session.execute(
            update(Card).where(Card.status == "active", Card.household_id.in_(active))
            .values(status="revoked", revoked_at=now)
            .execution_options(synchronize_session=False)).rowcount
        wanted = db.session.scalars(active.order_by(Household.code)).all()
    else:
        has_card = select(Card.id).where(Card.household_id == Household.id,
                                         Card.status == "active").exists()
        wanted = db.session.scalars(active.where(~has_card).order_by(Household.code)).all()
    issued = issue_in_bulk(wanted, actor_id=actor.id, now=now) if wanted else 0
    audit.record(actor, "cards.issue_village", village, issued=issued, revoked=revoked,
                 reissue=reissue)
    return {"issued": issued, "revoked": revoked}


def village_card_counts(actor: User, village_id) -> dict:
    """For the village's card page: its active households, how many hold a
    current card, how many do not."""
    policy.require(actor, "cards.print")
    village = get_region(actor, as_id(village_id) if village_id not in (None, "") else None)
    if village.level != "village":
        raise NotFound()
    households = db.session.scalar(
        select(func.count()).select_from(Household)
        .where(Household.village_id == village.id, Household.status == "active")) or 0
    with_card = db.session.scalar(
        select(func.count(func.distinct(Card.household_id))).select_from(Card)
        .join(Household, Household.id == Card.household_id)
        .where(Household.village_id == village.id, Household.status == "active",
               Card.status == "active")) or 0
    return {"village": village, "households": households, "with_card": with_card,
            "without_card": households - with_card, "unprintable": _unprintable(village)}


def _unprintable(village: Region) -> int:
    """How many of the village's current cards this server cannot print again
    (no card key opens them); they still scan."""
    sealed = db.session.scalars(
        select(Card.token_sealed).join(Household, Household.id == Card.household_id)
        .where(Household.village_id == village.id, Household.status == "active",
               Card.status == "active")).all()
    if not sealed:
        return 0
    if not card_key.has_key():
        return len(sealed)
    key = card_key.sealer(create=False)
    missing = 0
    for value in sealed:
        try:
            card_key.unseal(value, key)
        except CardKeyMissing:
            missing += 1
    return missing


def current_card(household: Household) -> Card | None:
    return db.session.scalars(
        select(Card).where(Card.household_id == household.id, Card.status == "active")
        .order_by(Card.id.desc())
    ).first()


def _normalise(value) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"[\s-]", "", value)


def _card_key(payload=None, number=None) -> tuple[str, str] | None:
    """What a scan or a typed number looks a card up by: ("token_hash", the
    token's SHA-256) for a scan, ("number", the digits) for a number; None when
    it cannot name a card."""
    if payload is not None:
        match = PAYLOAD_RE.fullmatch(_normalise(payload) or "")
        return ("token_hash", card_key.token_hash(match.group(1))) if match else None
    value = _normalise(number)
    return ("number", value) if value and NUMBER_RE.fullmatch(value) else None


def find_card(payload=None, number=None) -> Card | None:
    """The card a scan or a typed number names (any status), or None."""
    found = _card_key(payload, number)
    if found is None:
        return None
    column, value = found
    return db.session.scalars(_BY_HASH if column == "token_hash" else _BY_NUMBER, {column: value}).first()


# Built once: the counter asks on every scan. A scan hashes the token and never
# unseals anything: it works without the card key.
_BY_HASH = select(Card).where(Card.token_hash == bindparam("token_hash"))
_BY_NUMBER = select(Card).where(Card.number == bindparam("number"))


def resolve_card(actor: User, *, payload=None, number=None) -> Card:
    """What a scan gives anyone who may resolve cards: the active card and its
    household, within the user's reach. Unknown or out of reach: NotFound;
    revoked: CardRevoked."""
    policy.require(actor, "cards.resolve")
    if payload is None and number is None:
        raise ValidationError({"payload": [_l("Scan a card or type its number.")]})
    card = find_card(payload=payload, number=number)
    if card is None:
        raise NotFound(_l("No card with this code."))
    get_household(actor, card.household_id)  # out of scope: NotFound
    if card.status != "active":
        raise CardRevoked()
    return card


# -- at the counter ---------------------------------------------------------------

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


# The same with the card: the scan's one read (the card, its household, and
# whether the supermarket's region holds the household's village).
_CARD_AT_COUNTER = (
    select(Card, Household,
           (func.substr(Region.path, 1, func.length(_served_by.path)) == _served_by.path).label("served"))
    .join(Household, Household.id == Card.household_id)
    .join(Region, Region.id == Household.village_id)
    .join(_served_by, _served_by.id == bindparam("region_id"))
)
_CARD_AT_COUNTER_BY_HASH = _CARD_AT_COUNTER.where(Card.token_hash == bindparam("token_hash"))
_CARD_AT_COUNTER_BY_NUMBER = _CARD_AT_COUNTER.where(Card.number == bindparam("number"))


def at_counter(actor: User, sm: Supermarket, *, payload=None, number=None,
               household_id=None) -> tuple[Household, Card | None]:
    """The buyer at a supermarket's counter, from a scanned card, a typed card
    number or (without a card) a household id, and the card used: the one path
    from a card or a household to "may this supermarket serve it". `sm` is a
    supermarket where `actor` may sell (its own volunteers, admins), who may
    see every household it serves. Refusals in the API contract's order: unknown, or not
    served here: NotFound; a revoked card: CardRevoked; an exited household:
    HouseholdInactive."""
    policy.require(actor, "checkout.sell")
    if all(v in (None, "") for v in (payload, number, household_id)):
        raise ValidationError({"payload": [_l("Scan a card or type its number.")]})
    if payload not in (None, "") or number not in (None, ""):
        # The card, its household and whether this supermarket serves it: one read.
        found = _card_at_counter(sm, payload=payload if payload not in (None, "") else None,
                                 number=number if payload in (None, "") else None)
        return _buyer(*(found or (None, None, False)))
    household_id = as_id(household_id)
    if household_id is None:
        raise NotFound()
    household = db.session.scalars(SERVED_HOUSEHOLD, {"household_id": household_id,
                                                      "region_id": sm.region_id}).first()
    if household is None:
        raise NotFound()
    if household.status != "active":
        raise HouseholdInactive(_l("This household has exited the programme."))
    return household, None


def _buyer(card: Card | None, household: Household | None, served) -> tuple[Household, Card]:
    """A scanned or typed card's buyer, or the refusal, in the contract's order:
    unknown card, then not served here (404), replaced card (410), exited household (422)."""
    if card is None:
        raise NotFound(_l("No card with this code."))
    if not served:
        raise NotFound(_l("This household is not served by this supermarket."))
    if card.status != "active":
        raise CardRevoked()
    if household.status != "active":
        raise HouseholdInactive(_l("This household has exited the programme."))
    return household, card


# A volunteer's own supermarket and the card scanned there, in one read: the
# supermarket drives it and the card is joined to it (left), so an unknown card
# still finds the supermarket and the refusals keep their order.
_served = (func.substr(Region.path, 1, func.length(_served_by.path)) == _served_by.path).label("served")


def _till_with_card(card_matches):
    return (
        select(Supermarket, Card, Household, _served)
        .join(user_supermarkets, and_(user_supermarkets.c.supermarket_id == Supermarket.id,
                                      user_supermarkets.c.user_id == bindparam("user_id")))
        .join(_served_by, _served_by.id == Supermarket.region_id)
        .outerjoin(Card, card_matches)
        .outerjoin(Household, Household.id == Card.household_id)
        .outerjoin(Region, Region.id == Household.village_id)
        .where(Supermarket.id == bindparam("supermarket_id"))
    )


_TILL_WITH_CARD = {"token_hash": _till_with_card(Card.token_hash == bindparam("token_hash")),
                   "number": _till_with_card(Card.number == bindparam("number"))}


def at_till(actor: User, supermarket_id, *, payload=None, number=None,
            household_id=None) -> tuple[Supermarket, Household, Card | None]:
    """A supermarket where `actor` may sell (`get_supermarket`), open
    (`require_open`), and the buyer at its counter with the card used
    (`at_counter`), with the same refusals in the same order. A volunteer's
    scan or typed card number, the counter's case on nearly every checkout,
    is one read; anything else takes the two."""
    policy.require(actor, "checkout.sell")
    key = None
    if policy.reach(actor) == "supermarkets" and isinstance(supermarket_id, int) \
            and as_id(supermarket_id) is not None:
        if payload not in (None, ""):
            key = _card_key(payload=payload)
        elif number not in (None, ""):
            key = _card_key(number=number)
    if key is None:  # an admin, a household without a card, or a code that names no card
        sm = get_supermarket(actor, supermarket_id)
        require_open(sm)
        return (sm, *at_counter(actor, sm, payload=payload, number=number, household_id=household_id))
    column, value = key
    found = db.session.execute(_TILL_WITH_CARD[column], {
        column: value, "user_id": actor.id, "supermarket_id": supermarket_id}).first()
    if found is None:
        raise NotFound()  # not one of this volunteer's supermarkets
    sm, card, household, served = found
    require_open(sm)
    return (sm, *_buyer(card, household, served))


def _card_at_counter(sm: Supermarket, *, payload=None, number=None):
    """(card, its household, whether `sm` serves it) for a scan or a typed
    number, or None for no such card."""
    found = _card_key(payload, number)
    if found is None:
        return None
    column, value = found
    statement = _CARD_AT_COUNTER_BY_HASH if column == "token_hash" else _CARD_AT_COUNTER_BY_NUMBER
    return db.session.execute(statement, {column: value, "region_id": sm.region_id}).first()


SEARCH_MAX = 50
SEARCH_LIMIT = 20


def served_households(actor: User, sm: Supermarket, q) -> list[Household]:
    """The counter's search for a household that forgot its card: active
    households the supermarket serves whose head's name or household code
    contains `q` (a code typed with or without its dash), at most 20, by code."""
    policy.require(actor, "checkout.sell")
    q = (q if isinstance(q, str) else "").replace("\x00", "").strip()
    if not q:
        raise ValidationError({"q": [_l("Type a name or a household code.")]})
    if len(q) > SEARCH_MAX:
        raise ValidationError({"q": [_l("At most %(n)d characters.", n=SEARCH_MAX)]})
    served = aliased(Region)
    wanted = contains(q, Household.head_name, Household.code)
    compact = re.sub(r"[\s-]", "", q)
    if compact.isdigit() and compact != q:
        wanted = or_(wanted, contains(compact, Household.code))
    query = (select(Household)
             .join(Region, Region.id == Household.village_id)
             .join(served, served.id == sm.region_id)
             .where(Region.path.startswith(served.path), Household.status == "active", wanted)
             .order_by(Household.code).limit(SEARCH_LIMIT))
    return list(db.session.scalars(query))


def household_by_code(actor: User, sm: Supermarket, code) -> Household | None:
    """A household code typed into the scan field (12345678 or 1234-5678):
    the active household it names among those the supermarket serves, or None."""
    policy.require(actor, "checkout.sell")
    code = code.strip() if isinstance(code, str) else ""
    if not code or len(code) > 32:
        return None
    forms = {code}
    digits = code.replace("-", "")
    if digits.isdigit():
        forms |= {digits, f"{digits[:4]}-{digits[4:]}"}
    served = aliased(Region)
    return db.session.scalars(
        select(Household).join(Region, Region.id == Household.village_id)
        .join(served, served.id == sm.region_id)
        .where(Region.path.startswith(served.path), Household.code.in_(sorted(forms)))
    ).first()


def card_home(actor: User, sm: Supermarket, *, payload=None, number=None) -> dict | None:
    """For the counter's "not found": a card that exists but belongs to a
    household another supermarket serves: its township (the village's parent)
    and the supermarkets serving it, so the volunteer can send the household
    to its own supermarket. None for an unknown card or one served here. Only
    the place is told, never the household (the API keeps answering 404)."""
    policy.require(actor, "checkout.sell")
    card = find_card(payload=payload) if payload not in (None, "") else find_card(number=number)
    if card is None:
        return None
    village = db.session.scalars(
        select(Region).join(Household, Household.village_id == Region.id)
        .where(Household.id == card.household_id)).first()
    if village is None or db.session.scalars(SERVED_HOUSEHOLD, {
            "household_id": card.household_id, "region_id": sm.region_id}).first() is not None:
        return None
    paths = ancestor_paths(village.path)
    above = {r.path: r for r in db.session.scalars(select(Region).where(Region.path.in_(paths)))}
    township = next((r for r in above.values() if r.level == "township"), None)
    township = township or db.session.get(Region, village.parent_id) or village
    markets = db.session.scalars(
        select(Supermarket).join(Region, Region.id == Supermarket.region_id)
        .where(Region.path.in_(paths), Supermarket.active.is_(True))
        .order_by(func.length(Region.path).desc(), Supermarket.id)).all()
    return {"township": township.name, "supermarkets": [m.name for m in markets]}


# -- the village's card sheet -----------------------------------------------------------

def village_cards(actor: User, village_id) -> tuple:
    """The village and its households' current cards, in household-code order."""
    policy.require(actor, "cards.print")
    if village_id in (None, ""):
        raise ValidationError({"village_id": [_l("This field is required.")]})
    try:
        village = get_region(actor, int(village_id))
    except (TypeError, ValueError):
        raise ValidationError({"village_id": [_l("Must be a whole number.")]})
    if village.level != "village":
        raise NotFound()
    cards = db.session.scalars(
        select(Card).join(Household, Card.household_id == Household.id)
        .where(Household.village_id == village.id, Household.status == "active",
               Card.status == "active")
        .order_by(Household.code)
    ).all()
    return village, cards


# -- the card key's rotation ----------------------------------------------------------

def reseal_cards() -> dict:
    """Every card's token sealed again with the first card key (after a new key
    was put first, the old ones kept after it), so the old keys can then be
    dropped. Cards no key here opens are left as they are and counted. Returns
    {"resealed": N, "unopened": M}."""
    key = card_key.sealer(create=False)
    resealed = unopened = 0
    last = 0
    while True:
        rows = db.session.execute(select(Card.id, Card.token_sealed).where(Card.id > last)
                                  .order_by(Card.id).limit(CHUNK)).all()
        if not rows:
            break
        last = rows[-1][0]
        changed = []
        for card_id, sealed in rows:
            try:
                changed.append({"id": card_id, "token_sealed": key.rotate(sealed.encode()).decode()})
            except (InvalidToken, ValueError, TypeError):
                unopened += 1
        if changed:
            db.session.execute(update(Card), changed)  # by primary key
        resealed += len(changed)
    audit.record(None, "cards.reseal", None, resealed=resealed, unopened=unopened)
    return {"resealed": resealed, "unopened": unopened}
