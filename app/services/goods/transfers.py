"""Transfers between supermarkets: units leave the sending lots and arrive as
new lots that name the lot they came from, so the trace still reaches the donor."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Lot, Supermarket, Transfer, User, utcnow
from app.services import audit
from app.services.errors import Errors, NotFound
from app.services.goods.lots import take_units
from app.services.goods.products import product_ref
from app.services.goods.products import quantity as quantity_field
from app.services.people import policy
from app.services.people.scope import supermarket_for, visible_supermarkets
from app.services.validate import as_id, id_field, text

NOTE_MAX = 500


def transfer_stock(actor: User | None, data: dict) -> Transfer:
    """Move units to another supermarket: each new lot there names the lot it
    came from and keeps its donor and origin, so trace follows the units."""
    if actor is not None:
        policy.require(actor, "stock.keep")
    errors = Errors()
    from_id = id_field(errors, data, "from_supermarket_id")
    to_id = id_field(errors, data, "to_supermarket_id")
    product = product_ref(errors, data)
    qty = quantity_field(errors, data.get("quantity"), "quantity")
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    target = db.session.get(Supermarket, to_id) if to_id is not None else None
    if to_id is not None and target is None:
        errors.add("to_supermarket_id", _l("Unknown supermarket."))
    elif to_id is not None and to_id == from_id:
        errors.add("to_supermarket_id", _l("Choose another supermarket than the sending one."))
    errors.raise_if_any()
    source = supermarket_for(actor, "stock.keep", from_id)
    t = Transfer(from_supermarket_id=source.id, to_supermarket_id=target.id, product_id=product.id,
                 quantity=qty, note=note.strip() if note else None,
                 created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(t)
    db.session.flush()
    moved = take_units(source.id, product.id, qty, kind="transfer", actor=actor, transfer_id=t.id)
    sources = {lot.id: lot for lot in db.session.scalars(
        select(Lot).where(Lot.id.in_([m.lot_id for m in moved])))}
    for m in moved:
        src = sources[m.lot_id]
        db.session.add(Lot(
            supermarket_id=target.id, product_id=product.id, donor_id=src.donor_id,
            donation_line_id=src.donation_line_id, stocktake_id=src.stocktake_id,
            source_lot_id=src.id, transfer_id=t.id, quantity=m.quantity, remaining=m.quantity,
            redeemed=0, written_off=0, transferred_out=0,
            # The units keep their age and their best-before date, so they are
            # still taken expiring-first, then oldest.
            received_on=src.received_on, best_before=src.best_before, created_at=t.created_at))
    db.session.flush()
    audit.record(actor, "stock.transfer", t, product_id=product.id, quantity=qty,
                 to_supermarket_id=target.id)
    return t


def get_transfer(actor: User, transfer_id) -> Transfer:
    """A transfer the user may see from either end."""
    policy.require(actor, "stock.read")
    t = db.session.get(Transfer, as_id(transfer_id)) if as_id(transfer_id) else None
    if t is None:
        raise NotFound()
    visible = {s.id for s in db.session.scalars(visible_supermarkets(actor))}
    if t.from_supermarket_id not in visible and t.to_supermarket_id not in visible:
        raise NotFound()
    return t


def transfers_at(actor: User, supermarket_id, *, limit: int = 50) -> tuple[Supermarket, list[Transfer]]:
    sm = supermarket_for(actor, "stock.read", supermarket_id)
    items = db.session.scalars(
        select(Transfer).where((Transfer.from_supermarket_id == sm.id) |
                               (Transfer.to_supermarket_id == sm.id))
        .order_by(Transfer.id.desc()).limit(limit)).all()
    return sm, list(items)
