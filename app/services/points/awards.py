"""The points ledger: awards and deductions (with public notice, objections
and approvals), reversals and year-end expiry. Entries are only ever added;
an entry's points never change. Every function here flushes and never
commits: the request or command commits once."""
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import LIVE_STATUSES, Household, LedgerEntry, User, utcnow
from app.services import audit
from app.services.errors import (
    CapExceeded, Conflict, Errors, Forbidden, HouseholdInactive, NotFound,
)
from app.services.points.evidence import prepare_photo, store_photo
from app.services.ledger.writer import entries as entries_table
from app.services.ledger.writer import post_due, post_entries
from app.services.points.rules import current_rule
from app.services.people.scope import get_household, require_role, visible_households
from app.services.validate import as_id, integer, text

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
AWARDING_ROLES = ("admin", "staff")
DECIDING_ROLES = ("admin", "cadre")

__all__ = [
    "award_points", "raise_objection", "approve_entry", "reject_entry", "reverse_entry",
    "household_ledger", "reversed_by", "pending_by_household", "expire_year", "post_due",
    "local_today", "notice_end",
]


# -- time ----------------------------------------------------------------------

def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(local_zone()).date()


def local_midnight(day: date) -> datetime:
    """The start of a local day, as an aware UTC-comparable datetime."""
    return datetime.combine(day, time(0), tzinfo=local_zone())


def notice_end(created_at: datetime) -> datetime:
    """End of the local day POINTS_NOTICE_DAYS days after creation; 0 days: at once."""
    days = int(current_app.config["POINTS_NOTICE_DAYS"])
    if days <= 0:
        return created_at
    return local_midnight(local_today(created_at) + timedelta(days=days + 1))


# -- input ---------------------------------------------------------------------

def _household_ids(errors: Errors, data: dict) -> list[int]:
    value = data.get("household_ids")
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，\s]+", value) if v]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        errors.add("household_ids", _l("Choose at least one household."))
        return []
    ids = []
    for item in value:
        item = as_id(item)
        if item is None:
            errors.add("household_ids", _l("Household ids are whole numbers."))
            return []
        ids.append(item)
    ids = list(dict.fromkeys(ids))
    limit = current_app.config["POINTS_AWARD_MAX_HOUSEHOLDS"]
    if len(ids) > limit:
        errors.add("household_ids", _l("At most %(n)d households at once.", n=limit))
        return []
    return ids


def _occurred_on(errors: Errors, data: dict, now: datetime) -> date | None:
    value = data.get("occurred_on")
    if value is None or value == "":
        errors.add("occurred_on", _l("This field is required."))
        return None
    try:
        if not isinstance(value, str) or not DATE_RE.fullmatch(value.strip()):
            raise ValueError
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors.add("occurred_on", _l("Use a date like 2026-03-01."))
        return None
    today = local_today(now)
    max_age = int(current_app.config["POINTS_MAX_AGE_DAYS"])
    if day > today:
        errors.add("occurred_on", _l("The date is in the future."))
        return None
    if (today - day).days > max_age:
        errors.add("occurred_on", _l("The date is more than %(n)d days ago.", n=max_age))
        return None
    return day


def _rule(errors: Errors, data: dict):
    code = data.get("rule_code")
    if code is None or code == "":
        errors.add("rule_code", _l("This field is required."))
        return None
    rule = current_rule(code.strip() if isinstance(code, str) else code)
    if rule is None:
        errors.add("rule_code", _l("Unknown rule."))
        return None
    if not rule.active:
        errors.add("rule_code", _l("This rule is retired and can no longer be awarded."))
        return None
    return rule


def _reason(data: dict) -> str:
    errors = Errors()
    reason = text(errors, data, "reason", required=True, max_len=500)
    errors.raise_if_any()
    return reason.strip()


def _label(h: Household) -> str:
    return f"{h.code} {h.head_name}"


def _month(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _lock_households(actor: User, ids: list[int]) -> list[Household]:
    """The households of an award, locked in id order (PostgreSQL; on SQLite
    the write transaction is already exclusive). Any outside scope: 404."""
    found = db.session.scalars(
        visible_households(actor).where(Household.id.in_(ids)).order_by(Household.id)
        .with_for_update(of=Household).execution_options(populate_existing=True)
    ).all()
    missing = [i for i in ids if i not in {h.id for h in found}]
    if missing:
        raise NotFound(errors={f"households.{i}": [_l("Not found.")] for i in missing})
    return found


def live_count_in_month(rule_code: str, household_ids: list[int], day: date) -> dict[int, int]:
    """Per household: awards or deductions of this rule code in day's calendar
    month that still count (pending, disputed or posted, and not reversed)."""
    start, end = _month(day)
    reversal = aliased(LedgerEntry)
    rows = db.session.execute(
        select(LedgerEntry.household_id, func.count())
        .where(LedgerEntry.household_id.in_(household_ids),
               LedgerEntry.rule_code == rule_code,
               LedgerEntry.kind.in_(("award", "deduction")),
               LedgerEntry.occurred_on >= start, LedgerEntry.occurred_on < end,
               LedgerEntry.status.in_(LIVE_STATUSES),
               ~exists().where(reversal.reversal_of == LedgerEntry.id))
        .group_by(LedgerEntry.household_id)
    ).all()
    return dict(rows)


# -- acts ----------------------------------------------------------------------

def award_points(actor: User, data: dict, evidence=None, *, now: datetime | None = None
                 ) -> list[LedgerEntry]:
    """Award (or deduct) a rule's points to one or many households as one act:
    every household gets an entry or, if any is refused, none does."""
    require_role(actor, *AWARDING_ROLES)
    now = now or utcnow()
    errors = Errors()
    rule = _rule(errors, data)
    ids = _household_ids(errors, data)
    occurred_on = _occurred_on(errors, data, now)
    note = text(errors, data, "note", required=False, max_len=500)
    photo = prepare_photo(errors, evidence) if evidence is not None else None
    if rule is not None and rule.needs_evidence and evidence is None:
        errors.add("evidence", _l("This rule needs a photo as evidence."))
    errors.raise_if_any()

    households = _lock_households(actor, ids)
    inactive = [h for h in households if h.status != "active"]
    if inactive:
        raise HouseholdInactive(
            _l("%(n)d of the households are no longer active; nothing was awarded.", n=len(inactive)),
            errors={f"households.{h.id}": [_l("%(household)s has exited.", household=_label(h))]
                    for h in inactive})
    if rule.cap_per_month is not None:
        counts = live_count_in_month(rule.code, ids, occurred_on)
        over = [h for h in households if counts.get(h.id, 0) + 1 > rule.cap_per_month]
        if over:
            raise CapExceeded(
                _l("%(n)d of the households already have %(rule)s %(cap)d time(s) in %(month)s; "
                   "nothing was awarded.", n=len(over), rule=rule.code, cap=rule.cap_per_month,
                   month=occurred_on.strftime("%Y-%m")),
                errors={f"households.{h.id}": [_l(
                    "%(household)s: already %(count)d of %(cap)d this month.",
                    household=_label(h), count=counts.get(h.id, 0), cap=rule.cap_per_month)]
                    for h in over})

    stored = store_photo(actor, photo) if photo is not None else None
    kind = "award" if rule.points > 0 else "deduction"
    needs_approval = kind == "award" and rule.points > int(current_app.config["POINTS_APPROVAL_ABOVE"])
    ends = notice_end(now)
    at_once = ends <= now and not needs_approval
    made = []
    for household_id in ids:
        made.append(LedgerEntry(
            household_id=household_id, kind=kind, points=rule.points,
            status="posted" if at_once else "pending",
            rule_id=rule.id, rule_code=rule.code, note=note.strip() if note else None,
            occurred_on=occurred_on, created_at=now, created_by_id=actor.id,
            notice_ends_at=ends, due_at=None if needs_approval else ends,
            posted_at=now if at_once else None, needs_approval=needs_approval,
            evidence_id=stored.id if stored else None,
        ))
    db.session.add_all(made)
    db.session.flush()
    if at_once:
        _add_to_balances({e.household_id: e.points for e in made}, now)
    for entry in made:
        audit.record(actor, f"points.{kind}", entry, household_id=entry.household_id,
                     rule_code=rule.code, rule_id=rule.id, points=entry.points,
                     batch=len(made), status=entry.status)
    return made


def _add_to_balances(deltas: dict[int, int], now: datetime) -> None:
    """Add points to balances in one statement per household, in id order."""
    for household_id in sorted(deltas):
        db.session.execute(
            update(Household).where(Household.id == household_id)
            .values(balance=Household.balance + deltas[household_id], updated_at=now)
            .execution_options(synchronize_session=False)
        )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Household) and obj.id in deltas:
            db.session.expire(obj, ["balance", "updated_at"])


def get_entry(actor: User, entry_id, *, lock: bool = False) -> LedgerEntry:
    """An entry of a household the user can see; otherwise 404."""
    if not isinstance(entry_id, int) or as_id(entry_id) is None:
        raise NotFound()
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound()
    get_household(actor, entry.household_id)
    if lock:
        # Household first, then the entry: the lock order posting and checkouts use.
        db.session.execute(select(Household.id).where(Household.id == entry.household_id)
                           .with_for_update())
        entry = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.id == entry_id).with_for_update()
            .execution_options(populate_existing=True)).one()
    return entry


def awaiting_approval(entry: LedgerEntry) -> bool:
    return entry.status == "pending" and entry.needs_approval and entry.approved_at is None


def raise_objection(actor: User, entry_id, data: dict, *, now: datetime | None = None
                    ) -> LedgerEntry:
    """Object to an entry on public notice: it is disputed until a cadre decides."""
    now = now or utcnow()
    reason = _reason(data)
    entry = get_entry(actor, entry_id, lock=True)
    if entry.status != "pending" or entry.notice_ends_at is None or entry.notice_ends_at <= now:
        raise Conflict(_l("Objections can only be raised while the entry is on public notice."))
    entry.status = "disputed"
    entry.due_at = None
    entry.objection_reason = reason
    entry.objection_by_id = actor.id
    entry.objection_at = now
    audit.record(actor, "points.objection", entry, household_id=entry.household_id)
    return entry


def _decidable(actor: User, entry_id) -> LedgerEntry:
    require_role(actor, *DECIDING_ROLES)
    entry = get_entry(actor, entry_id, lock=True)
    if entry.created_by_id == actor.id:
        raise Forbidden(_l("Nobody decides on an entry they made themselves."))
    if entry.status != "disputed" and not awaiting_approval(entry):
        raise Conflict(_l("This entry is neither disputed nor awaiting approval."))
    return entry


def approve_entry(actor: User, entry_id, *, now: datetime | None = None) -> LedgerEntry:
    """Uphold a disputed entry and/or give the approval a large award needs; it
    posts once its notice has also ended (at once, if it already has)."""
    now = now or utcnow()
    entry = _decidable(actor, entry_id)
    upheld = entry.status == "disputed"
    if upheld:
        entry.decided_by_id = actor.id
        entry.decided_at = now
    if entry.needs_approval and entry.approved_at is None:
        entry.approved_by_id = actor.id
        entry.approved_at = now
    entry.status = "pending"
    entry.due_at = max(entry.notice_ends_at or now, now)
    audit.record(actor, "points.uphold" if upheld else "points.approve", entry,
                 household_id=entry.household_id)
    if entry.due_at <= now:
        db.session.flush()
        added, _ = post_entries(db.session.connection(), now,
                                and_(entries_table.c.id == entry.id,
                                     entries_table.c.due_at <= now), actor_id=actor.id)
        _expire_posted(entry, added)
    return entry


def _expire_posted(entry: LedgerEntry, added: dict) -> None:
    db.session.expire(entry, ["status", "posted_at"])
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Household) and obj.id in added:
            db.session.expire(obj, ["balance", "updated_at"])


def reject_entry(actor: User, entry_id, data: dict, *, now: datetime | None = None
                 ) -> LedgerEntry:
    """Accept the objection or refuse the approval: the entry is cancelled and never counts."""
    require_role(actor, *DECIDING_ROLES)
    now = now or utcnow()
    reason = _reason(data)
    entry = _decidable(actor, entry_id)
    was = "disputed" if entry.status == "disputed" else "awaiting-approval"
    entry.status = "cancelled"
    entry.due_at = None
    entry.decided_by_id = actor.id
    entry.decided_at = now
    entry.decision_reason = reason
    audit.record(actor, "points.reject", entry, household_id=entry.household_id, was=was)
    return entry


def reverse_entry(actor: User, entry_id, data: dict, *, now: datetime | None = None
                  ) -> LedgerEntry:
    """Correct a posted entry by a new entry of the opposite points, once."""
    require_role(actor, *DECIDING_ROLES)
    now = now or utcnow()
    reason = _reason(data)
    entry = get_entry(actor, entry_id, lock=True)
    if entry.kind == "reversal":
        raise Conflict(_l("A reversal cannot itself be reversed."))
    if entry.kind == "redemption":
        raise Conflict(_l("A redemption is undone by voiding its checkout."))
    if entry.status != "posted":
        raise Conflict(_l("Only posted entries can be reversed; an entry on notice is rejected instead."))
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reversal_of == entry.id)):
        raise Conflict(_l("This entry has already been reversed."))
    reversal = LedgerEntry(
        household_id=entry.household_id, kind="reversal", points=-entry.points, status="posted",
        rule_id=entry.rule_id, rule_code=entry.rule_code, note=reason,
        occurred_on=local_today(now), created_at=now, created_by_id=actor.id,
        posted_at=now, reversal_of=entry.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(reversal)
            db.session.flush()
    except IntegrityError:
        # The UNIQUE reversal_of caught a reversal racing this one.
        raise Conflict(_l("This entry has already been reversed."))
    _add_to_balances({entry.household_id: reversal.points}, now)
    audit.record(actor, "points.reverse", reversal, household_id=entry.household_id,
                 reversal_of=entry.id, points=reversal.points)
    return reversal


def adjust_points(actor: User, household_id, data: dict, *, now: datetime | None = None
                  ) -> LedgerEntry:
    """An admin's correction or opening balance (from a paper passbook), posted at once."""
    require_role(actor, "admin")
    now = now or utcnow()
    errors = Errors()
    points = integer(errors, data, "points", required=True, minimum=-100000, maximum=100000)
    if points == 0:
        errors.add("points", _l("Must not be zero."))
    reason = text(errors, data, "reason", required=True, max_len=500)
    errors.raise_if_any()
    household = get_household(actor, household_id)
    entry = LedgerEntry(household_id=household.id, kind="adjustment", points=points,
                        status="posted", note=reason.strip(), occurred_on=local_today(now),
                        created_at=now, created_by_id=actor.id, posted_at=now)
    db.session.add(entry)
    db.session.flush()
    _add_to_balances({household.id: points}, now)
    audit.record(actor, "points.adjust", entry, household_id=household.id, points=points)
    return entry


# -- reading -------------------------------------------------------------------

def household_ledger(actor: User, household_id, *, page: int = 1, per_page: int = 50):
    """A page of a household's entries, newest first, with the total."""
    household = get_household(actor, household_id)
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.household_id == household.id))
    items = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id)
        .order_by(LedgerEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return household, items, total


def reversed_by(entries: list[LedgerEntry]) -> dict[int, int]:
    """{entry id: id of the reversal naming it}, for these entries, in one query."""
    ids = [e.id for e in entries]
    if not ids:
        return {}
    rows = db.session.execute(
        select(LedgerEntry.reversal_of, LedgerEntry.id).where(LedgerEntry.reversal_of.in_(ids))
    ).all()
    return dict(rows)


def pending_by_household(household_ids) -> dict[int, int]:
    """Signed sum of pending and disputed entries per household, in one query."""
    ids = list(household_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(LedgerEntry.household_id, func.sum(LedgerEntry.points))
        .where(LedgerEntry.household_id.in_(ids),
               LedgerEntry.status.in_(("pending", "disputed")))
        .group_by(LedgerEntry.household_id)
    ).all()
    return {hid: int(total or 0) for hid, total in rows}


# -- year-end expiry -------------------------------------------------------------

class ExpiryOff(Conflict):
    title = _l("Year-end expiry is switched off (POINTS_YEAR_END_EXPIRY).")


def expire_year(year: int, *, now: datetime | None = None, actor: User | None = None,
                after_id: int = 0, batch: int = 1000) -> tuple[int | None, int, int]:
    """Clear the points left over from `year` for the next `batch` households
    with id > after_id: an `expiry` entry takes each positive balance down by
    what remains of the points held at the year's end (spending since then
    used the old points first; points earned since are kept). Run again
    after it finished, it writes nothing. Returns (last household id seen, or
    None when done; entries written; points expired)."""
    if not current_app.config["POINTS_YEAR_END_EXPIRY"]:
        raise ExpiryOff()
    now = now or utcnow()
    if not isinstance(year, int) or year >= local_today(now).year:
        raise Conflict(_l("Only a year that has ended can be cleared."))
    cutoff = local_midnight(date(year + 1, 1, 1))
    year_end = date(year, 12, 31)
    households = db.session.scalars(
        select(Household).where(Household.id > after_id).order_by(Household.id).limit(batch)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    if not households:
        return None, 0, 0
    post_due(now, household_ids=[h.id for h in households])
    ids = [h.id for h in households if h.balance > 0]
    held, spent_since, done = defaultdict(int), defaultdict(int), set()
    if ids:
        for hid, total in db.session.execute(
                select(LedgerEntry.household_id, func.sum(LedgerEntry.points))
                .where(LedgerEntry.household_id.in_(ids), LedgerEntry.status == "posted",
                       LedgerEntry.posted_at < cutoff)
                .group_by(LedgerEntry.household_id)):
            held[hid] = int(total or 0)
        for hid, total in db.session.execute(
                select(LedgerEntry.household_id, func.sum(LedgerEntry.points))
                .where(LedgerEntry.household_id.in_(ids), LedgerEntry.status == "posted",
                       LedgerEntry.posted_at >= cutoff, LedgerEntry.points < 0)
                .group_by(LedgerEntry.household_id)):
            spent_since[hid] = int(total or 0)
        done = set(db.session.scalars(
            select(LedgerEntry.household_id).where(
                LedgerEntry.household_id.in_(ids), LedgerEntry.kind == "expiry",
                LedgerEntry.occurred_on == year_end)))
    made = []
    for h in households:
        if h.balance <= 0 or h.id in done:
            continue
        amount = min(h.balance, held[h.id] + spent_since[h.id])
        if amount <= 0:
            continue
        made.append(LedgerEntry(
            household_id=h.id, kind="expiry", points=-amount, status="posted",
            note=f"{year} year-end clearing", occurred_on=year_end, created_at=now,
            created_by_id=actor.id if actor else None, posted_at=now))
    if made:
        db.session.add_all(made)
        db.session.flush()
        _add_to_balances({e.household_id: e.points for e in made}, now)
        for entry in made:
            audit.record(actor, "points.expire", entry, household_id=entry.household_id,
                         points=entry.points, year=year)
    return households[-1].id, len(made), -sum(e.points for e in made)
