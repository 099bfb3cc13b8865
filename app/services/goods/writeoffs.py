"""Write-offs (报损): units taken out of stock for a reason (damaged, expired,
lost, or a stocktake's shortage), from a lot the volunteer chose, else from
the lots that expire first, then the oldest."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models import WRITEOFF_REASONS, Lot, User, Writeoff, utcnow
from app.services import audit
from app.services.errors import Errors
from app.services.goods.lots import take_units
from app.services.goods.products import product_ref
from app.services.goods.products import quantity as quantity_field
from app.services.people.scope import supermarket_for
from app.services.validate import as_id, choice, text

NOTE_MAX = 500
NO_LOT = _l("No such lot at this supermarket.")


def write_off(actor: User | None, supermarket_id, data: dict) -> Writeoff:
    """报损: take units out of stock for a reason, from `lot_id` when given
    (a lot of that product at that supermarket), else expiring-first."""
    sm = supermarket_for(actor, "stock.keep", supermarket_id)
    errors = Errors()
    product = product_ref(errors, data)
    qty = quantity_field(errors, data.get("quantity"), "quantity")
    reason = choice(errors, data, "reason", WRITEOFF_REASONS)
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    lot = lot_field(errors, data, sm.id, product.id if product is not None else None)
    errors.raise_if_any()
    return record_writeoff(actor, sm.id, product.id, qty, reason, note,
                           lot_id=lot.id if lot is not None else None)


def lot_field(errors: Errors, data: dict, supermarket_id: int, product_id: int | None,
              field: str = "lot_id") -> Lot | None:
    """The lot named by `lot_id`, if given: one of this product at this
    supermarket (any other is a 422, whoever's it is)."""
    raw = data.get(field)
    if raw is None or raw == "":
        return None
    lot_id = as_id(raw)
    lot = db.session.get(Lot, lot_id) if lot_id is not None else None
    if lot is None or lot.supermarket_id != supermarket_id:
        errors.add(field, NO_LOT)
        return None
    if product_id is not None and lot.product_id != product_id:
        errors.add(field, _l("This lot holds another product."))
        return None
    return lot


def record_writeoff(actor: User | None, supermarket_id: int, product_id: int, qty: int,
                    reason: str, note: str | None, stocktake_id: int | None = None,
                    lot_id: int | None = None) -> Writeoff:
    w = Writeoff(supermarket_id=supermarket_id, product_id=product_id, quantity=qty, reason=reason,
                 note=note.strip() if note else None, stocktake_id=stocktake_id,
                 created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(w)
    db.session.flush()
    take_units(supermarket_id, product_id, qty, kind="writeoff", actor=actor, lot_id=lot_id,
               writeoff_id=w.id)
    audit.record(actor, "stock.writeoff", w, product_id=product_id, quantity=qty, reason=reason,
                 stocktake_id=stocktake_id, lot_id=lot_id)
    return w


def writeoffs_at(actor: User, supermarket_id, *, page: int = 1, per_page: int = 50):
    sm = supermarket_for(actor, "stock.read", supermarket_id)
    query = select(Writeoff).where(Writeoff.supermarket_id == sm.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Writeoff.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return sm, list(items), total
