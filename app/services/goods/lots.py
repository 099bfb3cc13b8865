"""Stock lots: the one writer of a lot's remaining units and its movements
(invariant 3: quantity = remaining + redeemed + written off + transferred
out). Taking units (checkout, write-off, transfer) goes expiring-first, then
oldest, through `take_many`, which keeps the invariant under any race:

- PostgreSQL: the lots of the products taken at that supermarket are locked
  (SELECT ... FOR UPDATE, in (product, id) order, so two takers never
  deadlock on them);
- SQLite: the write transaction already holds the database lock (BEGIN IMMEDIATE);
- both: each lot is changed by a conditional UPDATE (remaining >= n) whose row
  count is checked, and the lot's CHECK constraints refuse a negative remaining.

The lock order of an act that also moves points: the household first (the
ledger writer), then lots."""
from datetime import date
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import Lot, LotMovement, User, utcnow
from app.services.errors import Conflict, InsufficientStock

COUNTERS = {"redemption": "redeemed", "writeoff": "written_off", "transfer": "transferred_out"}


class Taken(NamedTuple):
    """Units of a product taken from one lot."""
    lot_id: int
    product_id: int
    quantity: int


_lots = Lot.__table__
_movements = LotMovement.__table__
# Built once: the counter's hot path, where building statements costs more than running them.
_AVAILABLE = (
    select(_lots.c.id, _lots.c.product_id, _lots.c.remaining, _lots.c.received_on,
           _lots.c.best_before)
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


def first_out(row) -> tuple:
    """The order lots are taken in: the one that expires first (a lot without
    a best-before date last), then the oldest (received_on, id)."""
    return (row.best_before is None, row.best_before or date.max, row.received_on, row.id)


def take_units(supermarket_id: int, product_id: int, quantity: int, *, kind: str,
               actor: User | None, lot_id: int | None = None, **movement) -> list[Taken]:
    """Take `quantity` units of a product at a supermarket, expiring-first (or
    all from `lot_id`, a lot of that product there),
    recording one LotMovement of `kind` per lot touched (with `movement`'s
    fields: household_id, village_id, checkout_id, writeoff_id, transfer_id).
    Raises InsufficientStock, having changed nothing, when the lots hold fewer."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError("quantity must be a positive integer")
    return take_and_record(supermarket_id, {product_id: quantity}, kind=kind, actor=actor,
                           lot_id=lot_id, **movement)


def take_many(supermarket_id: int, wanted: dict[int, int], *, kind: str,
              lot_id: int | None = None) -> list[Taken]:
    """Take units of several products ({product id: quantity}), each from
    the lot that expires first, then the oldest (`first_out`), without
    recording movements (the caller does, with `record_movements`).
    InsufficientStock, for the first product in id order that is short,
    having changed nothing the caller's rollback won't undo. With `lot_id`
    (one product), every unit comes from that lot."""
    conn = db.session.connection()
    taken = _plan(conn, supermarket_id, wanted, lot_id)
    take = _TAKE[kind]
    for t in taken:
        if conn.execute(take, {"lot": t.lot_id, "n": t.quantity}).rowcount != 1:
            # Cannot happen under the lock; if it does, nothing of this act stands.
            raise InsufficientStock()
    _expire_lots([t.lot_id for t in taken])
    return taken


def take_and_record(supermarket_id: int, wanted: dict[int, int], *, kind: str,
                    actor: User | None, lot_id: int | None = None, **movement) -> list[Taken]:
    """`take_many` and `record_movements` together. On PostgreSQL the lots'
    UPDATE and the movements' INSERT are one statement (a data-modifying
    CTE), so a checkout holds the lots' locks for two round trips and the commit."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        taken = take_many(supermarket_id, wanted, kind=kind, lot_id=lot_id)
        record_movements(taken, kind=kind, actor=actor, **movement)
        return taken
    taken = _plan(conn, supermarket_id, wanted, lot_id)
    fields = sorted(movement)
    key = (kind, len(taken), tuple(fields))
    sql = _PG_TAKE_FOR.get(key)
    if sql is None:
        counter = COUNTERS[kind]
        values = ", ".join(f"(%(lot{i})s::int, %(n{i})s::int)" for i in range(len(taken)))
        sql = _PG_TAKE_FOR.setdefault(key, (
            f"WITH v (lot, n) AS (VALUES {values}), "
            f"t AS (UPDATE lots SET remaining = lots.remaining - v.n, {counter} = lots.{counter} + v.n "
            "FROM v WHERE lots.id = v.lot AND lots.remaining >= v.n RETURNING lots.id, v.n) "
            f"INSERT INTO lot_movements (lot_id, kind, quantity, created_at, created_by_id"
            + "".join(f", {f}" for f in fields) + ") "
            "SELECT t.id, %(kind)s, t.n, %(now)s::timestamptz, %(actor)s::int"
            + "".join(f", %({f})s::int" for f in fields) + " FROM t RETURNING lot_id"))
    params = {"kind": kind, "now": utcnow(), "actor": actor.id if actor is not None else None,
              **movement}
    for i, t in enumerate(taken):
        params[f"lot{i}"], params[f"n{i}"] = t.lot_id, t.quantity
    if len(conn.exec_driver_sql(sql, params).all()) != len(taken):
        raise InsufficientStock()  # cannot happen under the lock; if it does, nothing stands
    _expire_lots([t.lot_id for t in taken])
    return taken


_PG_TAKE_FOR: dict[tuple, str] = {}  # the statement's text by kind, lots and movement fields


def _plan(conn, supermarket_id: int, wanted: dict[int, int], lot_id: int | None) -> list[Taken]:
    """Lock the lots of these products (PostgreSQL: in (product, id) order, so
    two takers never deadlock; SQLite holds the database lock already) and
    say what to take from each, expiring-first, then oldest; or
    InsufficientStock for the first product in id order that is short."""
    rows = conn.execute(_AVAILABLE, {"supermarket_id": supermarket_id,
                                     "product_ids": sorted(wanted)}).all()
    if lot_id is not None:
        rows = [r for r in rows if r.id == lot_id]
    by_product: dict[int, list] = {}
    for row in rows:
        by_product.setdefault(row.product_id, []).append(row)
    for product_id in sorted(wanted):
        available = sum(r.remaining for r in by_product.get(product_id, ()))
        if available < wanted[product_id]:
            if lot_id is not None:
                raise InsufficientStock(_l("Only %(n)d left in this lot.", n=available))
            raise InsufficientStock(_l("Only %(n)d in stock.", n=available))
    taken = []
    for product_id in sorted(wanted):
        need = wanted[product_id]
        for row in sorted(by_product[product_id], key=first_out):
            if need == 0:
                break
            n = min(need, row.remaining)
            taken.append(Taken(row.id, product_id, n))
            need -= n
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
    """For a voided checkout: give every unit it took back to the lot it
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


def movements_of(owner_field, owner_id: int) -> list[LotMovement]:
    return list(db.session.scalars(
        select(LotMovement).where(owner_field == owner_id).order_by(LotMovement.id)))
