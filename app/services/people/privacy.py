"""Privacy: once a household has been out of the programme for the retention
period (RETENTION_YEARS_AFTER_EXIT, counted from its exit date), an admin
anonymises its personal data. Its name, phone, address, size, tags, register
number and PIN go, and so does the free text that may name people (ledger
notes, objections and their objectors, decisions, visit notes, reasons given
at the counter, fairness notes, audit details); its evidence photos are
deleted and its cards revoked. Its code, village, status and every figure
stay (entries' points, dates and rules, the balance, the kept totals), so the
ledger check passes and every report adds up as before."""
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (AuditRecord, Card, Checkout, Evidence, FairnessNote, Household,
                        IdempotencyKey, LedgerEntry, User, Visit, utcnow)
from app.services import audit
from app.services.clock import local_today
from app.services.people import policy
from app.services.people.scope import get_household
from app.services.points.evidence import evidence_root

# What the register shows in place of the head's name (data, like the names
# it replaces: the pages add a translated "Anonymised" mark beside it).
PLACEHOLDER_NAME = "已匿名"
# Audit details of the household's records become this: the act, who, when
# and on what object stay; what the details said goes.
ANONYMISED_DETAILS = {"anonymised": True}
# Households one "anonymise all eligible" click takes (one transaction); the
# page says how many remain.
BULK_MAX = 500
# The counter's coded no-card reasons (app.services.checkout.checkouts) say
# nothing about a person and stay; any other text given there goes.
CODED_NO_CARD_REASONS = ("pin", "lost", "elder", "at_home")

_FILES_KEY = "aixin_delete_after_commit"


def retention_years() -> int:
    return max(0, int(current_app.config["RETENTION_YEARS_AFTER_EXIT"]))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def retention_cutoff(today: date | None = None) -> date:
    """The latest exit date whose retention period is over by `today`."""
    return _years_before(today or local_today(), retention_years())


def kept_until(exited_on: date) -> date:
    """The first day a household that exited on `exited_on` may be anonymised."""
    years = retention_years()
    try:
        return exited_on.replace(year=exited_on.year + years)
    except ValueError:
        return exited_on.replace(year=exited_on.year + years, month=3, day=1)


def _eligible(today: date | None = None, exited_before: date | None = None):
    query = (select(Household)
             .where(Household.status == "exited", Household.exited_on.is_not(None),
                    Household.exited_on <= retention_cutoff(today),
                    Household.anonymised_at.is_(None)))
    if exited_before is not None:
        query = query.where(Household.exited_on < exited_before)
    return query


def eligible_households(actor: User, *, page: int = 1, per_page: int = 50,
                        today: date | None = None, exited_before: date | None = None
                        ) -> tuple[list[Household], int]:
    """A page of the households whose data may be anonymised now (the longest
    exited first; only those exited before `exited_before`, if given), with their number."""
    policy.require(actor, "households.anonymise")
    query = _eligible(today, exited_before)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (max(page, 1) - 1) * per_page
    if offset >= total:
        return [], total
    items = db.session.scalars(
        query.order_by(Household.exited_on, Household.id).limit(per_page).offset(offset)).all()
    return list(items), total


def anonymised_count(actor: User) -> int:
    policy.require(actor, "households.anonymise")
    return db.session.scalar(select(func.count()).where(Household.anonymised_at.is_not(None)))


def anonymise_household(actor: User, household_id, *, now: datetime | None = None) -> Household:
    """Anonymise one exited household past its retention period (admin). A
    household not yet eligible is refused (422; 409 if already anonymised)
    and nothing changes."""
    policy.require(actor, "households.anonymise")
    now = now or utcnow()
    hh = get_household(actor, household_id)
    hh = _locked(hh.id)
    policy.require(actor, "households.anonymise", hh, today=local_today(now))
    counts = _blank(hh, now)
    # Written after the blanking, which would otherwise blank it too: counts only.
    audit.record(actor, "household.anonymise", hh, **counts)
    return hh


def anonymise_eligible(actor: User, *, limit: int = BULK_MAX, now: datetime | None = None,
                       exited_before: date | None = None) -> tuple[int, int]:
    """Anonymise every eligible household (at most `limit`, the longest exited
    first; only those exited before `exited_before`, if given): how many were
    done, and how many remain eligible."""
    policy.require(actor, "households.anonymise")
    now = now or utcnow()
    today = local_today(now)
    ids = db.session.scalars(
        _eligible(today, exited_before).with_only_columns(Household.id)
        .order_by(Household.exited_on, Household.id).limit(limit)).all()
    done = 0
    for household_id in ids:
        hh = _locked(household_id)
        if not policy.can(actor, "households.anonymise", hh, today=today):
            continue  # anonymised meanwhile
        counts = _blank(hh, now)
        audit.record(actor, "household.anonymise", hh, bulk=True, **counts)
        done += 1
    remaining = db.session.scalar(
        select(func.count()).select_from(_eligible(today, exited_before).subquery()))
    return done, remaining


def _locked(household_id: int) -> Household:
    """The household re-read under its row lock (PostgreSQL; SQLite's write
    transaction is exclusive), so two admins never anonymise it twice."""
    return db.session.scalars(
        select(Household).where(Household.id == household_id).with_for_update()
        .execution_options(populate_existing=True)).one()


def _blank(hh: Household, now: datetime) -> dict:
    """Blank everything personal about `hh`; what was blanked, counted (no values)."""
    hid = hh.id
    hh.head_name = PLACEHOLDER_NAME
    hh.phone = None
    hh.address = None
    hh.members = 1  # the smallest the register allows; no report sums members
    hh.tags = []
    hh.register_no = None
    hh.passbook_pin_hash = None
    hh.anonymised_at = now
    db.session.flush()  # before the statements below, which bypass the session

    entry_ids = select(LedgerEntry.id).where(LedgerEntry.household_id == hid)
    checkout_ids = select(Checkout.id).where(Checkout.household_id == hid)
    card_ids = select(Card.id).where(Card.household_id == hid)
    note_ids = select(FairnessNote.id).where(FairnessNote.subject_type == "household",
                                             FairnessNote.subject_id == hid)
    photos, own_photos = _photos(hid)

    # The audit details first: their records are found through the objects below.
    concerns = [AuditRecord.household_id == hid,
                and_(AuditRecord.object_type == "households", AuditRecord.object_id == hid),
                and_(AuditRecord.object_type == "ledger_entries", AuditRecord.object_id.in_(entry_ids)),
                and_(AuditRecord.object_type == "checkouts", AuditRecord.object_id.in_(checkout_ids)),
                and_(AuditRecord.object_type == "cards", AuditRecord.object_id.in_(card_ids)),
                and_(AuditRecord.object_type == "fairness_notes", AuditRecord.object_id.in_(note_ids))]
    if own_photos:
        concerns.append(and_(AuditRecord.object_type == "evidence",
                             AuditRecord.object_id.in_([p.id for p in own_photos])))
    audit_records = _execute(
        update(AuditRecord).where(or_(*concerns))
        # Older records learn the household they concern, so its trail still finds them.
        .values(details=ANONYMISED_DETAILS,
                household_id=func.coalesce(AuditRecord.household_id, hid),
                village_id=func.coalesce(AuditRecord.village_id, hh.village_id)))

    entries = _execute(
        update(LedgerEntry).where(LedgerEntry.household_id == hid)
        .values(note=None, objection_reason=None, objector=None, decision_reason=None,
                evidence_id=None))
    visits = _execute(update(Visit).where(Visit.household_id == hid).values(note=None))
    _execute(update(Checkout).where(Checkout.household_id == hid,
                                    Checkout.no_card_reason.not_in(CODED_NO_CARD_REASONS))
             .values(no_card_reason=None))
    _execute(update(Checkout).where(Checkout.household_id == hid, Checkout.void_reason.is_not(None))
             .values(void_reason=None))
    _execute(update(FairnessNote).where(FairnessNote.id.in_(note_ids)).values(note=""))
    cards = _execute(update(Card).where(Card.household_id == hid, Card.status == "active")
                     .values(status="revoked", revoked_at=now))
    if own_photos:
        _execute(delete(Evidence).where(Evidence.id.in_([p.id for p in own_photos])))
        root = evidence_root()
        delete_after_commit([root / p.path for p in own_photos])
    # Stored API answers may quote the household's notes: forget those past
    # their promised time (what `flask ledger purge-keys` does on a schedule).
    hours = max(24, int(current_app.config["IDEMPOTENCY_KEEP_HOURS"]))
    _execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - timedelta(hours=hours)))
    db.session.expire_all()  # objects loaded earlier re-read what the statements changed
    return {"entries": entries, "visits": visits, "photos_deleted": len(own_photos),
            "photos_unlinked": len(photos) - len(own_photos), "cards_revoked": cards,
            "audit_records": audit_records}


def _photos(household_id: int) -> tuple[list[Evidence], list[Evidence]]:
    """The photos behind the household's entries, and of those the ones that
    back no other household's entry (a photo of a group award stays for the
    others; this household's entries only let go of it)."""
    ids = select(LedgerEntry.evidence_id).where(LedgerEntry.household_id == household_id,
                                                LedgerEntry.evidence_id.is_not(None))
    photos = list(db.session.scalars(select(Evidence).where(Evidence.id.in_(ids)).order_by(Evidence.id)))
    if not photos:
        return [], []
    shared = set(db.session.scalars(
        select(LedgerEntry.evidence_id).where(LedgerEntry.evidence_id.in_([p.id for p in photos]),
                                              LedgerEntry.household_id != household_id)))
    return photos, [p for p in photos if p.id not in shared]


def _execute(statement) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount or 0


def delete_after_commit(paths: list[Path]) -> None:
    """Delete these files once the session's transaction commits (never if it
    rolls back: a photo whose row stays must stay on disk)."""
    db.session().info.setdefault(_FILES_KEY, []).extend(paths)


@event.listens_for(Session, "after_commit")
def _delete_files(session) -> None:
    for path in session.info.pop(_FILES_KEY, []):
        Path(path).unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_files(session) -> None:
    session.info.pop(_FILES_KEY, None)
