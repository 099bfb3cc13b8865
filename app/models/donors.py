"""Donors (爱心企业, 爱心人士, 帮扶单位)."""
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

DONOR_KINDS = ("company", "person", "organisation")


class Donor(db.Model):
    __tablename__ = "donors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str | None] = mapped_column(String(200))
    # The donor's consent to be named on public pages (the trace, the donation
    # board); without it they are 爱心企业 / 爱心人士 there.
    named_in_public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
