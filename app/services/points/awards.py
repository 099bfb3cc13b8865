"""Awards and deductions (加分/扣分) by a rule of the catalogue, with their public
notice, and an admin's adjustments. The entries themselves are written by the
ledger's writer; this module decides what they are."""
import re
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import LIVE_STATUSES, Household, LedgerEntry, Rule, User, utcnow
from app.services import audit
from app.services.clock import local_midnight, local_today
from app.services.errors import CapExceeded, Errors, HouseholdInactive, NotFound
from app.services.ledger import writer
from app.services.people import policy
from app.services.people.scope import get_household, visible_households
from app.services.points.evidence import prepare_photo, store_photo
from app.services.points.rules import current_rule
from app.services import validate
from app.services.validate import as_id, integer, text

NOTE_MAX = 500


def notice_end(created_at: datetime) -> datetime:
    """End of the local day POINTS_NOTICE_DAYS days after creation; 0 days: at once."""
    days = int(current_app.config["POINTS_NOTICE_DAYS"])
    if days <= 0:
        return created_at
    return local_midnight(local_today(created_at) + timedelta(days=days + 1))


# -- input ---------------------------------------------------------------------

def household_ids_field(errors: Errors, data: dict) -> list[int]:
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
    day = validate.day(errors, data, "occurred_on", required=True)
    if day is None:
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


def _rule(errors: Errors, data: dict) -> Rule | None:
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


def label(h: Household) -> str:
    return f"{h.code} {h.head_name}"


def _month(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _locked_households(actor: User, ids: list[int]) -> list[Household]:
    """The households of an award, locked in id order. Any outside scope: 404."""
    found = writer.locked_households(visible_households(actor).where(Household.id.in_(ids)))
    have = {h.id for h in found}  # once: inside the comprehension it was built again per id
    missing = [i for i in ids if i not in have]
    if missing:
        raise NotFound(households={i: [_l("Not found.")] for i in missing})
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
    policy.require(actor, "points.award")
    now = now or utcnow()
    errors = Errors()
    rule = _rule(errors, data)
    ids = household_ids_field(errors, data)
    occurred_on = _occurred_on(errors, data, now)
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    photo = prepare_photo(errors, evidence) if evidence is not None else None
    if rule is not None and rule.needs_evidence and evidence is None:
        errors.add("evidence", _l("This rule needs a photo as evidence."))
    errors.raise_if_any()

    households = _locked_households(actor, ids)
    refused = {h.id: [_l("%(household)s has exited.", household=label(h))]
               for h in households if not policy.can(actor, "points.award", h)}
    if refused:
        raise HouseholdInactive(
            _l("%(n)d of the households are no longer active; nothing was awarded.", n=len(refused)),
            households=refused)
    if rule.cap_per_month is not None:
        counts = live_count_in_month(rule.code, ids, occurred_on)
        over = [h for h in households if counts.get(h.id, 0) + 1 > rule.cap_per_month]
        if over:
            raise CapExceeded(
                _l("%(n)d of the households already have %(rule)s %(cap)d time(s) in %(month)s; "
                   "nothing was awarded.", n=len(over), rule=rule.code, cap=rule.cap_per_month,
                   month=occurred_on.strftime("%Y-%m")),
                households={h.id: [_l(
                    "%(household)s: already %(count)d of %(cap)d this month.",
                    household=label(h), count=counts.get(h.id, 0), cap=rule.cap_per_month)]
                    for h in over})

    stored = store_photo(actor, photo) if photo is not None else None
    kind = "award" if rule.points > 0 else "deduction"
    needs_approval = kind == "award" and rule.points > int(current_app.config["POINTS_APPROVAL_ABOVE"])
    ends = notice_end(now)
    at_once = ends <= now and not needs_approval
    made = writer.add([LedgerEntry(
        household_id=household_id, kind=kind, points=rule.points,
        status="posted" if at_once else "pending",
        rule_id=rule.id, rule_code=rule.code, note=note.strip() if note else None,
        occurred_on=occurred_on, created_at=now, created_by_id=actor.id,
        notice_ends_at=ends, due_at=None if needs_approval else ends,
        posted_at=now if at_once else None, needs_approval=needs_approval,
        evidence_id=stored.id if stored else None,
    ) for household_id in ids], now)
    # One statement for the batch's audit records (each names its entry, household and village).
    by_id = {h.id: h for h in households}
    audit.record_many(actor, f"points.{kind}", "ledger_entries", [e.id for e in made],
                      households=[by_id[e.household_id] for e in made], rule_code=rule.code,
                      rule_id=rule.id, points=rule.points, batch=len(made),
                      status=made[0].status)
    return made


def adjust_points(actor: User, household_id, data: dict, *, now: datetime | None = None
                  ) -> LedgerEntry:
    """An admin's correction or opening balance (from a paper passbook), posted at once."""
    policy.require(actor, "points.adjust")
    now = now or utcnow()
    errors = Errors()
    points = integer(errors, data, "points", required=True, minimum=-100000, maximum=100000)
    if points == 0:
        errors.add("points", _l("Must not be zero."))
    reason = text(errors, data, "reason", required=True, max_len=NOTE_MAX)
    errors.raise_if_any()
    household = get_household(actor, household_id)
    writer.lock_households(db.session.connection(), [household.id])
    [entry] = writer.add([LedgerEntry(
        household_id=household.id, kind="adjustment", points=points, status="posted",
        note=reason.strip(), occurred_on=local_today(now), created_at=now, created_by_id=actor.id,
        posted_at=now)], now)
    audit.record(actor, "points.adjust", entry, household_id=household.id, points=points)
    return entry
