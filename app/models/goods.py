"""Goods: products, donations and their lines, stock lots and every movement
out of a lot (redemption, write-off, transfer), stocktakes and transfers.

Invariant 3 lives in the lot's CHECK constraints: quantity = remaining +
redeemed + written_off + transferred_out, and 0 <= remaining <= quantity.
A lot's quantity never changes; only its counters move, and each move is one
LotMovement row, so a donor's goods can be followed unit by unit."""
import base64
import secrets
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.donors import Donor
from app.models.regions import Region, Supermarket
from app.models.types import UTCDateTime, utcnow
from app.models.users import User

DONATION_KINDS = ("goods", "cash")
WRITEOFF_REASONS = ("damaged", "expired", "lost", "count")
# redemption: a checkout took units; return: a voided checkout gave them back
# to the lot they came from; writeoff; transfer: moved to a lot at another supermarket.
MOVEMENT_KINDS = ("redemption", "return", "writeoff", "transfer")
STOCKTAKE_STATUSES = ("counting", "submitted", "finalized", "cancelled")


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    unit: Mapped[str] = mapped_column(String(20))
    points_price: Mapped[int]
    category: Mapped[str | None] = mapped_column(String(50))
    # A GTIN in one normal form (app/services/goods/products.normal_gtin).
    barcode: Mapped[str | None] = mapped_column(String(14), unique=True)
    # Stock at or below this shows as low on the stock page and the volunteer's home.
    low_stock_threshold: Mapped[int] = mapped_column(default=5)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("points_price > 0", name="price_positive"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
    )


def new_public_code() -> str:
    """A donation's public code: 80 random bits as 16 characters of base32
    (A-Z, 2-7: no 0/O or 1/I to misread), printed as a QR code on the receipt."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


class Donation(db.Model):
    """Goods or money given by a donor, received at a supermarket. A cash
    donation's lines are the goods bought with it (each line names its purchase)."""

    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="goods")
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id"), index=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    # 捐赠收据 number, printed on the receipt.
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Anyone holding the receipt reads the donation's trace with it, no login.
    public_code: Mapped[str | None] = mapped_column(String(24), unique=True, default=new_public_code)
    # Money given, in fen (分); cash donations only.
    amount_fen: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    donor: Mapped[Donor] = relationship()
    supermarket: Mapped[Supermarket] = relationship()
    created_by: Mapped[User | None] = relationship()
    lines: Mapped[list["DonationLine"]] = relationship(
        back_populates="donation", order_by="DonationLine.id")

    __table_args__ = (
        CheckConstraint("kind IN ('goods', 'cash')", name="kind_valid"),
        CheckConstraint("(kind = 'cash') = (amount_fen IS NOT NULL)", name="cash_has_amount"),
        CheckConstraint("amount_fen IS NULL OR amount_fen > 0", name="amount_positive"),
    )


class Purchase(db.Model):
    """Goods bought with a cash donation's money; its lines belong to that donation."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    purchased_on: Mapped[date] = mapped_column(Date)
    supplier: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    donation: Mapped[Donation] = relationship()
    supermarket: Mapped[Supermarket] = relationship()


class DonationLine(db.Model):
    __tablename__ = "donation_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int]
    # In-kind value (or, for a purchase, the price paid) per unit, in fen; optional for goods.
    unit_value_fen: Mapped[int | None]
    # 保质期至: optional; the lot made from this line carries it.
    best_before: Mapped[date | None] = mapped_column(Date)
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), index=True)

    donation: Mapped[Donation] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    purchase: Mapped[Purchase | None] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_value_fen IS NULL OR unit_value_fen >= 0", name="value_not_negative"),
    )


class Stocktake(db.Model):
    """盘点: a volunteer counts, a cadre or admin reviews and finalizes the differences."""

    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="counting")
    note: Mapped[str | None] = mapped_column(String(500))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(500))

    supermarket: Mapped[Supermarket] = relationship()
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    lines: Mapped[list["StocktakeLine"]] = relationship(
        back_populates="stocktake", order_by="StocktakeLine.id")

    __table_args__ = (
        CheckConstraint("status IN ('counting', 'submitted', 'finalized', 'cancelled')",
                        name="status_valid"),
    )


class StocktakeLine(db.Model):
    """One product's count; `expected` is the stock when it was counted."""

    __tablename__ = "stocktake_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    expected: Mapped[int]
    counted: Mapped[int]
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    stocktake: Mapped[Stocktake] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        Index("ix_stocktake_lines_product", "stocktake_id", "product_id", unique=True),
        CheckConstraint("expected >= 0 AND counted >= 0", name="counts_not_negative"),
    )

    @property
    def difference(self) -> int:
        return self.counted - self.expected


class Transfer(db.Model):
    """Units moved from one supermarket to another, each keeping its origin."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    to_supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    from_supermarket: Mapped[Supermarket] = relationship(foreign_keys=[from_supermarket_id])
    to_supermarket: Mapped[Supermarket] = relationship(foreign_keys=[to_supermarket_id])
    product: Mapped[Product] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("from_supermarket_id <> to_supermarket_id", name="different_places"),
    )


class Writeoff(db.Model):
    """报损: units taken out of stock for a reason, from the oldest lots."""

    __tablename__ = "writeoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    # Set when a finalized stocktake's shortage made it.
    stocktake_id: Mapped[int | None] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    supermarket: Mapped[Supermarket] = relationship()
    product: Mapped[Product] = relationship()
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("reason IN ('damaged', 'expired', 'lost', 'count')", name="reason_valid"),
    )


class Lot(db.Model):
    """批次: units of one product at one supermarket with one origin.

    The origin is a donation line (goods given, or bought with donated money)
    or a stocktake surplus: exactly one of donation_line_id and stocktake_id.
    A lot made by a transfer keeps that origin and the donor, and names the
    lot it came from (source_lot_id) and the transfer."""

    __tablename__ = "lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    supermarket_id: Mapped[int] = mapped_column(ForeignKey("supermarkets.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    donor_id: Mapped[int | None] = mapped_column(ForeignKey("donors.id"), index=True)
    donation_line_id: Mapped[int | None] = mapped_column(ForeignKey("donation_lines.id"), index=True)
    source_lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), index=True)
    stocktake_id: Mapped[int | None] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    quantity: Mapped[int]
    remaining: Mapped[int]
    redeemed: Mapped[int] = mapped_column(default=0)
    written_off: Mapped[int] = mapped_column(default=0)
    transferred_out: Mapped[int] = mapped_column(default=0)
    # Lots are taken expiring first (best_before, none last), then oldest
    # (received_on, id).
    received_on: Mapped[date] = mapped_column(Date)
    best_before: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    supermarket: Mapped[Supermarket] = relationship()
    product: Mapped[Product] = relationship()
    donor: Mapped[Donor | None] = relationship()
    donation_line: Mapped[DonationLine | None] = relationship()
    source_lot: Mapped["Lot | None"] = relationship(remote_side=[id])
    stocktake: Mapped[Stocktake | None] = relationship()

    __table_args__ = (
        Index("ix_lots_supermarket_product", "supermarket_id", "product_id", "received_on"),
        Index("ix_lots_supermarket_expiry", "supermarket_id", "best_before"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= quantity", name="remaining_range"),
        CheckConstraint("redeemed >= 0 AND written_off >= 0 AND transferred_out >= 0",
                        name="counters_not_negative"),
        CheckConstraint("quantity = remaining + redeemed + written_off + transferred_out",
                        name="quantity_balances"),
        CheckConstraint("(donation_line_id IS NULL) <> (stocktake_id IS NULL)", name="one_origin"),
        CheckConstraint("(source_lot_id IS NULL) = (transfer_id IS NULL)", name="transfer_named"),
    )


class LotMovement(db.Model):
    """Units leaving a lot (or, for `return`, coming back to it). A checkout
    records one `redemption` row per lot it took from, with the
    household and its village: that is what a donor's trace counts. The
    household is never shown to a donor, only counted."""

    __tablename__ = "lot_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int]
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # The checkout whose goods these are (redemptions and their returns).
    checkout_id: Mapped[int | None] = mapped_column(Integer, index=True)
    writeoff_id: Mapped[int | None] = mapped_column(ForeignKey("writeoffs.id"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), index=True)
    # For a return: the redemption row it gives back.
    # Unique: a redemption is given back at most once, whatever races.
    returns_id: Mapped[int | None] = mapped_column(ForeignKey("lot_movements.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lot: Mapped[Lot] = relationship()
    village: Mapped[Region | None] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("kind IN ('redemption', 'return', 'writeoff', 'transfer')",
                        name="kind_valid"),
        CheckConstraint("kind <> 'writeoff' OR writeoff_id IS NOT NULL", name="writeoff_named"),
        CheckConstraint("kind <> 'transfer' OR transfer_id IS NOT NULL", name="transfer_named"),
        CheckConstraint("kind <> 'return' OR returns_id IS NOT NULL", name="return_named"),
        CheckConstraint("kind NOT IN ('redemption', 'return') OR "
                        "(household_id IS NOT NULL AND village_id IS NOT NULL)",
                        name="redemption_household"),
    )
