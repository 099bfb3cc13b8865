"""What cadres write about the reports: a note that explains a fairness flag."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.users import User

FAIRNESS_KINDS = ("concentration", "reversals", "deductions", "backdated", "no-card")
SUBJECT_TYPES = ("user", "village", "household")


class FairnessNote(db.Model):
    """A cadre's explanation of a fairness flag for a range: the flag stays
    listed, marked explained, wherever a report's range overlaps this one."""

    __tablename__ = "fairness_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    from_day: Mapped[date] = mapped_column(Date)
    to_day: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(1000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    created_by: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_fairness_notes_subject", "kind", "subject_type", "subject_id"),)
