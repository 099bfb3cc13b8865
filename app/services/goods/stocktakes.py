"""Stocktakes (盘点): volunteers count, a cadre or admin decides. A shortage
becomes a write-off (reason `count`), a surplus a new lot whose origin is the
stocktake. One open stocktake per supermarket at a time."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models import Lot, Product, Stocktake, StocktakeLine, Supermarket, User, utcnow
from app.services import audit
from app.services.clock import local_today
from app.services.errors import Conflict, Errors, NotFound, ValidationError
from app.services.goods.levels import stock_of
from app.services.goods.products import product_ref
from app.services.goods.writeoffs import record_writeoff
from app.services.people import policy
from app.services.people.scope import get_supermarket, supermarket_for
from app.services.validate import as_id, integer, text

OPEN_STOCKTAKE = ("counting", "submitted")
NOTE_MAX = 500
# Counts past this many in one request are not read.
MAX_COUNTS = 2000
MAX_COUNTED = 10**6


def get_stocktake(actor: User | None, stocktake_id) -> Stocktake:
    """A stocktake at a supermarket the user sees (None: the system itself)."""
    if actor is not None:
        policy.require(actor, "stock.read")
    st = db.session.get(Stocktake, as_id(stocktake_id)) if as_id(stocktake_id) else None
    if st is None:
        raise NotFound()
    if actor is not None:
        get_supermarket(actor, st.supermarket_id)
    return st


def stocktakes_at(actor: User, supermarket_id, *, limit: int = 50) -> tuple[Supermarket, list[Stocktake]]:
    sm = supermarket_for(actor, "stock.read", supermarket_id)
    items = db.session.scalars(select(Stocktake).where(Stocktake.supermarket_id == sm.id)
                               .order_by(Stocktake.id.desc()).limit(limit)).all()
    return sm, list(items)


def open_stocktake(supermarket_id: int) -> Stocktake | None:
    return db.session.scalar(select(Stocktake).where(
        Stocktake.supermarket_id == supermarket_id, Stocktake.status.in_(OPEN_STOCKTAKE)))


def start_stocktake(actor: User | None, supermarket_id, data: dict | None = None) -> Stocktake:
    """Open a count at a supermarket (one open at a time), optionally with counts."""
    data = data or {}
    sm = supermarket_for(actor, "stocktake.count", supermarket_id)
    errors = Errors()
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
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


def _counted_stocktake(actor: User | None, stocktake_id) -> Stocktake:
    """A stocktake still being counted, for the volunteers who count (None: the system)."""
    if actor is not None:
        policy.require(actor, "stocktake.count")
    st = get_stocktake(actor, stocktake_id)
    if actor is not None:
        policy.require(actor, "stocktake.count", st)
    elif st.status != "counting":
        raise Conflict(_l("This stocktake is no longer open for that."))
    return st


def record_counts(actor: User | None, stocktake_id, data: dict) -> Stocktake:
    """Record what was counted, per product; the expected stock is taken at this moment.
    Counting a product again replaces its count."""
    st = _counted_stocktake(actor, stocktake_id)
    counts = data.get("counts")
    errors = Errors()
    clean = []
    if not isinstance(counts, list) or not counts:
        errors.add("counts", _l("Count at least one product."))
    else:
        for i, item in enumerate(counts[:MAX_COUNTS]):
            item = item if isinstance(item, dict) else {}
            product = product_ref(errors, item)
            counted = integer(errors, item, "counted", required=True, minimum=0,
                              maximum=MAX_COUNTED)
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
    st = _counted_stocktake(actor, stocktake_id)
    if not st.lines:
        raise ValidationError({"counts": [_l("Count at least one product.")]})
    st.status = "submitted"
    st.submitted_by_id = actor.id if actor is not None else None
    st.submitted_at = utcnow()
    audit.record(actor, "stocktake.submit", st)
    return st


def _decided_stocktake(actor: User, stocktake_id) -> Stocktake:
    policy.require(actor, "stocktake.decide")
    st = get_stocktake(actor, stocktake_id)
    # Lock it: two reviewers finalizing at once must not adjust twice.
    db.session.execute(select(Stocktake.id).where(Stocktake.id == st.id).with_for_update())
    db.session.refresh(st)
    policy.require(actor, "stocktake.decide", st)
    return st


def finalize_stocktake(actor: User, stocktake_id, data: dict | None = None) -> Stocktake:
    """A cadre or admin accepts the count: a shortage becomes a write-off
    (reason `count`) from the oldest lots, a surplus a new lot whose origin is
    this stocktake."""
    st = _decided_stocktake(actor, stocktake_id)
    errors = Errors()
    note = text(errors, data or {}, "note", required=False, max_len=NOTE_MAX)
    errors.raise_if_any()
    today = local_today()
    for line in st.lines:
        diff = line.difference
        if diff < 0:
            record_writeoff(actor, st.supermarket_id, line.product_id, -diff, "count",
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
    note = text(errors, data or {}, "note", required=False, max_len=NOTE_MAX)
    errors.raise_if_any()
    st.status = "counting"
    st.decision_note = note.strip() if note else None
    audit.record(actor, "stocktake.reopen", st)
    return st


def cancel_stocktake(actor: User, stocktake_id, data: dict | None = None) -> Stocktake:
    """Drop a stocktake without changing stock: the volunteer while counting,
    a cadre or admin also once submitted."""
    policy.require(actor, "stocktake.cancel")
    st = get_stocktake(actor, stocktake_id)
    policy.require(actor, "stocktake.cancel", st)
    errors = Errors()
    note = text(errors, data or {}, "note", required=False, max_len=NOTE_MAX)
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
