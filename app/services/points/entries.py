"""What happens to an entry after it is made: an objection while it is on
notice, a cadre's decision (uphold or approve, reject), its author's
withdrawal while it has not posted, a reversal once it has posted; and the review lists (entries awaiting a decision, entries on
notice). Whether the act is allowed is the policy's (points.object,
points.decide, points.withdraw, points.reverse); the change itself is the ledger writer's."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Household, LedgerEntry, User, utcnow
from app.services import audit
from app.services.errors import Conflict, Errors, NotFound
from app.services.ledger import writer
from app.services.people import policy
from app.services.people.scope import get_household, get_region, visible_households
from app.services.validate import as_id, text

REASON_MAX = 500
LIST_LIMIT = 500


OBJECTOR_MAX = 100


def reason_of(data: dict) -> str:
    errors = Errors()
    reason = text(errors, data, "reason", required=True, max_len=REASON_MAX)
    errors.raise_if_any()
    return reason.strip()


def optional_reason_of(data: dict | None) -> str | None:
    errors = Errors()
    reason = text(errors, data or {}, "reason", required=False, max_len=REASON_MAX)
    errors.raise_if_any()
    return reason.strip() if reason else None


def objection_of(data: dict) -> tuple[str, str | None]:
    """The objection's reason (public: it shows in the household's passbook)
    and, apart from it, who objected (staff and cadres only)."""
    errors = Errors()
    reason = text(errors, data, "reason", required=True, max_len=REASON_MAX)
    objector = text(errors, data, "objector", required=False, max_len=OBJECTOR_MAX)
    errors.raise_if_any()
    return reason.strip(), (objector.strip() if objector else None)


def get_entry(actor: User, entry_id, *, lock: bool = False) -> LedgerEntry:
    """An entry of a household the user can see; otherwise 404. With `lock`,
    the household and then the entry are locked (the writer's lock order)."""
    if not isinstance(entry_id, int) or as_id(entry_id) is None:
        raise NotFound()
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound()
    get_household(actor, entry.household_id)
    if lock:
        writer.lock_households(db.session.connection(), [entry.household_id])
        entry = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.id == entry_id).with_for_update()
            .execution_options(populate_existing=True)).one()
    return entry


def raise_objection(actor: User, entry_id, data: dict, *, now: datetime | None = None
                    ) -> LedgerEntry:
    """Object to an entry on public notice: it is disputed until a cadre decides.
    The reason is public (the household's passbook); who objected is not."""
    policy.require(actor, "points.object")
    now = now or utcnow()
    reason, objector = objection_of(data)
    entry = get_entry(actor, entry_id, lock=True)
    policy.require(actor, "points.object", entry, now=now)
    writer.dispute(entry, reason=reason, by_id=actor.id, now=now, objector=objector)
    audit.record(actor, "points.objection", entry, household_id=entry.household_id)
    return entry


def _decidable(actor: User, entry_id) -> LedgerEntry:
    policy.require(actor, "points.decide")
    entry = get_entry(actor, entry_id, lock=True)
    policy.require(actor, "points.decide", entry)
    return entry


def approve_entry(actor: User, entry_id, data: dict | None = None, *,
                  now: datetime | None = None) -> LedgerEntry:
    """Uphold a disputed entry and/or give the approval a large award needs,
    with a reason if one is given; it posts once its notice has also ended
    (at once, if it already has)."""
    policy.require(actor, "points.decide")
    now = now or utcnow()
    reason = optional_reason_of(data)
    entry = _decidable(actor, entry_id)
    upheld = writer.clear_to_post(entry, actor_id=actor.id, now=now, reason=reason)
    audit.record(actor, "points.uphold" if upheld else "points.approve", entry,
                 household_id=entry.household_id)
    return entry


def reject_entry(actor: User, entry_id, data: dict, *, now: datetime | None = None
                 ) -> LedgerEntry:
    """Accept the objection or refuse the approval: the entry is cancelled and never counts."""
    policy.require(actor, "points.decide")
    now = now or utcnow()
    reason = reason_of(data)
    entry = _decidable(actor, entry_id)
    was = "disputed" if entry.status == "disputed" else "awaiting-approval"
    writer.cancel(entry, actor_id=actor.id, reason=reason, now=now)
    audit.record(actor, "points.reject", entry, household_id=entry.household_id, was=was)
    return entry


def withdraw_entry(actor: User, entry_id, data: dict, *, now: datetime | None = None
                   ) -> LedgerEntry:
    """Take back a mistaken award or deduction still on notice (or disputed):
    its author, or a cadre. It is cancelled, never counts, stays in the ledger
    marked withdrawn, and is no rejection in the author's figures."""
    policy.require(actor, "points.withdraw")
    now = now or utcnow()
    reason = reason_of(data)
    entry = get_entry(actor, entry_id, lock=True)
    policy.require(actor, "points.withdraw", entry)
    was = entry.status
    writer.cancel(entry, actor_id=actor.id, reason=reason, now=now, withdrawn=True)
    audit.record(actor, "points.withdraw", entry, household_id=entry.household_id, was=was,
                 reason=reason)
    return entry


def reverse_entry(actor: User, entry_id, data: dict, *, now: datetime | None = None
                  ) -> LedgerEntry:
    """Correct a posted entry by a new entry of the opposite points, once."""
    policy.require(actor, "points.reverse")
    now = now or utcnow()
    reason = reason_of(data)
    entry = get_entry(actor, entry_id, lock=True)
    already = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reversal_of == entry.id))
    policy.require(actor, "points.reverse", entry, reversed=already is not None)
    try:
        reversal = writer.reverse(entry, actor_id=actor.id, note=reason, now=now)
    except writer.AlreadyReversed:
        raise Conflict(_l("This entry has already been reversed.")) from None
    audit.record(actor, "points.reverse", reversal, household_id=entry.household_id,
                 reversal_of=entry.id, points=reversal.points)
    return reversal


# -- the review lists ------------------------------------------------------------------

def _in_reach(actor: User, village_id=None):
    policy.require(actor, "points.read")
    households = visible_households(actor)
    if village_id is not None:
        village = get_region(actor, village_id)
        households = households.where(Household.village_id == village.id)
    return LedgerEntry.household_id.in_(households.with_only_columns(Household.id))


def _listed(where, order, limit: int) -> list[LedgerEntry]:
    return list(db.session.scalars(
        select(LedgerEntry).where(where).order_by(*order).limit(limit)
        .options(selectinload(LedgerEntry.household).selectinload(Household.village),
                 selectinload(LedgerEntry.rule), selectinload(LedgerEntry.created_by))
    ))


def awaiting_decision_clause():
    return or_(LedgerEntry.status == "disputed",
               and_(LedgerEntry.status == "pending", LedgerEntry.needs_approval.is_(True),
                    LedgerEntry.approved_at.is_(None)))


def decision_queue(actor: User, village_id=None, *, limit: int = LIST_LIMIT) -> list[LedgerEntry]:
    """Disputed entries and awards awaiting approval, oldest first (for those who decide)."""
    if not policy.can(actor, "points.decide"):
        return []
    return _listed(and_(_in_reach(actor, village_id), awaiting_decision_clause()),
                   (LedgerEntry.created_at, LedgerEntry.id), limit)


def on_notice(actor: User, village_id=None, *, now: datetime | None = None,
              limit: int = LIST_LIMIT) -> tuple[list[LedgerEntry], int]:
    """Entries still on public notice (objections possible), newest first, and how many there are."""
    now = now or utcnow()
    where = and_(_in_reach(actor, village_id), LedgerEntry.status == "pending",
                 LedgerEntry.notice_ends_at > now)
    total = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(where))
    return _listed(where, (LedgerEntry.created_at.desc(), LedgerEntry.id.desc()), limit), total
