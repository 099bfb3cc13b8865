"""Fairness checks: patterns a cadre may want to ask about, each flag one
plain sentence with the entries behind it. Information, never a sanction: a
user whose awards are spread evenly, rarely corrected and entered on time is
never flagged. Who may read them: cadres and admins (staff do not).

A user's awards *in the range* are the `award` entries they entered (by the
local day of entry) in the range, in any status, for households in scope.

- concentration: at least 20 awards, at least 40 % of them to the same three
  households or fewer;
- reversals: at least 10 awards, at least 25 % rejected by a cadre or reversed;
- deductions: a village with at least 10 live deductions entered in the
  range where the ceil(N / 10) households with most deducted points (N: the
  village's counted households) carry at least half of its deducted points;
- backdated: at least 10 awards, at least half entered 14 or more days after
  the day they record;
- no-card: a volunteer with at least 10 checkouts (not voided), at least 30 %
  made without a card."""
import math
from collections import defaultdict

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (FAIRNESS_KINDS, LIVE_STATUSES, SUBJECT_TYPES, AuthorMonth, Checkout,
                        FairnessNote, Household, LedgerEntry, Region, User)
from app.services import audit
from app.services.clock import local_today
from app.services.ledger.totals import LATE_DAYS, days_late, rejected_clause
from app.services.errors import Errors, NotFound
from app.services.people import policy
from app.services.people.scope import get_household, get_region
from app.services.reports.figures import Scope, scope_of
from app.services.reports.period import Period, parse
from app.services.validate import as_id, choice, text

# Thresholds as fractions, and the smallest numbers worth a look.
CONCENTRATION = {"min_awards": 20, "share": 0.4, "households": 3}
REVERSALS = {"min_awards": 10, "share": 0.25}
DEDUCTIONS = {"min_deductions": 10, "share": 0.5}
BACKDATED = {"min_awards": 10, "share": 0.5, "days": LATE_DAYS}
NO_CARD = {"min_checkouts": 10, "share": 0.3}
ENTRY_IDS_MAX = 100
# Rejected by a cadre: cancelled through a decision (an author's own withdrawal is not).
REJECTED = rejected_clause(LedgerEntry.__table__)
NOTE_MAX = 1000


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3)


def _flag(kind, subject_type, subject_id, name, value, threshold, explanation, ids,
          count: int | None = None) -> dict:
    ids = sorted(ids, reverse=True)   # ids grow with time: newest first
    return {"kind": kind, "subject": {"type": subject_type, "id": subject_id, "name": name},
            "value": value, "threshold": threshold, "explanation": str(explanation),
            "entry_count": len(ids) if count is None else count,
            "entry_ids": ids[:ENTRY_IDS_MAX], "explained": None}


def _users(ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def flags(actor: User, data: dict) -> list[dict]:
    """Every flag in the scope and range, users first (by kind), then villages."""
    policy.require(actor, "reports.fairness")
    scope = scope_of(actor, data, "reports.fairness")
    period = parse(data)
    out = _user_flags(scope, period) + _deduction_flags(scope, period) + _no_card_flags(scope, period)
    _mark_explained(out, period)
    return out


def _awards_by_household(scope: Scope, period: Period):
    """Per author and household, the awards entered in the range and how many
    were rejected, reversed or late: the whole months from author_months, the
    days at the edges from the ledger itself (by the moment of entry)."""
    dialect = db.session.get_bind().dialect.name
    e, am = LedgerEntry.__table__, AuthorMonth.__table__
    parts = []
    read = period.as_read(local_today())
    whole = read.whole_months()
    if whole is not None:
        parts.append(select(am.c.user_id, am.c.household_id, am.c.awards, am.c.rejected,
                            am.c.reversed, am.c.late)
                     .where(am.c.month.between(*whole), am.c.village_id.in_(scope.village_ids())))
    reversal = aliased(LedgerEntry)
    flag = lambda clause: case((clause, 1), else_=0)  # noqa: E731
    for first, last in read.edges():
        parts.append(select(e.c.created_by_id, e.c.household_id, literal(1), flag(REJECTED),
                            flag(exists().where(reversal.reversal_of == e.c.id,
                                                reversal.household_id == e.c.household_id)),
                            flag(days_late(dialect, e) >= LATE_DAYS))
                     .where(e.c.kind == "award", e.c.created_by_id.is_not(None),
                            Period(first, last).holds(e.c.created_at),
                            _in_scope(e, scope)))
    facts = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    user, household = facts.c[0], facts.c[1]
    return (select(user.label("user"), household.label("household"),
                   func.sum(facts.c[2]).label("n"), func.sum(facts.c[3]).label("rejected"),
                   func.sum(facts.c[4]).label("reversed"), func.sum(facts.c[5]).label("late"))
            .group_by(user, household).subquery())


def _in_scope(e, scope: Scope):
    """The entry's household is in scope, checked per entry (`+ 0`): SQLite must
    read the ledger by moment of entry or by author, never household by household."""
    return (e.c.household_id + 0).in_(scope.household_ids())


def _user_flags(scope: Scope, period: Period) -> list[dict]:
    """Counted in SQL per user from the kept per-author totals: awards,
    rejections and reversals, late entries, and each user's three households
    with most awards (the rows a window function ranks first)."""
    uh = _awards_by_household(scope, period)
    by_user = {"partition_by": uh.c.user}
    ranked = select(
        uh.c.user, uh.c.household, uh.c.n,
        func.row_number().over(partition_by=uh.c.user, order_by=(uh.c.n.desc(), uh.c.household)).label("rank"),
        func.sum(uh.c.n).over(**by_user).label("total"),
        func.sum(uh.c.rejected + uh.c.reversed).over(**by_user).label("undone"),
        func.sum(uh.c.late).over(**by_user).label("late")).subquery()
    counts: dict[int, dict] = {}
    for row in db.session.execute(select(ranked).where(
            ranked.c.rank <= CONCENTRATION["households"]).order_by(ranked.c.user, ranked.c.rank)):
        seen = counts.setdefault(row.user, {"n": int(row.total), "undone": int(row.undone or 0),
                                            "late": int(row.late or 0), "top": []})
        seen["top"].append((int(row.n), row.household))
    e = LedgerEntry.__table__
    awards = and_(e.c.kind == "award", _in_scope(e, scope),
                  period.holds(e.c.created_at))
    late = days_late(db.session.get_bind().dialect.name, e) >= LATE_DAYS
    names = _users(counts)
    found = []
    for user_id in sorted(counts):
        n, name, seen = counts[user_id]["n"], names.get(user_id, ""), counts[user_id]
        mine = and_(awards, e.c.created_by_id == user_id)
        m = sum(c for c, _ in seen["top"])
        if n >= CONCENTRATION["min_awards"] and m / n >= CONCENTRATION["share"]:
            ids = _ids(select(e.c.id).where(mine, e.c.household_id.in_([h for _, h in seen["top"]])))
            found.append(_flag("concentration", "user", user_id, name, _share(m, n),
                               CONCENTRATION["share"], _l(
                "%(user)s entered %(n)d awards in this period; %(m)d of them (%(pct)d%%) "
                "went to the same %(k)d households.", user=name, n=n, m=m,
                pct=round(100 * m / n), k=len(seen["top"])), ids, m))
        m = seen["undone"]
        if n >= REVERSALS["min_awards"] and m and m / n >= REVERSALS["share"]:
            reversal = aliased(LedgerEntry)
            ids = _ids(select(e.c.id).where(mine, or_(
                REJECTED, exists().where(reversal.reversal_of == e.c.id,
                                         reversal.household_id == e.c.household_id))))
            found.append(_flag("reversals", "user", user_id, name, _share(m, n),
                               REVERSALS["share"], _l(
                "%(m)d of the %(n)d awards %(user)s entered in this period (%(pct)d%%) were "
                "rejected by a cadre or reversed.", user=name, n=n, m=m,
                pct=round(100 * m / n)), ids, m))
        m = seen["late"]
        if n >= BACKDATED["min_awards"] and m and m / n >= BACKDATED["share"]:
            ids = _ids(select(e.c.id).where(mine, late))
            found.append(_flag("backdated", "user", user_id, name, _share(m, n),
                               BACKDATED["share"], _l(
                "%(m)d of the %(n)d awards %(user)s entered in this period (%(pct)d%%) were "
                "entered %(days)d or more days after the day they record.", user=name, n=n,
                m=m, pct=round(100 * m / n), days=BACKDATED["days"]), ids, m))
    order = {kind: i for i, kind in enumerate(FAIRNESS_KINDS)}
    return sorted(found, key=lambda f: (order[f["kind"]], f["subject"]["id"]))


def _ids(query) -> list[int]:
    """The newest entries behind a flag (ids grow with time)."""
    return list(db.session.scalars(query.order_by(LedgerEntry.__table__.c.id.desc())
                                   .limit(ENTRY_IDS_MAX)))


def _deduction_flags(scope: Scope, period: Period) -> list[dict]:
    reversal = aliased(LedgerEntry)
    counted = scope.households(period).subquery()
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.household_id, LedgerEntry.points, Household.village_id)
        .join(Household, Household.id == LedgerEntry.household_id)
        # Read through ix_ledger_deductions_created (the kind as a literal), never
        # by status or household by household (`+ ''`, `+ 0`).
        .where((LedgerEntry.household_id + 0).in_(select(counted.c.id)),
               LedgerEntry.kind == literal_column("'deduction'"),
               (LedgerEntry.status + "").in_(LIVE_STATUSES),
               ~exists().where(reversal.reversal_of == LedgerEntry.id,
                               reversal.household_id == LedgerEntry.household_id),
               period.holds(LedgerEntry.created_at))).all()
    sizes = dict(db.session.execute(
        select(counted.c.village_id, func.count()).group_by(counted.c.village_id)).all())
    by_village: dict[int, list] = defaultdict(list)
    for row in rows:
        by_village[row.village_id].append(row)
    names = dict(db.session.execute(select(Region.id, Region.name)
                                    .where(Region.id.in_(list(by_village) or [0]))).all())
    found = []
    for village_id in sorted(by_village):
        entries = by_village[village_id]
        if len(entries) < DEDUCTIONS["min_deductions"]:
            continue
        per_household: dict[int, int] = defaultdict(int)
        for e in entries:
            per_household[e.household_id] += -e.points
        total = sum(per_household.values())
        k = max(1, math.ceil(sizes.get(village_id, 0) / 10))
        top = sorted(per_household.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        carried = sum(points for _, points in top)
        if total and carried / total >= DEDUCTIONS["share"]:
            households = {hid for hid, _ in top}
            found.append(_flag("deductions", "village", village_id, names.get(village_id, ""),
                               _share(carried, total), DEDUCTIONS["share"], _l(
                "In %(village)s, %(k)d of %(n)d households carry %(pct)d%% of the %(points)d "
                "points deducted in this period.", village=names.get(village_id, ""), k=len(top),
                n=sizes.get(village_id, 0), pct=round(100 * carried / total), points=total),
                [e.id for e in entries if e.household_id in households]))
    return found


def _no_card_flags(scope: Scope, period: Period) -> list[dict]:
    made = and_(Checkout.voided_at.is_(None), Checkout.created_by_id.is_not(None),
                Checkout.household_id.in_(scope.household_ids()),
                period.holds(Checkout.created_at))
    counts = db.session.execute(
        select(Checkout.created_by_id, func.count(),
               func.sum(case((Checkout.card_used.is_(False), 1), else_=0)))
        .where(made).group_by(Checkout.created_by_id).order_by(Checkout.created_by_id)).all()
    names = _users(user for user, _, _ in counts)
    found = []
    for user_id, n, m in counts:
        m = int(m or 0)
        if n >= NO_CARD["min_checkouts"] and m and m / n >= NO_CARD["share"]:
            name = names.get(user_id, "")
            ids = list(db.session.scalars(
                select(Checkout.id).where(made, Checkout.created_by_id == user_id,
                                          Checkout.card_used.is_(False))
                .order_by(Checkout.id.desc()).limit(ENTRY_IDS_MAX)))
            found.append(_flag("no-card", "user", user_id, name, _share(m, n), NO_CARD["share"], _l(
                "%(m)d of the %(n)d checkouts %(user)s made in this period (%(pct)d%%) were made "
                "without a card.", user=name, n=n, m=m, pct=round(100 * m / n)), ids, m))
    return found


def _mark_explained(found: list[dict], period: Period) -> None:
    """A note whose range overlaps the report's marks the flag (the latest note)."""
    if not found:
        return
    notes = db.session.scalars(
        select(FairnessNote).where(FairnessNote.from_day <= period.end,
                                   FairnessNote.to_day >= period.start,
                                   or_(*[and_(FairnessNote.kind == f["kind"],
                                              FairnessNote.subject_type == f["subject"]["type"],
                                              FairnessNote.subject_id == f["subject"]["id"])
                                         for f in found]))
        .order_by(FairnessNote.created_at, FairnessNote.id)).all()
    latest = {(n.kind, n.subject_type, n.subject_id): n for n in notes}
    for f in found:
        note = latest.get((f["kind"], f["subject"]["type"], f["subject"]["id"]))
        if note is not None:
            f["explained"] = {"note": note.note, "by": note.created_by.username if note.created_by else None,
                              "at": note.created_at.isoformat(),
                              "from": note.from_day.isoformat(), "to": note.to_day.isoformat()}


def explain(actor: User, data: dict) -> FairnessNote:
    """A cadre's note on a flag: {kind, subject_type, subject_id, from, to, note}.
    The subject must be in the cadre's reach (else NotFound)."""
    policy.require(actor, "reports.fairness")
    errors = Errors()
    kind = choice(errors, data, "kind", FAIRNESS_KINDS)
    subject_type = choice(errors, data, "subject_type", SUBJECT_TYPES)
    subject_id = as_id(data.get("subject_id"))
    if subject_id is None:
        errors.add("subject_id", _l("Must be a whole number."))
    note = text(errors, data, "note", required=True, max_len=NOTE_MAX)
    errors.raise_if_any()
    period = parse({"from": data.get("from"), "to": data.get("to")})
    _subject_in_reach(actor, subject_type, subject_id)
    row = FairnessNote(kind=kind, subject_type=subject_type, subject_id=subject_id,
                       from_day=period.start, to_day=period.end, note=note, created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    concerns = {"household": (subject_id, None), "village": (None, subject_id)}.get(subject_type)
    audit.record(actor, "fairness.explain", row, household=concerns, kind=kind,
                 subject_type=subject_type, subject_id=subject_id)
    return row


def _subject_in_reach(actor: User, subject_type: str, subject_id: int) -> None:
    if subject_type == "village":
        if get_region(actor, subject_id).level != "village":
            raise NotFound()
    elif subject_type == "household":
        get_household(actor, subject_id)
    elif db.session.get(User, subject_id) is None:
        raise NotFound()

