"""Record every write (invariant 7): who, when, what, on which object, from
which address, and the household and village it concerns (the trail's
filters, a cadre's scope, and what anonymising a household blanks)."""
from contextvars import ContextVar, Token

from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models import AuditRecord, Household, Region, User, utcnow

_INSERT = AuditRecord.__table__.insert()  # built once: every write runs it
_VILLAGE_OF = (select(Household.__table__.c.village_id)
               .where(Household.__table__.c.id == bindparam("id")))
_VILLAGES_OF = (select(Household.__table__.c.id, Household.__table__.c.village_id)
                .where(Household.__table__.c.id.in_(bindparam("ids", expanding=True))))
ADDRESS_MAX = 45  # the column: an IPv6 address with an IPv4 tail fits


# The client's address as the web layer saw it (request.remote_addr, after
# ProxyFix when the app trusts a proxy), set by the request boundary for the
# length of a request; None outside one (the command line, the demo).
_address: ContextVar[str | None] = ContextVar("aixin_client_address", default=None)


def client_address() -> str | None:
    return _address.get()


def note_client_address(address: str | None) -> Token:
    """For the request boundary: the address every record of this request carries."""
    return _address.set(address[:ADDRESS_MAX] if address else None)


def forget_client_address(token: Token) -> None:
    try:
        _address.reset(token)
    except ValueError:  # torn down in another context (a streamed answer's end)
        _address.set(None)


def record(actor: User | None, action: str, obj, *, household=None, **details) -> None:
    """Write an audit row for `action` on `obj` in the caller's transaction
    (a Core insert, run now: no ORM bookkeeping on every write). The
    household it concerns comes from `household` (a Household, or a
    (household_id, village_id) pair), else from the object, else from
    details' household_id."""
    object_id = getattr(obj, "id", None)
    if obj is not None and object_id is None:
        db.session.flush()  # a new object: its id
        object_id = obj.id
    if household is None and obj is not None:
        household = _concerns(obj)
    record_ref(actor, action, obj.__tablename__ if obj is not None else "system", object_id,
               household=household, **details)


def row(**details) -> dict:
    """What a statement that writes its own audit record needs from here (the
    ledger writer's one statement for a checkout): the details and the
    client's address. The caller adds who, when, the act and the object."""
    return {"details": details, "address": client_address()}


def record_ref(actor: User | None, action: str, object_type: str, object_id: int | None, *,
               household=None, **details) -> None:
    """The same, for an object written with Core (its table's name and id).
    Pass `household` when the caller holds it: no lookup then."""
    if household is None and object_type == "households" and object_id is not None:
        household = (object_id, None)
    record_many(actor, action, object_type, [object_id],
                households=[_pair(household, details)], **details)


def record_many(actor: User | None, action: str, object_type: str, object_ids: list[int | None], *,
                households: list | None = None, **details) -> None:
    """The same action on many objects written with Core (an import): one
    statement. `households` gives each row's household (a Household, a
    (household_id, village_id) pair, or None); for object_type "households"
    the object is the household."""
    if not object_ids:
        return
    if households is None:
        households = ([(oid, None) for oid in object_ids] if object_type == "households"
                      else [_pair(None, details)] * len(object_ids))
    pairs = _with_villages([_pair(h, {}) for h in households])
    at = utcnow()
    user_id = actor.id if actor is not None else None
    address = client_address()
    rows = [{"at": at, "user_id": user_id, "action": action, "object_type": object_type,
             "object_id": object_id, "details": details, "address": address,
             "household_id": hid, "village_id": vid}
            for object_id, (hid, vid) in zip(object_ids, pairs)]
    db.session.connection().execute(_INSERT, rows)


def _concerns(obj):
    """The household (or village) an object concerns, from what it holds."""
    if isinstance(obj, Household):
        return (obj.id, obj.village_id)
    if isinstance(obj, Region):
        return (None, obj.id) if obj.level == "village" else None
    household_id = getattr(obj, "household_id", None)
    if isinstance(household_id, int):
        return (household_id, None)
    return None


def _pair(household, details) -> tuple[int | None, int | None]:
    """(household_id, village_id) from what a caller passed, or details' household_id."""
    if isinstance(household, Household):
        return (household.id, household.village_id)
    if household is not None:
        return tuple(household)
    hid = details.get("household_id")
    return (hid, None) if isinstance(hid, int) and not isinstance(hid, bool) else (None, None)


def _with_villages(pairs):
    """Fill each pair's missing village from the session's households, else
    one query for all of them."""
    missing = set()
    found: dict[int, int] = {}
    for hid, vid in pairs:
        if hid is None or vid is not None:
            continue
        loaded = db.session.identity_map.get(identity_key(Household, hid))
        if loaded is not None and "village_id" in loaded.__dict__:
            found[hid] = loaded.village_id
        else:
            missing.add(hid)
    missing -= found.keys()
    if missing:
        conn = db.session.connection()
        if len(missing) == 1:
            hid = next(iter(missing))
            found[hid] = conn.execute(_VILLAGE_OF, {"id": hid}).scalar()
        else:
            ids = sorted(missing)
            for start in range(0, len(ids), 900):
                found.update(conn.execute(_VILLAGES_OF, {"ids": ids[start:start + 900]}).all())
    return [(hid, vid if vid is not None or hid is None else found.get(hid)) for hid, vid in pairs]
