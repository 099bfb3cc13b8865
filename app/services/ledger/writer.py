"""Posting (invariant 5): an entry whose notice has ended, and that has any
approval it needs, is posted without anyone acting. `post_due` runs before
every request (when something is due) and from `flask points post-due`.

Race-safety: each entry moves with a conditional UPDATE ... WHERE
status = 'pending' ... RETURNING, and only the rows that UPDATE returned
reach the balance, so two posters never post the same entry twice. Lock
order, here and in every act that touches a balance: households in ascending
id first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write transaction is
exclusive anyway), then their entries; so posting, awards, approvals,
reversals and checkouts never deadlock each other."""
from collections import defaultdict
from datetime import datetime

from flask import Flask, g, has_request_context, request
from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.engine import Connection

from app.database import SAFE_METHODS
from app.extensions import db
from app.models import AuditRecord, Household, LedgerEntry, utcnow

CHUNK = 1000
SKIP_ENDPOINTS = {None, "static", "main.healthz"}

entries = LedgerEntry.__table__
households = Household.__table__


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


def posted_this_request() -> bool:
    """Whether this request's hook (below) has already posted what was due:
    a service may then skip asking again for a household."""
    return has_request_context() and g.get("aixin_due_posted", False)


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
    if conn.dialect.name == "postgresql":
        # Lock order everywhere: households (ascending id), then their entries.
        hids = sorted({hid for _, hid in due})
        for start in range(0, len(hids), CHUNK):
            conn.execute(select(households.c.id).where(households.c.id.in_(hids[start:start + CHUNK]))
                         .order_by(households.c.id).with_for_update())
    added: dict[int, int] = defaultdict(int)
    posted_ids: list[int] = []
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
    if added:
        conn.execute(
            update(households).where(households.c.id == bindparam("hid"))
            .values(balance=households.c.balance + bindparam("delta"), updated_at=now),
            [{"hid": hid, "delta": added[hid]} for hid in sorted(added)],
        )
    if posted_ids:
        for start in range(0, len(posted_ids), CHUNK):
            part = posted_ids[start:start + CHUNK]
            conn.execute(insert(AuditRecord.__table__).values(
                at=now, user_id=actor_id, action="points.post", object_type="ledger_entries",
                object_id=part[0] if len(part) == 1 else None,
                details={"entries": part, "count": len(part)},
            ))
    return dict(added), len(posted_ids)


def _where(now: datetime, household_ids):
    where = due_clause(now)
    if household_ids is not None:
        where = where & entries.c.household_id.in_(list(household_ids))
    return where


def post_due_on(conn: Connection, now: datetime | None = None, household_ids=None) -> int:
    """Post every due entry (of these households, if given) on a connection;
    returns how many were posted."""
    now = now or utcnow()
    return post_entries(conn, now, _where(now, household_ids))[1]


def post_due(now: datetime | None = None, household_ids=None) -> int:
    """Post due entries in the session's transaction (the caller commits);
    returns how many were posted."""
    now = now or utcnow()
    db.session.flush()
    added, count = post_entries(db.session.connection(), now, _where(now, household_ids))
    _expire_loaded(added)
    return count


def _expire_loaded(household_ids) -> None:
    """Objects loaded before a Core UPDATE must re-read what it changed."""
    if not household_ids:
        return
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Household) and obj.id in household_ids:
            db.session.expire(obj, ["balance", "updated_at"])
        elif isinstance(obj, LedgerEntry) and obj.household_id in household_ids:
            db.session.expire(obj, ["status", "posted_at"])


def init_app(app: Flask) -> None:
    @app.before_request
    def post_due_before_request():
        """Before anything reads or spends a balance: a cheap indexed check, and
        when something is due, post it in its own short write transaction (so
        a GET on SQLite never has to upgrade its read transaction)."""
        if request.endpoint in SKIP_ENDPOINTS:
            return
        if db.session().in_transaction():
            # A session carried over from an earlier request in the same app
            # context (the test client does this) may hold SQLite's write lock,
            # which our own connections below would wait for. Each request
            # normally starts with a fresh session, so this never runs in production.
            db.session.commit()
        now = utcnow()
        if request.method in SAFE_METHODS:
            with db.engine.connect() as conn:
                due = anything_due(conn, now)
        else:
            # A write request takes the write lock for its own transaction
            # anyway (BEGIN IMMEDIATE on SQLite): ask there, rather than take
            # and wait for the lock twice on a second connection.
            due = anything_due(db.session.connection(), now)
            if due:
                db.session.commit()  # let the posting below take the lock
        if due:
            with db.engine.connect().execution_options(aixin_write=True) as conn, conn.begin():
                post_due_on(conn, now)
        g.aixin_due_posted = True
