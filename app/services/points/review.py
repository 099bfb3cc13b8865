"""What the review pages list: entries awaiting a cadre's decision (disputed,
or a large award awaiting approval) and entries on public notice, within the
user's reach."""
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Household, LedgerEntry, User, utcnow
from app.services.people.scope import get_region, require_role, visible_households

READERS = ("admin", "cadre", "staff")
LIMIT = 500


def _in_reach(actor: User, village_id=None):
    require_role(actor, *READERS)
    households = visible_households(actor)
    if village_id is not None:
        village = get_region(actor, village_id)
        households = households.where(Household.village_id == village.id)
    return LedgerEntry.household_id.in_(households.with_only_columns(Household.id))


def _entries(where, order, limit: int) -> list[LedgerEntry]:
    return list(db.session.scalars(
        select(LedgerEntry).where(where).order_by(*order).limit(limit)
        .options(selectinload(LedgerEntry.household).selectinload(Household.village),
                 selectinload(LedgerEntry.rule), selectinload(LedgerEntry.created_by))
    ))


def awaiting_decision_clause():
    return or_(LedgerEntry.status == "disputed",
               and_(LedgerEntry.status == "pending", LedgerEntry.needs_approval.is_(True),
                    LedgerEntry.approved_at.is_(None)))


def decision_queue(actor: User, village_id=None, *, limit: int = LIMIT) -> list[LedgerEntry]:
    """Disputed entries and awards awaiting approval, oldest first."""
    return _entries(and_(_in_reach(actor, village_id), awaiting_decision_clause()),
                    (LedgerEntry.created_at, LedgerEntry.id), limit)


def on_notice(actor: User, village_id=None, *, now: datetime | None = None,
              limit: int = LIMIT) -> tuple[list[LedgerEntry], int]:
    """Entries still on public notice (objections possible), newest first, and how many there are."""
    now = now or utcnow()
    where = and_(_in_reach(actor, village_id), LedgerEntry.status == "pending",
                 LedgerEntry.notice_ends_at > now)
    total = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(where))
    return _entries(where, (LedgerEntry.created_at.desc(), LedgerEntry.id.desc()), limit), total
