"""Record every write (invariant 7)."""
from app.extensions import db
from app.models import AuditRecord, User, utcnow

_INSERT = AuditRecord.__table__.insert()  # built once: every write runs it


def record(actor: User | None, action: str, obj, **details) -> None:
    """Write an audit row for `action` on `obj` in the caller's transaction
    (a Core insert, run now: no ORM bookkeeping on every write)."""
    object_id = getattr(obj, "id", None)
    if obj is not None and object_id is None:
        db.session.flush()  # a new object: its id
        object_id = obj.id
    record_ref(actor, action, obj.__tablename__ if obj is not None else "system", object_id, **details)


def record_ref(actor: User | None, action: str, object_type: str, object_id: int | None,
               **details) -> None:
    """The same, for an object written with Core (its table's name and id)."""
    record_many(actor, action, object_type, [object_id], **details)


def record_many(actor: User | None, action: str, object_type: str, object_ids: list[int | None],
                **details) -> None:
    """The same action on many objects written with Core (an import): one statement."""
    if not object_ids:
        return
    at = utcnow()
    user_id = actor.id if actor is not None else None
    rows = [{"at": at, "user_id": user_id, "action": action, "object_type": object_type,
             "object_id": object_id, "details": details} for object_id in object_ids]
    db.session.connection().execute(_INSERT, rows)
