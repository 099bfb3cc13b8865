"""The ledger's invariants on a live database, for `flask ledger check`:
balances (1), reversals, posting and entries (5), idempotency keys (6), and
the monthly totals the writer keeps in step with the ledger."""
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Household, IdempotencyKey, LedgerEntry, Rule
from app.services.invariants import Violation
from app.services.ledger import totals

def check_balances(now: datetime) -> list[Violation]:
    """1: each household's balance equals the sum of its posted entries."""
    posted = (select(LedgerEntry.household_id, func.sum(LedgerEntry.points).label("total"))
              .where(LedgerEntry.status == "posted").group_by(LedgerEntry.household_id).subquery())
    total = func.coalesce(posted.c.total, 0)
    rows = db.session.execute(
        select(Household.id, Household.code, Household.balance, total)
        .outerjoin(posted, posted.c.household_id == Household.id)
        .where(Household.balance != total).order_by(Household.id)
    ).all()
    return [Violation(1, f"household {hid} ({code}): balance {balance} but posted entries sum to {s}")
            for hid, code, balance, s in rows]


def check_reversals(now: datetime) -> list[Violation]:
    """5: a reversal names an existing posted entry of the same household and
    undoes exactly its points; no entry is reversed twice."""
    out = []
    original = aliased(LedgerEntry)
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.reversal_of, LedgerEntry.kind, LedgerEntry.points,
               LedgerEntry.status, LedgerEntry.household_id, original.id, original.points,
               original.status, original.household_id)
        .outerjoin(original, original.id == LedgerEntry.reversal_of)
        .where(or_(LedgerEntry.reversal_of.is_not(None), LedgerEntry.kind == "reversal"))
        .where(or_(LedgerEntry.kind != "reversal", LedgerEntry.reversal_of.is_(None),
                   original.id.is_(None), LedgerEntry.points != -original.points,
                   LedgerEntry.status != "posted", original.status != "posted",
                   LedgerEntry.household_id != original.household_id))
        .order_by(LedgerEntry.id)
    ).all()
    for rid, of, kind, points, status, hid, oid, opoints, ostatus, ohid in rows:
        if kind != "reversal" or of is None:
            out.append(Violation(5, f"entry {rid}: kind {kind} with reversal_of {of}"))
        elif oid is None:
            out.append(Violation(5, f"reversal {rid} names entry {of}, which does not exist"))
        else:
            if points != -opoints:
                out.append(Violation(5, f"reversal {rid} is {points} points but entry {of} was {opoints}"))
            if hid != ohid:
                out.append(Violation(5, f"reversal {rid} is for household {hid}, entry {of} for {ohid}"))
            if status != "posted" or ostatus != "posted":
                out.append(Violation(5, f"reversal {rid} ({status}) of entry {of} ({ostatus}): both must be posted"))
    twice = db.session.execute(
        select(LedgerEntry.reversal_of, func.count()).where(LedgerEntry.reversal_of.is_not(None))
        .group_by(LedgerEntry.reversal_of).having(func.count() > 1)
    ).all()
    out += [Violation(5, f"entry {of} is reversed {n} times") for of, n in twice]
    return out


def check_due(now: datetime) -> list[Violation]:
    """5: an entry whose notice (and any approval) is over has been posted."""
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.household_id, LedgerEntry.due_at)
        .where(LedgerEntry.status == "pending", LedgerEntry.due_at <= now)
        .order_by(LedgerEntry.id)
    ).all()
    return [Violation(5, f"entry {eid} (household {hid}) was due at {due.isoformat()} but is not posted")
            for eid, hid, due in rows]


def check_entries(now: datetime) -> list[Violation]:
    """5: awards are positive, deductions negative, and each keeps the points of
    the rule version it names; posted entries carry their posting time."""
    out = []
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points, Rule.points, Rule.code,
               Rule.version, LedgerEntry.rule_code)
        .join(Rule, Rule.id == LedgerEntry.rule_id)
        .where(LedgerEntry.kind.in_(("award", "deduction")))
        .where(or_(LedgerEntry.points != Rule.points, LedgerEntry.rule_code != Rule.code))
        .order_by(LedgerEntry.id)
    ).all()
    out += [Violation(5, f"entry {eid} ({kind}) is {points} points under {code} version {version}, "
                         f"which gives {rule_points}") for eid, kind, points, rule_points, code,
            version, _ in rows]
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points)
        .where(or_((LedgerEntry.kind == "award") & (LedgerEntry.points <= 0),
                   (LedgerEntry.kind == "deduction") & (LedgerEntry.points >= 0),
                   LedgerEntry.points == 0))
        .order_by(LedgerEntry.id)
    ).all()
    out += [Violation(5, f"entry {eid}: {kind} of {points} points") for eid, kind, points in rows]
    rows = db.session.scalars(
        select(LedgerEntry.id).where(LedgerEntry.status == "posted", LedgerEntry.posted_at.is_(None))
        .order_by(LedgerEntry.id)
    ).all()
    out += [Violation(5, f"entry {eid} is posted without a posting time") for eid in rows]
    return out


def check_idempotency(now: datetime) -> list[Violation]:
    """6: no idempotency key is stored twice for one user."""
    rows = db.session.execute(
        select(IdempotencyKey.user_id, IdempotencyKey.key, func.count())
        .group_by(IdempotencyKey.user_id, IdempotencyKey.key).having(func.count() > 1)
    ).all()
    return [Violation(6, f"user {uid}: idempotency key {key!r} stored {n} times")
            for uid, key, n in rows]


def check_totals(now: datetime) -> list[Violation]:
    """The kept totals (household_months, category_months, author_months) equal
    what the ledger says: live awards and deductions by month (and village and
    rule category), checkouts not voided, awards by author and month of entry."""
    out = []
    for name, side, *row in totals.differences(db.session.connection()):
        _, key_columns, names, _ = totals.KEPT[name]
        keys, figures = row[:len(key_columns)], row[len(key_columns):]
        shown = ", ".join(f"{n} {value}" for n, value in zip(names, figures) if value)
        where = "kept in the totals but not in the ledger" if side == "kept" else \
            "in the ledger but not in the totals"
        if name == "household_months":
            label = f"household {keys[0]}, {str(keys[1])[:7]}"
        elif name == "author_months":
            label = f"user {keys[0]}'s awards to household {keys[1]} entered in {str(keys[2])[:7]}"
        else:
            label = f"village {keys[0]}, {str(keys[1])[:7]} {keys[2]} {keys[3]}"
        out.append(Violation(1, f"{label}: {shown or 'zero'} is {where}"))
    return out


def check_last_days(now: datetime) -> list[Violation]:
    """Each household's last award and last redemption days equal what its entries say."""
    h = Household.__table__
    award, redeemed = totals.last_award_of(h.c.id), totals.last_redeemed_of(h.c.id)
    rows = db.session.execute(
        select(h.c.id, h.c.last_award_on, award, h.c.last_redeemed_on, redeemed)
        .where(or_(h.c.last_award_on.is_distinct_from(award),
                   h.c.last_redeemed_on.is_distinct_from(redeemed)))
        .order_by(h.c.id).limit(50)).all()
    return [Violation(1, f"household {hid}: last award {kept_a} and last redemption {kept_r} "
                         f"kept, but the ledger says {want_a} and {want_r}")
            for hid, kept_a, want_a, kept_r, want_r in rows]


BALANCE_CHECKS = [check_balances]
CHECKS = [check_reversals, check_due, check_entries, check_idempotency, check_totals,
          check_last_days]
