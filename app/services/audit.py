"""Record every write (invariant 7)."""
from app.extensions import db
from app.models import AuditRecord, User


def record(actor: User | None, action: str, obj, **details) -> AuditRecord:
    """Add an audit row for `action` on `obj` in the caller's transaction."""
    db.session.flush()
    rec = AuditRecord(
        user_id=actor.id if actor is not None else None,
        action=action,
        object_type=obj.__tablename__ if obj is not None else "system",
        object_id=getattr(obj, "id", None),
        details=details,
    )
    db.session.add(rec)
    return rec
