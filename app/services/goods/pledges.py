"""Needs and pledges (认捐): the goods a supermarket is short of, shown to
anyone, and a donor's promise to bring some of them, filled by that donor's
donations to that supermarket (api.md, "Donor trace in public").

A pledge line's `received` is written only here, by `fill_pledges`, inside
the transaction that receives the donation: the donor's open pledges at the
supermarket are locked first (FOR UPDATE on PostgreSQL; SQLite's write
transactions are serialised already), then each line grows by a conditional
UPDATE that can never pass its quantity."""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from app.extensions import db
from app.models import Donation, DonationLine, Donor, Lot, LotMovement, Product, Supermarket, User, utcnow
from app.models.pledges import PLEDGE_STATUSES, Pledge, PledgeLine
from app.services import audit
from app.services.errors import Conflict, Errors, NotFound, ValidationError
from app.services.goods.products import product_ref, quantity as quantity_field
from app.services.people import policy
from app.services.people.scope import visible_supermarkets
from app.services.validate import as_id, text

MAX_LINES = 50
NOTE_MAX = 500
NEEDS_DAYS = 90
OPEN = ("open", "partial")


# -- needs (public) ---------------------------------------------------------------------

def public_supermarket(supermarket_id) -> Supermarket:
    """An active supermarket, for the public pages; unknown or retired: 404."""
    sm = db.session.get(Supermarket, as_id(supermarket_id)) if as_id(supermarket_id) else None
    if sm is None or not sm.active:
        raise NotFound()
    return sm


def public_supermarkets() -> list[Supermarket]:
    """Every active supermarket, by name, for the public list."""
    return list(db.session.scalars(select(Supermarket).where(Supermarket.active.is_(True))
                                   .order_by(Supermarket.name, Supermarket.id)))


def _redeemed_since(sm_id: int, since) -> dict[int, int]:
    """{product id: units redeemed here since `since`, less what voids gave back}."""
    signed = case((LotMovement.kind == "return", -LotMovement.quantity), else_=LotMovement.quantity)
    rows = db.session.execute(
        select(Lot.product_id, func.sum(signed)).join(Lot, Lot.id == LotMovement.lot_id)
        .where(Lot.supermarket_id == sm_id, LotMovement.kind.in_(("redemption", "return")),
               LotMovement.created_at >= since)
        .group_by(Lot.product_id))
    return {pid: max(0, int(n or 0)) for pid, n in rows}


def pledged_open(sm_id: int) -> dict[int, int]:
    """{product id: units still promised by open and partial pledges here}."""
    rows = db.session.execute(
        select(PledgeLine.product_id, func.sum(PledgeLine.quantity - PledgeLine.received))
        .join(Pledge, Pledge.id == PledgeLine.pledge_id)
        .where(Pledge.supermarket_id == sm_id, Pledge.status.in_(OPEN))
        .group_by(PledgeLine.product_id))
    return {pid: int(n or 0) for pid, n in rows}


def needs(supermarket_id) -> tuple[Supermarket, list[dict]]:
    """The active products once stocked here that are out (none left) or low
    (at or below their threshold), the most redeemed in 90 days first. Only
    products the supermarket has carried: one never stocked here may be
    nothing it hands out."""
    sm = public_supermarket(supermarket_id)
    stock = func.coalesce(func.sum(Lot.remaining), 0)
    rows = db.session.execute(
        select(Product, stock).join(Lot, Lot.product_id == Product.id)
        .where(Lot.supermarket_id == sm.id, Product.active.is_(True))
        .group_by(Product.id).having(stock <= Product.low_stock_threshold)).all()
    redeemed = _redeemed_since(sm.id, utcnow() - timedelta(days=NEEDS_DAYS))
    promised = pledged_open(sm.id)
    items = [{"product_id": p.id, "name": p.name, "unit": p.unit, "quantity": int(qty),
              "redeemed_90_days": redeemed.get(p.id, 0), "status": "out" if qty <= 0 else "low",
              "pledged": promised.get(p.id, 0)} for p, qty in rows]
    items.sort(key=lambda i: (-i["redeemed_90_days"], i["quantity"], i["name"], i["product_id"]))
    return sm, items


def public_pledges(sm: Supermarket) -> list[dict]:
    """Open pledges here as the public sees them: the donor named only with
    consent (爱心企业 / 爱心人士 otherwise), what is still to come."""
    pledges = db.session.scalars(
        select(Pledge).where(Pledge.supermarket_id == sm.id, Pledge.status.in_(OPEN))
        .order_by(Pledge.created_at, Pledge.id)).all()
    return [{"donor": public_donor_name(p.donor), "status": p.status, "created_at": p.created_at,
             "lines": [{"name": line.product.name, "unit": line.product.unit,
                        "quantity": line.quantity, "received": line.received}
                       for line in p.lines]} for p in pledges]


def public_donor_name(donor: Donor) -> str:
    if donor.named_in_public:
        return donor.name
    return "爱心人士" if donor.kind == "person" else "爱心企业"


# -- pledges ------------------------------------------------------------------------------

def _lines(errors: Errors, data: dict) -> list[tuple[Product, int]]:
    """The pledge's lines; the same product twice is one line of the sum."""
    raw = data.get("lines")
    if not isinstance(raw, list) or not raw:
        errors.add("lines", _l("Add at least one line."))
        return []
    if len(raw) > MAX_LINES:
        errors.add("lines", _l("At most %(n)d lines at once.", n=MAX_LINES))
        return []
    merged: dict[int, list] = {}
    for i, item in enumerate(raw):
        line_errors = Errors()
        if not isinstance(item, dict):
            line_errors.add("product_id", _l("Each line is an object with product_id and quantity."))
            item = {}
        product = product_ref(line_errors, item, active_only=True) if item else None
        qty = quantity_field(line_errors, item.get("quantity"), "quantity") if item else None
        for field, messages in line_errors.errors.items():
            for message in messages:
                errors.add(f"lines.{i}.{field}", message)
                errors.add("lines", _l("Line %(n)d: %(message)s", n=i + 1, message=message))
        if not line_errors:
            merged.setdefault(product.id, [product, 0])[1] += qty
    return [(p, q) for p, q in merged.values()]


def create_pledge(actor: User, data: dict) -> Pledge:
    """A donor promises goods to a supermarket (open until their donations fill it)."""
    policy.require(actor, "pledges.make")
    errors = Errors()
    sm_id = data.get("supermarket_id")
    if sm_id in (None, ""):
        errors.add("supermarket_id", _l("This field is required."))
    elif as_id(sm_id) is None:
        errors.add("supermarket_id", _l("Must be a whole number."))
    lines = _lines(errors, data)
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    if actor.donor_id is None:
        errors.add("donor_id", _l("This account is not tied to a donor."))
    errors.raise_if_any()
    sm = public_supermarket(sm_id)  # a donor may pledge to any supermarket taking donations
    pledge = Pledge(donor_id=actor.donor_id, supermarket_id=sm.id, status="open",
                    note=note.strip() if note and note.strip() else None,
                    created_by_id=actor.id, created_at=utcnow())
    db.session.add(pledge)
    db.session.flush()
    db.session.add_all([PledgeLine(pledge_id=pledge.id, product_id=p.id, quantity=q, received=0)
                        for p, q in lines])
    db.session.flush()
    audit.record(actor, "pledge.create", pledge, supermarket_id=sm.id, lines=len(lines),
                 units=sum(q for _, q in lines))
    return pledge


def visible_pledges(actor: User):
    """Pledges the user may read: a donor its own; volunteers and cadres those
    at the supermarkets they see; admin all."""
    policy.require(actor, "pledges.read")
    query = select(Pledge)
    reach = policy.reach(actor)
    if reach == "donor_record":
        return query.where(Pledge.donor_id == (actor.donor_id or 0))
    if reach == "all":
        return query
    markets = visible_supermarkets(actor).with_only_columns(Supermarket.id).order_by(None)
    return query.where(Pledge.supermarket_id.in_(markets))


def get_pledge(actor: User, pledge_id) -> Pledge:
    pid = as_id(pledge_id)
    found = db.session.scalars(visible_pledges(actor).where(Pledge.id == pid)).first() \
        if pid is not None else None
    if found is None:
        raise NotFound()
    return found


def search_pledges(actor: User, *, supermarket_id=None, status=None, page: int = 1,
                   per_page: int = 50) -> tuple[list[Pledge], int]:
    """Newest first; `status` one of the statuses, or "active" for open and partial both."""
    query = visible_pledges(actor)
    if supermarket_id not in (None, ""):
        if as_id(supermarket_id) is None:
            raise ValidationError({"supermarket_id": [_l("Must be a whole number.")]})
        query = query.where(Pledge.supermarket_id == as_id(supermarket_id))
    if status == "active":
        query = query.where(Pledge.status.in_(OPEN))
    elif status not in (None, ""):
        if status not in PLEDGE_STATUSES:
            raise ValidationError({"status": [_l("Not one of the allowed values.")]})
        query = query.where(Pledge.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return [], total
    items = db.session.scalars(query.order_by(Pledge.created_at.desc(), Pledge.id.desc())
                               .limit(per_page).offset(offset))
    return list(items), total


def cancel_pledge(actor: User, pledge_id) -> Pledge:
    """The donor takes back an open or partial pledge; what came stays counted."""
    policy.require(actor, "pledges.make")
    pledge = get_pledge(actor, pledge_id)
    done = db.session.execute(
        update(Pledge).where(Pledge.id == pledge.id, Pledge.status.in_(OPEN))
        .values(status="cancelled", cancelled_at=utcnow()),
        execution_options={"synchronize_session": False}).rowcount
    if not done:
        raise Conflict(_l("This pledge is already fulfilled or cancelled."))
    db.session.refresh(pledge)
    audit.record(actor, "pledge.cancel", pledge)
    return pledge


def open_pledges_for_home(actor: User, limit: int = 50) -> list[Pledge]:
    """The open and partial pledges at the supermarkets a volunteer keeps, oldest first."""
    if not policy.can(actor, "pledges.read") or policy.reach(actor) == "donor_record":
        return []
    return list(db.session.scalars(visible_pledges(actor).where(Pledge.status.in_(OPEN))
                                   .order_by(Pledge.created_at, Pledge.id).limit(limit)))


# -- filling ------------------------------------------------------------------------------

def fill_pledges(actor: User | None, donation: Donation, lines: list[DonationLine]) -> int:
    """A donation fills its donor's open pledges at its supermarket, oldest
    first, product by product, each line up to its quantity; returns the
    units counted. Another donor's donation fills nothing."""
    given: dict[int, int] = {}
    for line in lines:
        given[line.product_id] = given.get(line.product_id, 0) + line.quantity
    if not given:
        return 0
    # Lock the pledges (PostgreSQL): two donations at once fill them one after the other.
    pledge_ids = list(db.session.scalars(
        select(Pledge.id).where(Pledge.donor_id == donation.donor_id,
                                Pledge.supermarket_id == donation.supermarket_id,
                                Pledge.status.in_(OPEN))
        .order_by(Pledge.created_at, Pledge.id).with_for_update()))
    if not pledge_ids:
        return 0
    rank = {pid: i for i, pid in enumerate(pledge_ids)}
    rows = db.session.execute(
        select(PledgeLine.id, PledgeLine.pledge_id, PledgeLine.product_id, PledgeLine.quantity,
               PledgeLine.received)
        .where(PledgeLine.pledge_id.in_(pledge_ids), PledgeLine.product_id.in_(list(given)),
               PledgeLine.received < PledgeLine.quantity)).all()
    counted = 0
    for row in sorted(rows, key=lambda r: (rank[r.pledge_id], r.id)):
        take = min(given[row.product_id], row.quantity - row.received)
        if take <= 0:
            continue
        done = db.session.execute(
            update(PledgeLine).where(PledgeLine.id == row.id,
                                     PledgeLine.received + take <= PledgeLine.quantity)
            .values(received=PledgeLine.received + take),
            execution_options={"synchronize_session": False}).rowcount
        if done:
            given[row.product_id] -= take
            counted += take
    if counted:
        _settle(pledge_ids)
        audit.record(actor, "pledge.fill", donation, units=counted)
    return counted


def _settle(pledge_ids: list[int]) -> None:
    """Each touched pledge's status from its lines: partial, or fulfilled when all came."""
    short = (select(func.count()).select_from(PledgeLine)
             .where(PledgeLine.pledge_id == Pledge.id, PledgeLine.received < PledgeLine.quantity)
             .scalar_subquery())
    some = (select(func.coalesce(func.sum(PledgeLine.received), 0))
            .where(PledgeLine.pledge_id == Pledge.id).scalar_subquery())
    now = utcnow()
    db.session.execute(update(Pledge).where(Pledge.id.in_(pledge_ids), Pledge.status.in_(OPEN),
                                            short == 0)
                       .values(status="fulfilled", fulfilled_at=now),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(Pledge).where(Pledge.id.in_(pledge_ids), Pledge.status == "open",
                                            some > 0)
                       .values(status="partial"), execution_options={"synchronize_session": False})
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, (Pledge, PledgeLine)):
            db.session.expire(obj)
