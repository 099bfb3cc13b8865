"""Households that need a visit (帮扶走访), and the visits that take them off
the list: active households in scope with no live award and no checkout
since the same day `months` calendar months ago (deductions are not
activity), and no visit recorded in that time. Read from the days the
ledger's writer keeps on each household (last_award_on, last_redeemed_on)
and the visits service's last_visit_on, so the list is one indexed query."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select

from app.extensions import db
from app.models import Household, User, Visit
from app.services import audit
from app.services.clock import local_today, local_zone
from app.services.errors import Conflict, Errors
from app.services.people import policy
from app.services.people.scope import get_household
from app.services.reports.figures import scope_of
from app.services.reports.period import months_back
from app.services.validate import day, integer, text

MONTHS_DEFAULT, MONTHS_MIN, MONTHS_MAX = 3, 1, 24
NOTE_MAX = 500
# A visit may be recorded for a day up to this long ago.
VISIT_MAX_AGE_DAYS = 366


def quiet_since(data: dict) -> tuple[int, date]:
    """`months` (1 to 24, default 3) and the first day that counts as recent."""
    errors = Errors()
    months = integer(errors, data, "months", required=False, minimum=MONTHS_MIN,
                     maximum=MONTHS_MAX)
    errors.raise_if_any()
    months = months or MONTHS_DEFAULT
    return months, months_back(local_today(), months)


def _latest(a, b):
    """The later of two nullable dates, in SQL that both databases speak."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def inactive(actor: User, data: dict, *, page: int | None = None,
             per_page: int | None = None) -> tuple[list[dict], int, date]:
    """The needs-a-visit list: never-active households first, then the longest
    quiet, then by id; `page` None: every row. Also returns the first recent day."""
    scope = scope_of(actor, data, lists=True)
    _, since = quiet_since(data)
    in_scope = scope.households(active_only=True).subquery("in_scope")
    last_active = _latest(Household.last_award_on, Household.last_redeemed_on)
    query = select(Household).join(in_scope, in_scope.c.id == Household.id).where(*_quiet(since))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(case((last_active.is_(None), 0), else_=1), last_active, Household.id)
    if page is not None:
        if (page - 1) * per_page >= total:
            return [], total, since   # past the end (and never an offset the database cannot hold)
        query = query.limit(per_page).offset((page - 1) * per_page)
    zone = local_zone()
    return [{
        "household_id": hh.id, "code": hh.code, "head_name": hh.head_name,
        "village_id": hh.village_id, "tags": list(hh.tags or []),
        "created_on": hh.created_at.astimezone(zone).date(),
        "last_award_on": hh.last_award_on, "last_redeemed_on": hh.last_redeemed_on,
        "last_visit_on": hh.last_visit_on, "balance": hh.balance,
    } for hh in db.session.scalars(query)], total, since


def inactive_count(actor: User, data: dict) -> int:
    """How many households need a visit (the dashboard's figure)."""
    scope = scope_of(actor, data, lists=True)
    _, since = quiet_since(data)
    in_scope = scope.households(active_only=True).subquery("in_scope")
    return db.session.scalar(
        select(func.count()).select_from(Household).join(in_scope, in_scope.c.id == Household.id)
        .where(*_quiet(since)))


def _quiet(since: date) -> list:
    """No award, no checkout and no visit on or after `since`."""
    return [or_(Household.last_award_on.is_(None), Household.last_award_on < since),
            or_(Household.last_redeemed_on.is_(None), Household.last_redeemed_on < since),
            or_(Household.last_visit_on.is_(None), Household.last_visit_on < since)]


def record_visit(actor: User, household_id, data: dict) -> Visit:
    """A helper's or cadre's visit: the household leaves the needs-a-visit list
    until it has been quiet as long again; its passbook lists the visit."""
    policy.require(actor, "visits.record")
    hh = get_household(actor, household_id)
    if hh.anonymised_at is not None:
        # A note would name people again in a record anonymised on purpose.
        raise Conflict(_l("This household's personal data has been anonymised: it can no longer be edited."))
    errors = Errors()
    visited_on = day(errors, data, "visited_on", required=True)
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    if visited_on is not None:
        today = local_today()
        if visited_on > today:
            errors.add("visited_on", _l("The date is in the future."))
        elif (today - visited_on).days > VISIT_MAX_AGE_DAYS:
            errors.add("visited_on", _l("The date is more than %(n)d days ago.",
                                        n=VISIT_MAX_AGE_DAYS))
    errors.raise_if_any()
    visit = Visit(household_id=hh.id, visited_on=visited_on, note=note, created_by_id=actor.id)
    db.session.add(visit)
    if hh.last_visit_on is None or hh.last_visit_on < visited_on:
        hh.last_visit_on = visited_on
    db.session.flush()
    audit.record(actor, "household.visit", hh, visit_id=visit.id, visited_on=visited_on.isoformat())
    return visit


def visits_of(actor: User, household: Household, limit: int = 50) -> list[Visit]:
    """A household's visits, latest first (the caller has checked its reach)."""
    policy.require(actor, "points.read")
    return list(db.session.scalars(
        select(Visit).where(Visit.household_id == household.id)
        .order_by(Visit.visited_on.desc(), Visit.id.desc()).limit(limit)))

