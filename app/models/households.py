"""The household register (农户档案)."""
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.regions import Region
from app.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.users import User

HOUSEHOLD_STATUSES = ("active", "exited")


class Household(db.Model):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    head_name: Mapped[str] = mapped_column(String(50), index=True)
    members: Mapped[int] = mapped_column(default=1)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    # 户编号 of the national register (建档立卡): a later year's register
    # updates the household it names instead of adding a new one.
    register_no: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # The local day it exited (None while active): the reports count a household
    # in a range it was registered for.
    exited_on: Mapped[date | None] = mapped_column(Date)
    # Sum of posted ledger entries (invariant 1); changed only by the ledger services.
    balance: Mapped[int] = mapped_column(default=0)
    # Werkzeug hash of the 6-digit PIN that opens the public passbook; None: not set.
    # Derived from the ledger and kept by its writer (app.services.ledger.totals):
    # the day of the latest live award, and of the latest checkout not voided.
    last_award_on: Mapped[date | None] = mapped_column(Date)
    last_redeemed_on: Mapped[date | None] = mapped_column(Date)
    # The latest recorded visit (app.services.reports.visits).
    last_visit_on: Mapped[date | None] = mapped_column(Date)
    passbook_pin_hash: Mapped[str | None] = mapped_column(String(255))
    # When an admin anonymised an exited household's personal data (issue 12).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    village: Mapped[Region] = relationship()

    __table_args__ = (
        CheckConstraint("members >= 1 AND members <= 30", name="members_range"),
        CheckConstraint("status IN ('active', 'exited')", name="status_valid"),
    )


class Visit(db.Model):
    """A helper's or cadre's visit to a household (帮扶走访): it leaves the
    "needs a visit" list until it has been quiet as long again."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    visited_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    household: Mapped[Household] = relationship()
    created_by: Mapped["User | None"] = relationship("User")

    __table_args__ = (Index("ix_visits_household_day", "household_id", "visited_on"),)


class HouseholdTag(db.Model):
    """户类型标签 an admin manages (建档立卡, 监测户, 低保 ...). A retired tag
    stays on the households that carry it but can no longer be given."""

    __tablename__ = "household_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
