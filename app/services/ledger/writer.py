"""The one writer of the points ledger. Nothing else in the app inserts or
changes a row of `ledger_entries`, changes `households.balance` or writes the
monthly totals (`household_months`, `category_months`): every act that touches points (awards,
deductions, adjustments, objections, decisions, reversals, expiry, posting
due entries, checkouts and voids, the demo) asks a function here. So:

- invariant 1 (a balance is the sum of its household's posted entries)
  holds because every function that posts an entry moves the balance by its
  points in the same statement sequence, and nothing else moves it;
- the totals the reports read stay in step with the ledger in the same
  transaction (see totals.py for what counts);
- the lock order is the same in every act: households in ascending id (the
  household row lock: SELECT ... FOR UPDATE, or the conditional UPDATE of a
  debit), then their entries, then stock lots. On SQLite the write
  transaction is exclusive (BEGIN IMMEDIATE) and the row locks are no-ops.

Writes are Core statements on the session's connection, built once where they
run on every request; ORM objects the session has loaded are expired once, at
the end of each function, so the caller reads what was written. Functions
here flush but never commit.

Posting (invariant 5): an entry whose notice has ended, and that has any
approval it needs, is posted without anyone acting: the request boundary
asks `anything_due` and calls `post_due_on` before a request reads a
balance, a checkout's `debit` posts what is due for its household first, and
`flask points post-due` does the same from cron. Each entry
moves with a conditional UPDATE ... WHERE status = 'pending' RETURNING, and
only the rows that UPDATE returned reach the balance, so two posters never
post one entry twice."""
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import Select, bindparam, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditRecord, Checkout, CheckoutLine, Household, LedgerEntry, Rule, utcnow
from app.services.audit import client_address as audit_address
from app.services.clock import local_today, local_zone
from app.services.ledger import totals

CHUNK = 1000
LIVE = ("pending", "disputed", "posted")

entries = LedgerEntry.__table__
households = Household.__table__
_INSERT_AUDIT = insert(AuditRecord.__table__)  # built once: every checkout on SQLite runs it


class AlreadyReversed(Exception):
    """A reversal of this entry exists (the UNIQUE reversal_of caught a race)."""


# -- locks and loaded objects ----------------------------------------------------

def locked_households(query: Select) -> list[Household]:
    """The households `query` selects, locked in ascending id: the first step of
    every act that changes their points (PostgreSQL row locks)."""
    return list(db.session.scalars(
        query.order_by(Household.id).with_for_update(of=Household)
        .execution_options(populate_existing=True)))


def lock_households(conn: Connection, household_ids: Iterable[int]) -> None:
    """Lock these households' rows in ascending id (PostgreSQL; SQLite's write
    transaction is exclusive already)."""
    if conn.dialect.name != "postgresql":
        return
    ids = sorted(set(household_ids))
    for start in range(0, len(ids), CHUNK):
        conn.execute(select(households.c.id).where(households.c.id.in_(ids[start:start + CHUNK]))
                     .order_by(households.c.id).with_for_update())


def _refresh_loaded(household_ids=(), posted_of=()) -> None:
    """Objects loaded before a Core write must re-read what it changed: the
    balance of these households, and the status of the entries of `posted_of`
    (whose pending entries may have posted)."""
    household_ids, posted_of = set(household_ids), set(posted_of)
    if not household_ids and not posted_of:
        return
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Household) and obj.id in household_ids:
            db.session.expire(obj, ["balance", "updated_at", "last_award_on", "last_redeemed_on"])
        elif isinstance(obj, LedgerEntry) and obj.household_id in posted_of:
            db.session.expire(obj, ["status", "posted_at"])


# -- balances --------------------------------------------------------------------

_ADD_TO_BALANCE = (update(households).where(households.c.id == bindparam("hid"))
                   .values(balance=households.c.balance + bindparam("delta"),
                           updated_at=bindparam("now")))


def _move_balances(conn: Connection, deltas: dict[int, int], now: datetime) -> None:
    """Add points to balances, one statement, households in ascending id."""
    params = [{"hid": hid, "delta": deltas[hid], "now": now} for hid in sorted(deltas) if deltas[hid]]
    if params:
        conn.execute(_ADD_TO_BALANCE, params)


def _categories(rule_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in rule_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Rule.id, Rule.category).where(Rule.id.in_(ids))).all())


def _count(deltas: totals.Deltas, rows, sign: int) -> None:
    """Live awards and deductions among `rows` (entries) start or stop counting."""
    counted = [e for e in rows if e.kind in totals.COUNTED_KINDS]
    categories = _categories(e.rule_id for e in counted)
    for e in counted:
        deltas.entry(e.household_id, e.kind, e.points, e.occurred_on, categories.get(e.rule_id), sign,
                     e.rule_code)


# -- new entries ---------------------------------------------------------------------

def add(new: list[LedgerEntry], now: datetime) -> list[LedgerEntry]:
    """Add new entries: awards and deductions (pending or posted), adjustments,
    expiry, reversals. Posted ones move their balances at once; live awards and
    deductions count in the totals. The caller has locked the households."""
    if not new:
        return new
    for e in new:
        if e.id is not None or e.kind == "redemption":
            raise ValueError("add() takes new entries; redemptions go through record_redemption()")
    db.session.add_all(new)
    db.session.flush()
    conn = db.session.connection()
    posted = defaultdict(int)
    for e in new:
        if e.status == "posted":
            posted[e.household_id] += e.points
    _move_balances(conn, posted, now)
    deltas = totals.Deltas()
    _count(deltas, [e for e in new if e.status in LIVE], 1)
    for e in new:
        if e.kind == "award":
            deltas.entered(e.created_by_id, e.household_id, local_today(e.created_at), e.occurred_on)
    totals.apply(conn, deltas)
    _refresh_loaded(household_ids={e.household_id for e in new})
    return new


def reverse(original: LedgerEntry, *, actor_id: int | None, note: str, now: datetime,
            checkout_id: int | None = None) -> LedgerEntry:
    """A new posted entry of the opposite points that names `original`. An entry
    is reversed at most once: a racing second reversal raises AlreadyReversed.
    A reversed award or deduction stops counting in the totals."""
    reversal = LedgerEntry(
        household_id=original.household_id, kind="reversal", points=-original.points,
        status="posted", rule_id=original.rule_id, rule_code=original.rule_code, note=note,
        occurred_on=local_today(now), created_at=now, created_by_id=actor_id, posted_at=now,
        reversal_of=original.id, checkout_id=checkout_id)
    try:
        with db.session.begin_nested():
            db.session.add(reversal)
            db.session.flush()
    except IntegrityError:
        raise AlreadyReversed() from None
    conn = db.session.connection()
    _move_balances(conn, {original.household_id: reversal.points}, now)
    deltas = totals.Deltas()
    if original.status in LIVE:
        _count(deltas, [original], -1)
    if original.kind == "award":
        deltas.undone(original.created_by_id, original.household_id,
                      local_today(original.created_at), "reversed")
    totals.apply(conn, deltas)
    _refresh_loaded(household_ids=[original.household_id])
    return reversal


# -- an entry's status ----------------------------------------------------------------

def dispute(entry: LedgerEntry, *, reason: str, by_id: int, now: datetime,
            objector: str | None = None) -> None:
    """An objection: the entry waits for a cadre (it still counts as live).
    `objector`, who raised it, is for staff and cadres only."""
    entry.status = "disputed"
    entry.due_at = None
    entry.objection_reason = reason
    entry.objector = objector
    entry.objection_by_id = by_id
    entry.objection_at = now
    db.session.flush()


def clear_to_post(entry: LedgerEntry, *, actor_id: int, now: datetime,
                  reason: str | None = None) -> bool:
    """A cadre upholds a disputed entry and/or gives the approval a large award
    needs (with a reason, if given): it posts when its notice has also ended
    (at once, if it has). Returns whether the objection was upheld."""
    upheld = entry.status == "disputed"
    if upheld:
        entry.decided_by_id = actor_id
        entry.decided_at = now
    if reason:
        entry.decision_reason = reason
    if entry.needs_approval and entry.approved_at is None:
        entry.approved_by_id = actor_id
        entry.approved_at = now
    entry.status = "pending"
    entry.due_at = max(entry.notice_ends_at or now, now)
    db.session.flush()
    if entry.due_at <= now:
        post_entries(db.session.connection(), now,
                     (entries.c.id == entry.id) & (entries.c.due_at <= now), actor_id=actor_id)
        _refresh_loaded(household_ids=[entry.household_id], posted_of=[entry.household_id])
    return upheld


def cancel(entry: LedgerEntry, *, actor_id: int, reason: str, now: datetime,
           withdrawn: bool = False) -> None:
    """An entry on notice or disputed is cancelled and never counts: the
    objection was accepted or the approval refused, or (`withdrawn`) its
    author or a cadre took it back as a mistake, which is no rejection: the
    author's `rejected` total does not count it."""
    if entry.status not in ("pending", "disputed"):
        raise ValueError("only an entry that has not posted can be cancelled")
    deltas = totals.Deltas()
    _count(deltas, [entry], -1)
    if entry.kind == "award" and not withdrawn:
        deltas.undone(entry.created_by_id, entry.household_id, local_today(entry.created_at),
                      "rejected")
    entry.status = "cancelled"
    entry.withdrawn = withdrawn
    entry.due_at = None
    entry.decided_by_id = actor_id
    entry.decided_at = now
    entry.decision_reason = reason
    db.session.flush()
    totals.apply(db.session.connection(), deltas)
    _refresh_loaded(household_ids=[entry.household_id])


# -- posting due entries --------------------------------------------------------------

def due_clause(now: datetime):
    """Pending entries that post by themselves now (uses ix_ledger_status_due)."""
    return (entries.c.status == "pending") & (entries.c.due_at <= now)


# Built once: every request asks.
_ANY_DUE = (select(literal(1)).select_from(entries)
            .where(entries.c.status == "pending", entries.c.due_at <= bindparam("now")).limit(1))
_ANY_DUE_OF = (select(literal(1)).select_from(entries)
               .where(entries.c.status == "pending", entries.c.due_at <= bindparam("now"),
                      entries.c.household_id.in_(bindparam("ids", expanding=True))).limit(1))


def anything_due(conn: Connection, now: datetime, household_ids=None) -> bool:
    if household_ids is None:
        return conn.execute(_ANY_DUE, {"now": now}).first() is not None
    return conn.execute(_ANY_DUE_OF, {"now": now, "ids": list(household_ids)}).first() is not None


def post_entries(conn: Connection, now: datetime, where, *,
                 actor_id: int | None = None) -> tuple[dict, int]:
    """Post the pending entries matching `where`; returns ({household_id: points
    added}, entries posted). Balances move only by rows this call changed."""
    due = conn.execute(
        select(entries.c.id, entries.c.household_id)
        .where(entries.c.status == "pending", where).order_by(entries.c.id)
    ).all()
    if not due:
        return {}, 0
    lock_households(conn, (hid for _, hid in due))
    added: dict[int, int] = defaultdict(int)
    posted_ids: list[int] = []
    rows_household: dict[int, int] = {}
    ids = [entry_id for entry_id, _ in due]
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            update(entries)
            .where(entries.c.id.in_(ids[start:start + CHUNK]), entries.c.status == "pending")
            .values(status="posted", posted_at=now)
            .returning(entries.c.id, entries.c.household_id, entries.c.points)
        ).all()
        for entry_id, household_id, points in rows:
            added[household_id] += points
            posted_ids.append(entry_id)
            rows_household[entry_id] = household_id
    _move_balances(conn, added, now)
    _record_posts(conn, now, actor_id, posted_ids, dict(rows_household))
    return dict(added), len(posted_ids)


def _record_posts(conn: Connection, now: datetime, actor_id: int | None, posted_ids: list[int],
                  household_of: dict[int, int]) -> None:
    """One audit row per household whose entries posted (its trail shows
    them), carrying the household and its village."""
    by_household: dict[int, list[int]] = defaultdict(list)
    for entry_id in posted_ids:
        by_household[household_of[entry_id]].append(entry_id)
    hids = sorted(by_household)
    villages: dict[int, int] = {}
    for start in range(0, len(hids), CHUNK):
        villages.update(conn.execute(select(households.c.id, households.c.village_id)
                                     .where(households.c.id.in_(hids[start:start + CHUNK]))).all())
    address = audit_address() if actor_id is not None else None
    rows = [{"at": now, "user_id": actor_id, "action": "points.post",
             "object_type": "ledger_entries", "object_id": part[0] if len(part) == 1 else None,
             "details": {"entries": part, "count": len(part)}, "address": address,
             "household_id": hid, "village_id": villages.get(hid)}
            for hid in hids for part in _chunks(by_household[hid])]
    for start in range(0, len(rows), CHUNK):
        conn.execute(_INSERT_AUDIT, rows[start:start + CHUNK])


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _due_where(now: datetime, household_ids):
    where = due_clause(now)
    if household_ids is not None:
        where = where & entries.c.household_id.in_(list(household_ids))
    return where


def post_due_on(conn: Connection, now: datetime | None = None, household_ids=None) -> int:
    """Post every due entry (of these households, if given) on a connection of
    its own (the request boundary's short write transaction); returns how many."""
    now = now or utcnow()
    return post_entries(conn, now, _due_where(now, household_ids))[1]


def post_due(now: datetime | None = None, household_ids=None) -> int:
    """Post due entries in the session's transaction (the caller commits);
    returns how many were posted."""
    now = now or utcnow()
    db.session.flush()
    added, count = post_entries(db.session.connection(), now, _due_where(now, household_ids))
    _refresh_loaded(household_ids=added, posted_of=added)
    return count


# -- checkouts ------------------------------------------------------------------------

_NOTHING_DUE = ~(select(literal(1)).where(
    entries.c.household_id == bindparam("household_id"), entries.c.status == "pending",
    entries.c.due_at <= bindparam("now")).exists())
_DEBIT = (update(households)
          .where(households.c.id == bindparam("household_id"), households.c.balance >= bindparam("total"),
                 _NOTHING_DUE)
          .values(balance=households.c.balance - bindparam("total"), updated_at=bindparam("now"),
                  # Today is never before a household's last checkout: no comparison needed.
                  last_redeemed_on=bindparam("today"))
          .returning(households.c.balance))
_BALANCE = select(households.c.balance).where(households.c.id == bindparam("household_id"))
_INSERT_ENTRY = insert(entries).returning(entries.c.id)


def debit(conn: Connection, household_id: int, total: int, now: datetime) -> int | None:
    """Take `total` points if the balance holds them: the balance after, or None
    (nothing taken). Its UPDATE locks the household row: a checkout's lock point.
    Entries of the household that are due post first (invariant 5): the debit
    itself asks (one statement on the counter's path), and when something is
    due, posts it and debits again."""
    params = {"household_id": household_id, "total": total, "now": now, "today": local_today(now)}
    balance = conn.execute(_DEBIT, params).scalar()
    if balance is None and post_due(now, household_ids=[household_id]):
        balance = conn.execute(_DEBIT, params).scalar()
    return balance


def balance_of(conn: Connection, household_id: int) -> int:
    return conn.execute(_BALANCE, {"household_id": household_id}).scalar()


def record_redemption(conn: Connection, *, household_id: int, checkout_id: int, total: int,
                      now: datetime, actor_id: int, note: str | None) -> int:
    """The posted redemption entry of a checkout whose points `debit` took;
    returns its id. The checkout counts in its month's totals."""
    day = local_today(now)
    entry_id = conn.execute(_INSERT_ENTRY, {
        "household_id": household_id, "kind": "redemption", "points": -total, "status": "posted",
        "posted_at": now, "occurred_on": day, "created_at": now, "created_by_id": actor_id,
        "checkout_id": checkout_id, "note": note, "needs_approval": False}).scalar_one()
    deltas = totals.Deltas()
    deltas.checkout(household_id, day, total, dated=True)
    totals.apply(conn, deltas)
    return entry_id


# The checkout's rows in one statement on PostgreSQL. `d` is where the balance
# after (and the household's village, for the month's totals) comes from: the
# debit itself (debit_and_record: nothing is written when it takes nothing) or
# the balance a debit already gave (record_checkout).
_PG_CHECKOUT = """
WITH d AS ({debit}),
c AS (
  INSERT INTO checkouts (supermarket_id, household_id, card_id, card_used, no_card_reason,
                         total_points, balance_after, entry_id, created_at, created_by_id)
  SELECT %(sm)s::int, %(hid)s::int, %(card)s::int, %(card_used)s::bool, %(reason)s::text,
         %(total)s::int, d.balance, nextval(pg_get_serial_sequence('ledger_entries', 'id')),
         %(now)s::timestamptz, %(actor)s::int
  FROM d
  RETURNING id, entry_id, balance_after),
e AS (
  INSERT INTO ledger_entries (id, household_id, kind, points, status, posted_at, occurred_on,
                              created_at, created_by_id, checkout_id, note, needs_approval, withdrawn)
  SELECT c.entry_id, %(hid)s::int, 'redemption', -%(total)s::int, 'posted', %(now)s::timestamptz,
         %(day)s::date, %(now)s::timestamptz, %(actor)s::int, c.id, %(note)s::text, false, false
  FROM c),
l AS (
  INSERT INTO checkout_lines (checkout_id, product_id, quantity, unit_points, points)
  SELECT c.id, v.product_id, v.quantity, v.unit_points, v.points
  FROM c, (VALUES {lines}) AS v (product_id, quantity, unit_points, points)
  RETURNING id, product_id),
m AS (
  INSERT INTO household_months (household_id, month, village_id, awarded, awards, deducted,
                                deductions, redeemed, checkouts)
  SELECT %(hid)s::int, %(month)s::date, d.village_id, 0, 0, 0, 0, %(total)s::int, 1 FROM c, d
  ON CONFLICT (household_id, month) DO UPDATE SET
    redeemed = household_months.redeemed + excluded.redeemed,
    checkouts = household_months.checkouts + excluded.checkouts),
a AS (
  INSERT INTO audit_records (at, user_id, action, object_type, object_id, details, address,
                             household_id, village_id)
  SELECT %(now)s::timestamptz, %(actor)s::int, 'checkout.create', 'checkouts', c.id,
         %(details)s::json, %(address)s::text, %(hid)s::int, %(village)s::int
  FROM c)
SELECT c.id, c.entry_id, (SELECT array_agg(l.id ORDER BY l.product_id) FROM l), c.balance_after FROM c"""
_PG_BALANCE_GIVEN = "SELECT %(balance)s::int AS balance, village_id FROM households WHERE id = %(hid)s::int"
# debit()'s own UPDATE, compiled for the statement above (first use): one
# definition of what a debit may take. Its anonymous constants ride along.
_DEBIT_WITH_VILLAGE = _DEBIT.returning(households.c.village_id)
_PG_DEBIT: list = []  # [(its text, its constants)] once compiled
_PG_LINE = "(%(p{i})s::int, %(q{i})s::int, %(u{i})s::int, %(t{i})s::int)"
_PG_CHECKOUT_FOR: dict[tuple[bool, int], str] = {}  # the statement's text by (debits?, number of lines)
_INSERT_CHECKOUT = insert(Checkout.__table__).returning(Checkout.__table__.c.id)
_SET_ENTRY = (update(Checkout.__table__).where(Checkout.__table__.c.id == bindparam("checkout"))
              .values(entry_id=bindparam("entry")))
_INSERT_LINES = insert(CheckoutLine.__table__).returning(CheckoutLine.__table__.c.id,
                                                         sort_by_parameter_order=True)


def record_checkout(conn: Connection, *, checkout: dict, lines: list[dict], audit: dict,
                    village_id: int, note: str | None) -> tuple[int, int, list[int]]:
    """A checkout whose points `debit` took: the checkout row, its lines, its
    posted redemption entry, its month's totals and its audit record; returns
    (checkout id, entry id, line ids: `lines` are in product id order). The writer writes the checkout with its entry
    because on PostgreSQL they are one statement (data-modifying CTEs; the
    entry's id drawn first so the checkout row names it): one round trip
    instead of six while the household's row is locked. SQLite runs the same
    writes as separate statements (no round trips there)."""
    now, hid, total = checkout["created_at"], checkout["household_id"], checkout["total_points"]
    if conn.dialect.name == "postgresql":
        return _pg_checkout(conn, checkout, lines, audit, village_id, note, debits=False)[:3]
    checkout_id = conn.execute(_INSERT_CHECKOUT, checkout).scalar_one()
    entry_id = record_redemption(conn, household_id=hid, checkout_id=checkout_id, total=total,
                                 now=now, actor_id=checkout["created_by_id"], note=note)
    conn.execute(_SET_ENTRY, {"checkout": checkout_id, "entry": entry_id})
    line_ids = conn.execute(_INSERT_LINES, [{"checkout_id": checkout_id, **line}
                                            for line in lines]).scalars().all()
    conn.execute(_INSERT_AUDIT, {
        **audit, "at": now, "user_id": checkout["created_by_id"], "action": "checkout.create",
        "object_type": "checkouts", "object_id": checkout_id, "household_id": hid,
        "village_id": village_id})
    return checkout_id, entry_id, line_ids


def debit_and_record(conn: Connection, *, checkout: dict, lines: list[dict], audit: dict,
                     village_id: int, note: str | None) -> tuple[int, int, list[int], int] | None:
    """PostgreSQL: `debit` and `record_checkout` in one statement, with the
    checkout's balance after taken from the debit; returns (checkout id, entry
    id, line ids, balance after), or None when the debit took nothing (too few
    points, or entries of the household due: nothing is written; `debit` then
    posts what is due and says which). None on SQLite, where round trips cost
    nothing: the caller takes the two steps."""
    if conn.dialect.name != "postgresql":
        return None
    return _pg_checkout(conn, checkout, lines, audit, village_id, note, debits=True)


def _pg_checkout(conn, checkout, lines, audit, village_id, note, *, debits: bool):
    now, total = checkout["created_at"], checkout["total_points"]
    day = local_today(now)
    if not _PG_DEBIT:
        compiled = _DEBIT_WITH_VILLAGE.compile(dialect=conn.dialect)
        _PG_DEBIT.append((str(compiled), {k: v for k, v in compiled.params.items()
                                          if k not in ("household_id", "total", "now", "today")}))
    debit_sql, constants = _PG_DEBIT[0]
    key = (debits, len(lines))
    sql = _PG_CHECKOUT_FOR.get(key)
    if sql is None:
        sql = _PG_CHECKOUT_FOR.setdefault(key, _PG_CHECKOUT.replace(
            "{debit}", debit_sql if debits else _PG_BALANCE_GIVEN).replace(
            "{lines}", ", ".join(_PG_LINE.format(i=i) for i in range(len(lines)))))
    params = {**constants, "household_id": checkout["household_id"], "today": day,
              "sm": checkout["supermarket_id"], "hid": checkout["household_id"],
              "card": checkout["card_id"], "card_used": checkout["card_used"],
              "reason": checkout["no_card_reason"], "total": total,
              "balance": checkout.get("balance_after"), "now": now,
              "actor": checkout["created_by_id"], "day": day, "note": note,
              "month": totals.month_of(day), "details": json.dumps(audit["details"]),
              "address": audit["address"], "village": village_id}
    for i, line in enumerate(lines):
        params.update({f"p{i}": line["product_id"], f"q{i}": line["quantity"],
                       f"u{i}": line["unit_points"], f"t{i}": line["points"]})
    found = conn.exec_driver_sql(sql, params).first()
    return tuple(found) if found is not None else None


def void_redemption(*, household_id: int, checkout_id: int, entry_id: int, total: int,
                    made_at: datetime, actor_id: int, reason: str, now: datetime) -> LedgerEntry:
    """Give a voided checkout's points back: the balance first (the lock order
    of check_out), then a posted reversal of its redemption entry. The checkout
    no longer counts in its month."""
    conn = db.session.connection()
    _move_balances(conn, {household_id: total}, now)
    reversal = LedgerEntry(
        household_id=household_id, kind="reversal", points=total, status="posted", posted_at=now,
        occurred_on=local_today(now), created_at=now, created_by_id=actor_id,
        reversal_of=entry_id, checkout_id=checkout_id, note=reason)
    db.session.add(reversal)
    db.session.flush()
    deltas = totals.Deltas()
    deltas.checkout(household_id, local_today(made_at), total, sign=-1)
    totals.apply(conn, deltas)
    _refresh_loaded(household_ids=[household_id])
    return reversal


# -- many at once -----------------------------------------------------------------------

BULK_COLUMNS = ("household_id", "kind", "points", "status", "rule_id", "rule_code", "occurred_on",
                "created_at", "created_by_id", "notice_ends_at", "due_at", "posted_at",
                "needs_approval")


def _stamp_sqlite(value: datetime) -> str:
    """A datetime as the UTCDateTime column stores it on SQLite: naive UTC text."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def add_many(rows: list[tuple], now: datetime, *, categories: dict[int, str]) -> int:
    """Add many awards and deductions (tuples in BULK_COLUMNS order, Python
    values) in a few statements, with their balances and totals: two million
    entries are a matter of minutes (SQLAlchemy's per-value processing would
    take most of that time, so values go to the driver already in stored form).
    `categories` maps each rule id to its category. For the demo and imports
    of history; the caller has the households to itself."""
    conn = db.session.connection()
    sqlite = conn.dialect.name == "sqlite"
    balances = defaultdict(int)
    deltas = totals.Deltas()
    stored = []
    stamps: dict = {None: None}
    zone = local_zone()

    def stamp(value):
        if value not in stamps:
            stamps[value] = _stamp_sqlite(value)
        return stamps[value]

    for row in rows:
        (hid, kind, points, status, rule_id, code, occurred_on, created_at, created_by_id,
         notice_ends_at, due_at, posted_at, needs_approval) = row
        if kind not in totals.COUNTED_KINDS:
            raise ValueError("add_many() takes awards and deductions")
        if status == "posted":
            balances[hid] += points
        if status in LIVE:
            deltas.entry(hid, kind, points, occurred_on, categories.get(rule_id), rule_code=code)
        if kind == "award":
            deltas.entered(created_by_id, hid, created_at.astimezone(zone).date(), occurred_on)
        if sqlite:
            row = (hid, kind, points, status, rule_id, code, occurred_on.isoformat(),
                   _stamp_sqlite(created_at), created_by_id, stamp(notice_ends_at), stamp(due_at),
                   stamp(posted_at), needs_approval)
        stored.append(row)
    if sqlite:
        sql = (f"INSERT INTO ledger_entries ({', '.join(BULK_COLUMNS)}) "
               f"VALUES ({', '.join(['?'] * len(BULK_COLUMNS))})")
        for start in range(0, len(stored), CHUNK * 10):
            conn.exec_driver_sql(sql, stored[start:start + CHUNK * 10])
    else:
        totals.copy_rows(conn, "ledger_entries", BULK_COLUMNS, stored)
    _move_balances(conn, balances, now)
    totals.apply(conn, deltas)
    _refresh_loaded(household_ids=set(balances) | set(deltas.awarded_on))
    return len(stored)


def add_redemptions_many(rows: list[tuple], now: datetime) -> int:
    """The redemption entries of many checkouts written elsewhere in bulk (the
    demo's history): tuples (entry id, household id, points, made at, by user
    id, checkout id); each entry is posted, its points taken from the balance
    and counted in its month's totals. The caller has the households to itself
    and has checked that every balance held its checkouts."""
    if not rows:
        return 0
    conn = db.session.connection()
    sqlite = conn.dialect.name == "sqlite"
    spent: dict[int, int] = defaultdict(int)
    deltas = totals.Deltas()
    stored = []
    for entry_id, hid, points, made_at, by, checkout_id in rows:
        day = local_today(made_at)
        spent[hid] -= points
        deltas.checkout(hid, day, points)
        stamp = _stamp_sqlite(made_at) if sqlite else made_at
        stored.append((entry_id, hid, "redemption", -points, "posted",
                       day.isoformat() if sqlite else day, stamp, by, stamp, checkout_id, False))
    mark = "?" if sqlite else "%s"
    columns = ("id", "household_id", "kind", "points", "status", "occurred_on", "created_at",
               "created_by_id", "posted_at", "checkout_id", "needs_approval")
    sql = (f"INSERT INTO ledger_entries ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    for start in range(0, len(stored), CHUNK * 10):
        conn.exec_driver_sql(sql, stored[start:start + CHUNK * 10])
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), "
                             "(SELECT MAX(id) FROM ledger_entries))")
    _move_balances(conn, spent, now)
    totals.apply(conn, deltas)
    _refresh_loaded(household_ids=spent)
    return len(stored)
