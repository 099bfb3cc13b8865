"""Stock at each supermarket: the sum of its lots. Taking units (write-off,
transfer, and the checkout of issue 5) goes oldest lot first through
`take_units`, which keeps invariant 3 under any race:

- PostgreSQL: the lots of that product at that supermarket are locked
  (SELECT ... FOR UPDATE, in id order, so two takers never deadlock on them);
- SQLite: the write transaction already holds the database lock (BEGIN IMMEDIATE);
- both: each lot is changed by a conditional UPDATE (remaining >= n) whose row
  count is checked, and the lot's CHECK constraints refuse a negative remaining."""
from datetime import date
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update

from app.extensions import db
from app.models import (
    WRITEOFF_REASONS, Lot, LotMovement, Product, Stocktake, StocktakeLine, Supermarket,
    Transfer, User, Writeoff, utcnow,
)
from app.services import audit
from app.services.errors import Conflict, Errors, InsufficientStock, NotFound, ValidationError
from app.services.goods.products import quantity as quantity_field
from app.services.people.scope import get_supermarket, require_role, visible_supermarkets
from app.services.validate import as_id, choice, integer, text

READERS = ("admin", "cadre", "volunteer")
KEEPERS = ("admin", "volunteer")
DECIDERS = ("admin", "cadre")
COUNTERS = {"redemption": "redeemed", "writeoff": "written_off", "transfer": "transferred_out"}
OPEN_STOCKTAKE = ("counting", "submitted")


def local_today() -> date:
    from app.services.points.awards import local_today as today

    return today()


# -- scope ---------------------------------------------------------------------

def readable_supermarket(actor: User, supermarket_id) -> Supermarket:
    """A supermarket whose stock the user may see: volunteers theirs, cadres in region, admin all."""
    require_role(actor, *READERS)
    return get_supermarket(actor, supermarket_id)


def writable_supermarket(actor: User | None, supermarket_id) -> Supermarket:
    """A supermarket whose stock the user may change: volunteers theirs, admin all.
    None is the system itself (the demo, the command line)."""
    if actor is None:
        sm = db.session.get(Supermarket, supermarket_id) if as_id(supermarket_id) else None
        if sm is None:
            raise NotFound()
        return sm
    require_role(actor, *KEEPERS)
    return get_supermarket(actor, supermarket_id)


def product_ref(errors: Errors, data: dict, field: str = "product_id", *,
                active_only: bool = False) -> Product | None:
    """The product named by an id in the body; unknown is a validation error (api.md)."""
    raw = data.get(field)
    if raw is None or raw == "":
        errors.add(field, _l("This field is required."))
        return None
    product_id = as_id(raw)
    product = db.session.get(Product, product_id) if product_id is not None else None
    if product is None:
        errors.add(field, _l("Unknown product."))
        return None
    if active_only and not product.active:
        errors.add(field, _l("This product is retired."))
        return None
    return product


def id_field(errors: Errors, data: dict, field: str) -> int | None:
    raw = data.get(field)
    if raw is None or raw == "":
        errors.add(field, _l("This field is required."))
        return None
    value = as_id(raw)
    if value is None:
        errors.add(field, _l("Must be a whole number."))
    return value


# -- levels --------------------------------------------------------------------

def stock_of(supermarket_id: int, product_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Lot.remaining), 0))
        .where(Lot.supermarket_id == supermarket_id, Lot.product_id == product_id)) or 0


def _levels_query(supermarket_ids, *, low_only: bool = False, q: str | None = None):
    quantity = func.coalesce(func.sum(Lot.remaining), 0).label("quantity")
    query = (select(Lot.supermarket_id, Product, quantity)
             .join(Product, Product.id == Lot.product_id)
             .where(Lot.supermarket_id.in_(supermarket_ids))
             .group_by(Lot.supermarket_id, Product.id))
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Product.name.like(like, escape="\\") | Product.barcode.like(like, escape="\\"))
    if low_only:
        query = query.having(func.coalesce(func.sum(Lot.remaining), 0) <= Product.low_stock_threshold)
    return query


def stock_levels(actor: User, supermarket_id, *, low_only: bool = False, q: str | None = None,
                 page: int = 1, per_page: int = 50) -> tuple[Supermarket, list[tuple[Product, int]], int]:
    """One page of the products that have ever had a lot here, with their stock."""
    sm = readable_supermarket(actor, supermarket_id)
    q = (q or "").replace("\x00", "").strip()[:100]
    query = _levels_query([sm.id], low_only=low_only, q=q)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return sm, [], total
    rows = db.session.execute(
        query.order_by(Product.category, Product.name, Product.id).limit(per_page).offset(offset)).all()
    return sm, [(product, int(qty)) for _, product, qty in rows], total


def low_stock(actor: User, limit: int = 50) -> list[tuple[Supermarket, Product, int]]:
    """Products at or below their threshold at the supermarkets the user keeps."""
    if actor.role not in READERS:
        return []
    markets = {s.id: s for s in db.session.scalars(visible_supermarkets(actor))}
    if not markets:
        return []
    rows = db.session.execute(
        _levels_query(list(markets), low_only=True)
        .order_by(Lot.supermarket_id, Product.category, Product.name).limit(limit)).all()
    return [(markets[sm_id], product, int(qty)) for sm_id, product, qty in rows]


def lots_at(actor: User, supermarket_id, *, product_id=None, only_remaining: bool = False,
            page: int = 1, per_page: int = 50) -> tuple[Supermarket, list[Lot], int]:
    sm = readable_supermarket(actor, supermarket_id)
    query = select(Lot).where(Lot.supermarket_id == sm.id)
    if product_id not in (None, ""):
        pid = as_id(product_id)
        if pid is None:
            raise ValidationError({"product_id": [_l("Must be a whole number.")]})
        query = query.where(Lot.product_id == pid)
    if only_remaining:
        query = query.where(Lot.remaining > 0)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return sm, [], total
    items = db.session.scalars(
        query.order_by(Lot.received_on.desc(), Lot.id.desc()).limit(per_page).offset(offset)).all()
    return sm, list(items), total


# -- taking units --------------------------------------------------------------

class Taken(NamedTuple):
    """Units of a product taken from one lot."""
    lot_id: int
    product_id: int
    quantity: int


_lots = Lot.__table__
_movements = LotMovement.__table__
# Built once: the counter's hot path, where building statements costs more than running them.
_AVAILABLE = (
    select(_lots.c.id, _lots.c.product_id, _lots.c.remaining, _lots.c.received_on)
    .where(_lots.c.supermarket_id == bindparam("supermarket_id"),
           _lots.c.product_id.in_(bindparam("product_ids", expanding=True)),
           _lots.c.remaining > 0)
    .order_by(_lots.c.product_id, _lots.c.id)
    .with_for_update()
)
_INSERT_MOVEMENT = _movements.insert()
_TAKE = {
    kind: update(_lots)
    .where(_lots.c.id == bindparam("lot"), _lots.c.remaining >= bindparam("n"))
    .values({_lots.c.remaining: _lots.c.remaining - bindparam("n"),
             _lots.c[column]: _lots.c[column] + bindparam("n")})
    for kind, column in COUNTERS.items()
}


def take_units(supermarket_id: int, product_id: int, quantity: int, *, kind: str,
               actor: User | None, **movement) -> list[Taken]:
    """Take `quantity` units of a product at a supermarket, oldest lot first,
    recording one LotMovement of `kind` per lot touched (with `movement`'s
    fields: household_id, village_id, checkout_id, writeoff_id, transfer_id).
    Raises InsufficientStock, having changed nothing, when the lots hold fewer."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError("quantity must be a positive integer")
    taken = take_many(supermarket_id, {product_id: quantity}, kind=kind)
    record_movements(taken, kind=kind, actor=actor, **movement)
    return taken


def take_many(supermarket_id: int, wanted: dict[int, int], *, kind: str) -> list[Taken]:
    """Take units of several products ({product id: quantity}), each oldest
    lot first, without recording movements (the caller does, with
    `record_movements`). InsufficientStock, for the first product in id order
    that is short, having changed nothing the caller's rollback won't undo."""
    conn = db.session.connection()
    # Lock in (product, id) order (PostgreSQL; SQLite holds the database lock
    # already), so two takers never deadlock on them ...
    rows = conn.execute(_AVAILABLE, {"supermarket_id": supermarket_id,
                                     "product_ids": sorted(wanted)}).all()
    by_product: dict[int, list] = {}
    for row in rows:
        by_product.setdefault(row.product_id, []).append(row)
    for product_id in sorted(wanted):
        available = sum(r.remaining for r in by_product.get(product_id, ()))
        if available < wanted[product_id]:
            raise InsufficientStock(_l("Only %(n)d in stock.", n=available))
    # ... then take from the oldest.
    take = _TAKE[kind]
    taken = []
    for product_id in sorted(wanted):
        need = wanted[product_id]
        for row in sorted(by_product[product_id], key=lambda r: (r.received_on, r.id)):
            if need == 0:
                break
            n = min(need, row.remaining)
            if conn.execute(take, {"lot": row.id, "n": n}).rowcount != 1:
                # Cannot happen under the lock; if it does, nothing of this act stands.
                raise InsufficientStock()
            taken.append(Taken(row.id, product_id, n))
            need -= n
    _expire_lots([t.lot_id for t in taken])
    return taken


def record_movements(taken: list[Taken], *, kind: str, actor: User | None, **movement) -> None:
    """One LotMovement of `kind` per lot in `taken`."""
    if not taken:
        return
    now = utcnow()
    actor_id = actor.id if actor is not None else None
    db.session.connection().execute(_INSERT_MOVEMENT, [
        {"lot_id": t.lot_id, "kind": kind, "quantity": t.quantity, "created_at": now,
         "created_by_id": actor_id, **movement} for t in taken])


def _expire_lots(lot_ids) -> None:
    """Lots loaded in this session before a bulk UPDATE read their new values next time."""
    wanted = set(lot_ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Lot) and obj.id in wanted:
            db.session.expire(obj)


def return_for_void(actor: User | None, checkout_id: int) -> list[LotMovement]:
    """For issue 5's void: give every unit a checkout took back to the lot it
    came from. A second call finds nothing left to return (and a race is
    stopped by the unique returns_id)."""
    returned = select(LotMovement.returns_id).where(LotMovement.returns_id.is_not(None))
    # In (product, lot) order: the order take_many locks lots in.
    taken = db.session.scalars(
        select(LotMovement).join(Lot, Lot.id == LotMovement.lot_id)
        .where(LotMovement.checkout_id == checkout_id, LotMovement.kind == "redemption",
               LotMovement.id.not_in(returned))
        .order_by(Lot.product_id, LotMovement.lot_id)).all()
    now = utcnow()
    back = []
    for m in taken:
        result = db.session.execute(
            update(Lot).where(Lot.id == m.lot_id, Lot.redeemed >= m.quantity)
            .values({Lot.remaining: Lot.remaining + m.quantity,
                     Lot.redeemed: Lot.redeemed - m.quantity})
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise Conflict()
        back.append(LotMovement(lot_id=m.lot_id, kind="return", quantity=m.quantity,
                                household_id=m.household_id, village_id=m.village_id,
                                checkout_id=checkout_id, returns_id=m.id, created_at=now,
                                created_by_id=actor.id if actor is not None else None))
    db.session.add_all(back)
    _expire_lots([m.lot_id for m in back])
    db.session.flush()
    return back


# -- write-offs ----------------------------------------------------------------

def write_off(actor: User | None, supermarket_id, data: dict) -> Writeoff:
    """报损: take units out of stock for a reason, oldest lots first."""
    sm = writable_supermarket(actor, supermarket_id)
    errors = Errors()
    product = product_ref(errors, data)
    qty = quantity_field(errors, data.get("quantity"), "quantity")
    reason = choice(errors, data, "reason", WRITEOFF_REASONS)
    note = text(errors, data, "note", required=False, max_len=500)
    errors.raise_if_any()
    return _record_writeoff(actor, sm.id, product.id, qty, reason, note)


def _record_writeoff(actor: User | None, supermarket_id: int, product_id: int, qty: int,
                     reason: str, note: str | None, stocktake_id: int | None = None) -> Writeoff:
    w = Writeoff(supermarket_id=supermarket_id, product_id=product_id, quantity=qty, reason=reason,
                 note=note.strip() if note else None, stocktake_id=stocktake_id,
                 created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(w)
    db.session.flush()
    take_units(supermarket_id, product_id, qty, kind="writeoff", actor=actor, writeoff_id=w.id)
    audit.record(actor, "stock.writeoff", w, product_id=product_id, quantity=qty, reason=reason,
                 stocktake_id=stocktake_id)
    return w


def writeoffs_at(actor: User, supermarket_id, *, page: int = 1, per_page: int = 50):
    sm = readable_supermarket(actor, supermarket_id)
    query = select(Writeoff).where(Writeoff.supermarket_id == sm.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Writeoff.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return sm, list(items), total


def movements_of(owner_field, owner_id: int) -> list[LotMovement]:
    return list(db.session.scalars(
        select(LotMovement).where(owner_field == owner_id).order_by(LotMovement.id)))


# -- transfers -----------------------------------------------------------------

def transfer_stock(actor: User | None, data: dict) -> Transfer:
    """Move units to another supermarket: each new lot there names the lot it
    came from and keeps its donor and origin, so trace follows the units."""
    if actor is not None:
        require_role(actor, *KEEPERS)
    errors = Errors()
    from_id = id_field(errors, data, "from_supermarket_id")
    to_id = id_field(errors, data, "to_supermarket_id")
    product = product_ref(errors, data)
    qty = quantity_field(errors, data.get("quantity"), "quantity")
    note = text(errors, data, "note", required=False, max_len=500)
    target = db.session.get(Supermarket, to_id) if to_id is not None else None
    if to_id is not None and target is None:
        errors.add("to_supermarket_id", _l("Unknown supermarket."))
    elif to_id is not None and to_id == from_id:
        errors.add("to_supermarket_id", _l("Choose another supermarket than the sending one."))
    errors.raise_if_any()
    source = writable_supermarket(actor, from_id)
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
            # The units keep their age, so the oldest are still taken first.
            received_on=src.received_on, created_at=t.created_at))
    db.session.flush()
    audit.record(actor, "stock.transfer", t, product_id=product.id, quantity=qty,
                 to_supermarket_id=target.id)
    return t


def get_transfer(actor: User, transfer_id) -> Transfer:
    """A transfer the user may see from either end."""
    require_role(actor, *READERS)
    t = db.session.get(Transfer, as_id(transfer_id)) if as_id(transfer_id) else None
    if t is None:
        raise NotFound()
    visible = {s.id for s in db.session.scalars(visible_supermarkets(actor))}
    if t.from_supermarket_id not in visible and t.to_supermarket_id not in visible:
        raise NotFound()
    return t


def transfers_at(actor: User, supermarket_id, *, limit: int = 50) -> tuple[Supermarket, list[Transfer]]:
    sm = readable_supermarket(actor, supermarket_id)
    items = db.session.scalars(
        select(Transfer).where((Transfer.from_supermarket_id == sm.id) |
                               (Transfer.to_supermarket_id == sm.id))
        .order_by(Transfer.id.desc()).limit(limit)).all()
    return sm, list(items)


# -- stocktakes (盘点) ----------------------------------------------------------

def get_stocktake(actor: User | None, stocktake_id) -> Stocktake:
    """A stocktake at a supermarket the user sees (None: the system itself)."""
    if actor is not None:
        require_role(actor, *READERS)
    st = db.session.get(Stocktake, as_id(stocktake_id)) if as_id(stocktake_id) else None
    if st is None:
        raise NotFound()
    if actor is not None:
        get_supermarket(actor, st.supermarket_id)
    return st


def stocktakes_at(actor: User, supermarket_id, *, limit: int = 50) -> tuple[Supermarket, list[Stocktake]]:
    sm = readable_supermarket(actor, supermarket_id)
    items = db.session.scalars(select(Stocktake).where(Stocktake.supermarket_id == sm.id)
                               .order_by(Stocktake.id.desc()).limit(limit)).all()
    return sm, list(items)


def open_stocktake(supermarket_id: int) -> Stocktake | None:
    return db.session.scalar(select(Stocktake).where(
        Stocktake.supermarket_id == supermarket_id, Stocktake.status.in_(OPEN_STOCKTAKE)))


def start_stocktake(actor: User | None, supermarket_id, data: dict | None = None) -> Stocktake:
    """Open a count at a supermarket (one open at a time), optionally with counts."""
    data = data or {}
    sm = writable_supermarket(actor, supermarket_id)
    errors = Errors()
    note = text(errors, data, "note", required=False, max_len=500)
    errors.raise_if_any()
    # Lock the supermarket's row, so two volunteers starting at once get one stocktake.
    db.session.execute(select(Supermarket.id).where(Supermarket.id == sm.id).with_for_update())
    if open_stocktake(sm.id) is not None:
        raise Conflict(_l("A stocktake is already open at this supermarket."))
    st = Stocktake(supermarket_id=sm.id, status="counting", note=note.strip() if note else None,
                   started_by_id=actor.id if actor is not None else None, started_at=utcnow())
    db.session.add(st)
    db.session.flush()
    audit.record(actor, "stocktake.start", st, supermarket_id=sm.id)
    if data.get("counts"):
        record_counts(actor, st.id, data)
    return st


def _writable_stocktake(actor: User | None, stocktake_id, *statuses: str) -> Stocktake:
    if actor is not None:
        require_role(actor, *KEEPERS)
    st = get_stocktake(actor, stocktake_id)
    if st.status not in statuses:
        raise Conflict(_l("This stocktake is no longer open for that."))
    return st


def record_counts(actor: User | None, stocktake_id, data: dict) -> Stocktake:
    """Record what was counted, per product; the expected stock is taken at this moment.
    Counting a product again replaces its count."""
    st = _writable_stocktake(actor, stocktake_id, "counting")
    counts = data.get("counts")
    errors = Errors()
    clean = []
    if not isinstance(counts, list) or not counts:
        errors.add("counts", _l("Count at least one product."))
    else:
        for i, item in enumerate(counts[:2000]):
            item = item if isinstance(item, dict) else {}
            product = product_ref(errors, item)
            counted = integer(errors, item, "counted", required=True, minimum=0, maximum=10**6)
            for key in ("product_id", "counted"):
                for message in errors.errors.pop(key, []):
                    errors.add(f"counts.{i}.{key}", message)
            if product is not None and counted is not None:
                clean.append((product, counted))
    errors.raise_if_any()
    existing = {line.product_id: line for line in st.lines}
    now = utcnow()
    for product, counted in clean:
        expected = stock_of(st.supermarket_id, product.id)
        line = existing.get(product.id)
        if line is None:
            line = StocktakeLine(stocktake_id=st.id, product_id=product.id)
            db.session.add(line)
            st.lines.append(line)
            existing[product.id] = line
        line.expected, line.counted, line.counted_at = expected, counted, now
    db.session.flush()
    audit.record(actor, "stocktake.count", st, products=len(clean))
    return st


def submit_stocktake(actor: User | None, stocktake_id) -> Stocktake:
    """The volunteer is done counting: the differences wait for a cadre's review."""
    st = _writable_stocktake(actor, stocktake_id, "counting")
    if not st.lines:
        raise ValidationError({"counts": [_l("Count at least one product.")]})
    st.status = "submitted"
    st.submitted_by_id = actor.id if actor is not None else None
    st.submitted_at = utcnow()
    audit.record(actor, "stocktake.submit", st)
    return st


def _decided_stocktake(actor: User, stocktake_id) -> Stocktake:
    require_role(actor, *DECIDERS)
    st = get_stocktake(actor, stocktake_id)
    # Lock it: two reviewers finalizing at once must not adjust twice.
    db.session.execute(select(Stocktake.id).where(Stocktake.id == st.id).with_for_update())
    db.session.refresh(st)
    if st.status != "submitted":
        raise Conflict(_l("Only a submitted stocktake can be decided."))
    return st


def finalize_stocktake(actor: User, stocktake_id, data: dict | None = None) -> Stocktake:
    """A cadre or admin accepts the count: a shortage becomes a write-off
    (reason `count`) from the oldest lots, a surplus a new lot whose origin is
    this stocktake."""
    st = _decided_stocktake(actor, stocktake_id)
    errors = Errors()
    note = text(errors, data or {}, "note", required=False, max_len=500)
    errors.raise_if_any()
    today = local_today()
    for line in st.lines:
        diff = line.difference
        if diff < 0:
            _record_writeoff(actor, st.supermarket_id, line.product_id, -diff, "count",
                             None, stocktake_id=st.id)
        elif diff > 0:
            db.session.add(Lot(supermarket_id=st.supermarket_id, product_id=line.product_id,
                               stocktake_id=st.id, quantity=diff, remaining=diff, redeemed=0,
                               written_off=0, transferred_out=0, received_on=today,
                               created_at=utcnow()))
    db.session.flush()
    st.status = "finalized"
    st.decided_by_id = actor.id
    st.decided_at = utcnow()
    st.decision_note = note.strip() if note else None
    audit.record(actor, "stocktake.finalize", st,
                 differences={str(l.product_id): l.difference for l in st.lines if l.difference})
    return st


def reopen_stocktake(actor: User, stocktake_id, data: dict | None = None) -> Stocktake:
    """The reviewer sends the count back for a recount."""
    st = _decided_stocktake(actor, stocktake_id)
    errors = Errors()
    note = text(errors, data or {}, "note", required=False, max_len=500)
    errors.raise_if_any()
    st.status = "counting"
    st.decision_note = note.strip() if note else None
    audit.record(actor, "stocktake.reopen", st)
    return st


def cancel_stocktake(actor: User, stocktake_id, data: dict | None = None) -> Stocktake:
    """Drop a stocktake without changing stock: the volunteer while counting,
    a cadre or admin also once submitted."""
    require_role(actor, "admin", "cadre", "volunteer")
    st = get_stocktake(actor, stocktake_id)
    allowed = ("counting",) if actor.role == "volunteer" else OPEN_STOCKTAKE
    if actor.role == "volunteer":
        writable_supermarket(actor, st.supermarket_id)
    if st.status not in allowed:
        raise Conflict(_l("This stocktake is no longer open for that."))
    errors = Errors()
    note = text(errors, data or {}, "note", required=False, max_len=500)
    errors.raise_if_any()
    st.status = "cancelled"
    st.decided_by_id = actor.id
    st.decided_at = utcnow()
    st.decision_note = note.strip() if note else None
    audit.record(actor, "stocktake.cancel", st)
    return st


def stocktake_sheet(st: Stocktake) -> list[dict]:
    """What the count page shows: every product with stock here (or already
    counted), its stock now and its count so far."""
    levels = dict(db.session.execute(
        select(Lot.product_id, func.sum(Lot.remaining)).where(Lot.supermarket_id == st.supermarket_id)
        .group_by(Lot.product_id)).all())
    lines = {line.product_id: line for line in st.lines}
    ids = {pid for pid, qty in levels.items() if qty} | set(lines)
    products = db.session.scalars(select(Product).where(Product.id.in_(ids))
                                  .order_by(Product.category, Product.name)).all() if ids else []
    return [{"product": p, "stock": int(levels.get(p.id) or 0), "line": lines.get(p.id)}
            for p in products]

