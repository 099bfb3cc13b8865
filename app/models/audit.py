"""The audit trail (全程留痕): one row per write, never edited."""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.users import User


class AuditRecord(db.Model):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Null for acts of the system itself (the demo, post-due).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None]
    # Which fields changed, never personal values such as names or phones.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The client address as the app saw it (request.remote_addr, after
    # ProxyFix when configured); blank for the CLI and for older records.
    address: Mapped[str | None] = mapped_column(String(45))
    # The household and village the write concerns, for the trail's filters
    # and a cadre's scope (no foreign key: the audit row outlives nothing).
    household_id: Mapped[int | None]
    village_id: Mapped[int | None]

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_audit_object", "object_type", "object_id"),
        Index("ix_audit_household", "household_id", "at"),
        Index("ix_audit_village", "village_id", "at"),
        # The trail filtered by kind: an action that never matches in a
        # county's millions of rows must not scan them all.
        Index("ix_audit_action_at", "action", "at"),
    )


class BackupRun(db.Model):
    """One `flask backup` or `flask restore`: when, where to, and whether the
    copy was verified (opened and its ledger checked)."""
    __tablename__ = "backup_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # backup | restore
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(default=False)
    path: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    encrypted: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_backup_runs_kind_started", "kind", "started_at"),)
