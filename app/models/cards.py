"""Member cards (积分卡): a QR code with a random token, and a short number to type."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.households import Household
from app.models.types import UTCDateTime, utcnow

CARD_STATUSES = ("active", "revoked")


class Card(db.Model):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # The secret in the QR code is 39 random decimal digits (more than 128
    # bits); it says nothing about the household. It is never stored in clear:
    # a scan finds the card by its SHA-256 (hex), and the token itself is kept
    # sealed with the card key (app/services/checkout/card_key.py) so the card
    # can be printed again. A copied database or backup cannot make cards.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(String(255))
    # The short number printed for typing: 9 random digits and a Luhn check digit.
    number: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    household: Mapped[Household] = relationship()

    # The plain token, in memory only, in the request that issued the card.
    issued_token = None

    __table_args__ = (Index("ix_cards_household_status", "household_id", "status"),)
