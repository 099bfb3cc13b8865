"""Checkouts (兑换): a household spends points on goods at a supermarket."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.goods import Product
from app.models.households import Household
from app.models.regions import Supermarket
from app.models.types import UTCDateTime, utcnow
from app.models.users import User


class Checkout(db.Model):
    __tablename__ = "checkouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    # False for a household served without its card (picked by name or code);
    # no_card_reason says why (card lost, elder without the card, ...).
    card_used: Mapped[bool] = mapped_column(default=True)
    no_card_reason: Mapped[str | None] = mapped_column(String(200))
    # Invariant 4: the sum of the lines' points.
    total_points: Mapped[int]
    balance_after: Mapped[int]
    # The redemption ledger entry that debited the points.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(String(500))

    supermarket: Mapped[Supermarket] = relationship()
    household: Mapped[Household] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list["CheckoutLine"]] = relationship(back_populates="checkout",
                                                       order_by="CheckoutLine.id")

    __table_args__ = (
        Index("ix_checkouts_household_created", "household_id", "created_at"),
        # The supermarket reports read a range of checkouts from the index alone.
        Index("ix_checkouts_market_made", "supermarket_id", "created_at", "voided_at",
              "household_id", "total_points"),
        CheckConstraint("total_points > 0", name="total_positive"),
        CheckConstraint("balance_after >= 0", name="balance_not_negative"),
    )


class CheckoutLine(db.Model):
    __tablename__ = "checkout_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    # The product's price when sold, and the line total (quantity x unit price).
    unit_points: Mapped[int]
    points: Mapped[int]

    checkout: Mapped[Checkout] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        # Goods out by product, read from the index alone.
        Index("ix_checkout_lines_goods", "checkout_id", "product_id", "quantity", "points"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("points = quantity * unit_points", name="points_product"),
    )
