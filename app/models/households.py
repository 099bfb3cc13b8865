"""The household register (农户档案)."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.regions import Region
from app.models.types import UTCDateTime, utcnow

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
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Sum of posted ledger entries (invariant 1); changed only by the ledger services.
    balance: Mapped[int] = mapped_column(default=0)
    # Werkzeug hash of the 6-digit PIN that opens the public passbook; None: not set.
    passbook_pin_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    village: Mapped[Region] = relationship()

    __table_args__ = (
        CheckConstraint("members >= 1 AND members <= 30", name="members_range"),
        CheckConstraint("status IN ('active', 'exited')", name="status_valid"),
    )
