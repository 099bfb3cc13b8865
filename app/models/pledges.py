"""Pledges (认捐): a donor's promise to bring goods a supermarket needs, filled
by that donor's donations to that supermarket (api.md)."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.donors import Donor
from app.models.goods import Product
from app.models.regions import Supermarket
from app.models.types import UTCDateTime, utcnow

PLEDGE_STATUSES = ("open", "partial", "fulfilled", "cancelled")


class Pledge(db.Model):
    __tablename__ = "pledges"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"))
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    donor: Mapped[Donor] = relationship()
    supermarket: Mapped[Supermarket] = relationship()
    lines: Mapped[list["PledgeLine"]] = relationship(back_populates="pledge", order_by="PledgeLine.id")

    __table_args__ = (
        # A donation fills its donor's open pledges at its supermarket, oldest first.
        Index("ix_pledges_donor_market", "donor_id", "supermarket_id", "status", "created_at"),
        CheckConstraint("status IN ('open', 'partial', 'fulfilled', 'cancelled')", name="status_valid"),
    )


class PledgeLine(db.Model):
    __tablename__ = "pledge_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    # Units of this line that the donor's donations have brought so far.
    received: Mapped[int] = mapped_column(default=0)

    pledge: Mapped[Pledge] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_within"),
    )
