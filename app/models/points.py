"""Points: the rule catalogue (积分细则), the ledger, evidence photos and
idempotency keys. The ledger is append-only: an entry's points never change
and no entry is deleted; only its status moves (pending -> posted ...)."""
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.households import Household
from app.models.types import UTCDateTime, utcnow
from app.models.users import User

ENTRY_KINDS = ("award", "deduction", "redemption", "reversal", "expiry", "adjustment")
ENTRY_STATUSES = ("pending", "disputed", "posted", "cancelled")
# Entries that still count (or will): the monthly cap counts these, unless reversed.
LIVE_STATUSES = ("pending", "disputed", "posted")


class Rule(db.Model):
    """One version of a rule. Posting an existing code adds a version; entries
    keep pointing at the version (and so the points) they were given under."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(default=1)
    category: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    # Negative for a deduction (扣分项).
    points: Mapped[int]
    unit: Mapped[str | None] = mapped_column(String(20))
    # How many times a household may get it in a calendar month; None: no cap.
    cap_per_month: Mapped[int | None]
    needs_evidence: Mapped[bool] = mapped_column(default=False)
    # False once retired: it can no longer be awarded.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_rules_code_version"),
        CheckConstraint("points <> 0", name="points_nonzero"),
        CheckConstraint("cap_per_month IS NULL OR cap_per_month > 0", name="cap_positive"),
    )


class Evidence(db.Model):
    """A photo backing one or more entries, re-encoded and kept in the instance folder."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Relative to <instance>/evidence; never under static/.
    path: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(32), default="image/jpeg")
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(db.Model):
    """One change of a household's points (invariant 1: balance = sum of posted entries)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    # The rule version it was given under (award, deduction).
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"))
    rule_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    # The local date of the behaviour (or of the act, for other kinds).
    occurred_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # Public notice (公示): the entry is shown until notice_ends_at. due_at is
    # when it posts without anyone acting: the end of the notice, or the
    # approval if that comes later; null while it waits for an approval or is
    # disputed, so the "anything due?" check never scans those.
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    objection_reason: Mapped[str | None] = mapped_column(String(500))
    objection_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    objection_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A cadre's decision on a dispute or an approval: upheld, or rejected (cancelled).
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    # Who raised an objection (staff and cadres only; never public). The
    # reason alone is what the notice and the passbook show.
    objector: Mapped[str | None] = mapped_column(String(100))
    # Cancelled by its author (or a cadre) while still in notice: decided_by
    # and decision_reason say who and why; a withdrawal is not a rejection.
    withdrawn: Mapped[bool] = mapped_column(default=False)

    # Unique: an entry is reversed at most once, whatever races (invariant 5).
    reversal_of: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), index=True)
    # A redemption's checkout (and a void's): its goods are traced through it.
    checkout_id: Mapped[int | None] = mapped_column(Integer, index=True)

    household: Mapped[Household] = relationship()
    rule: Mapped[Rule | None] = relationship()
    evidence: Mapped[Evidence | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        Index("ix_ledger_household_status", "household_id", "status"),
        Index("ix_ledger_status_due", "status", "due_at"),
        Index("ix_ledger_status_notice", "status", "notice_ends_at"),
        Index("ix_ledger_household_rule_day", "household_id", "rule_code", "occurred_on"),
        # The reports read the days at the edges of a range from the ledger itself.
        Index("ix_ledger_day_kind", "occurred_on", "kind"),
        # The fairness checks read entries by the day they were entered, and a user's own.
        Index("ix_ledger_created_kind", "created_at", "kind"),
        Index("ix_ledger_author_created", "created_by_id", "created_at"),
        # Deductions are rare (one entry in a hundred): the check of who carries them
        # reads them alone (a query must name the kind as a literal to use it).
        Index("ix_ledger_deductions_created", "created_at",
              sqlite_where=text("kind = 'deduction'"), postgresql_where=text("kind = 'deduction'")),
        CheckConstraint(
            "kind IN ('award', 'deduction', 'redemption', 'reversal', 'expiry', 'adjustment')",
            name="kind_valid"),
        CheckConstraint("status IN ('pending', 'disputed', 'posted', 'cancelled')",
                        name="status_valid"),
        CheckConstraint("(kind = 'reversal') = (reversal_of IS NOT NULL)", name="reversal_named"),
    )


class HouseholdMonth(db.Model):
    """What the reports count, per household and calendar month, kept in step
    with the ledger in the same transaction by the ledger's one writer
    (app.services.ledger.writer). Awards and deductions count in the month of
    their occurred_on while live (pending, disputed or posted, and not
    reversed); a checkout counts in the month of its local date unless voided.
    Adjustments and expiry count nowhere. One row per household and month, so
    a county's year is a few hundred thousand rows that the covering index
    answers without reading the table."""

    __tablename__ = "household_months"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    # The first day of the month.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    # The household's village (a household never moves): reports group by it without a join.
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    awarded: Mapped[int] = mapped_column(default=0)
    awards: Mapped[int] = mapped_column(default=0)
    # Deducted points as a positive number.
    deducted: Mapped[int] = mapped_column(default=0)
    deductions: Mapped[int] = mapped_column(default=0)
    redeemed: Mapped[int] = mapped_column(default=0)
    checkouts: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        # Every figure in the index: a report reads the index alone, never the table.
        Index("ix_household_months_cover", "month", "village_id", "household_id", "awards",
              "awarded", "deducted", "deductions", "redeemed", "checkouts"),
    )


class CategoryMonth(db.Model):
    """Awards and deductions per village, calendar month, rule category and
    rule (the trends by category, the most used rules), kept by the ledger's
    writer like household_months."""

    __tablename__ = "category_months"

    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(50), primary_key=True)
    rule_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    awarded: Mapped[int] = mapped_column(default=0)
    awards: Mapped[int] = mapped_column(default=0)
    deducted: Mapped[int] = mapped_column(default=0)
    deductions: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_category_months_month", "month"),)


class AuthorMonth(db.Model):
    """Awards per author, household and local month of entry (the fairness
    checks): how many a user entered, how many of those a cadre rejected or
    someone reversed, how many were entered late (LATE_DAYS or more after the
    day they record). Every award counts here whatever its status; kept by
    the ledger's writer like household_months, so a county's year of checks
    reads a few hundred thousand rows, not two million entries."""

    __tablename__ = "author_months"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    # The first day of the local month the awards were entered in.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    awards: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    reversed: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_author_months_cover", "month", "village_id", "user_id", "household_id",
              "awards", "rejected", "reversed", "late"),
    )


class IdempotencyKey(db.Model):
    """The first answer to a request sent with an Idempotency-Key (invariant 6),
    written in the same transaction as the act it answers."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of method, path and canonical body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)
