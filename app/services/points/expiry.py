"""Year-end clearing (积分清零): where a county lets points lapse at the end of
the year, an `expiry` entry takes each household's leftover points of a year
that has ended. Off unless POINTS_YEAR_END_EXPIRY is set."""
from collections import defaultdict
from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models import Household, LedgerEntry, User, utcnow
from app.services import audit
from app.services.clock import local_midnight, local_today
from app.services.errors import Conflict
from app.services.ledger import writer


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
    households = writer.locked_households(
        select(Household).where(Household.id > after_id).limit(batch))
    if not households:
        return None, 0, 0
    writer.post_due(now, household_ids=[h.id for h in households])
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
    writer.add(made, now)
    for entry in made:
        audit.record(actor, "points.expire", entry, household_id=entry.household_id,
                     points=entry.points, year=year)
    return households[-1].id, len(made), -sum(e.points for e in made)
