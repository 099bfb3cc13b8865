"""The region tree and the supermarkets that serve it."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

LEVELS = ("province", "city", "county", "township", "village")


class Region(db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # Materialised path "/1/4/9/": a subtree is one prefix query, at any depth.
    path: Mapped[str] = mapped_column(String(255), default="", index=True)
    # Sequence for household codes of a village, advanced under the write lock.
    household_seq: Mapped[int] = mapped_column(default=0)
    # A retired region takes no new households, users or supermarkets.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["Region | None"] = relationship(remote_side=[id])

    __table_args__ = (Index("ix_regions_parent_name", "parent_id", "name", unique=True),)

    def __repr__(self) -> str:
        return f"<Region {self.id} {self.level} {self.name}>"


class Supermarket(db.Model):
    __tablename__ = "supermarkets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    # A retired supermarket takes no checkouts or donations.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    region: Mapped[Region] = relationship()
