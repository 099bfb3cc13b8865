"""Reading the audit trail (全程留痕): every write with who, when, what, on
which object, household and village, and from which address. Read-only.
Cadres see the records of the villages in their region and their own acts,
admins everything; nobody else reads it. Filters by user, household (its
code), village, kind (an action or a family of them, "points") and local
dates. Newest first, a page at a time by keyset (the indexes on at,
household and village), never a count over the whole table."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import AuditRecord, Household, Region, Supermarket, User, user_supermarkets
from app.services.clock import local_midnight
from app.services.errors import Errors, ValidationError
from app.services.people import policy, scope
from app.services.validate import as_id, day

KIND_RE = re.compile(r"[a-z_]{1,32}(\.[a-z_]{1,31})?")
CODE_MAX = 32
# A file holds at most this many records; more asks for narrower filters.
EXPORT_MAX = 200_000


@dataclass
class Filters:
    user_id: int | None = None
    household: Household | None = None
    village_id: int | None = None
    kind: str | None = None
    start: datetime | None = None   # inclusive, UTC-comparable
    end: datetime | None = None     # exclusive

    def recorded(self) -> dict:
        """The filters as an export's audit record keeps them (ids, codes, dates)."""
        return {k: v for k, v in {
            "user_id": self.user_id, "household": self.household.code if self.household else None,
            "village_id": self.village_id, "kind": self.kind,
            "from": self.start.date().isoformat() if self.start else None,
            "to": (self.end - timedelta(days=1)).date().isoformat() if self.end else None,
        }.items() if v is not None}


def parse_filters(actor: User, data: dict) -> Filters:
    """The filters of a request's query string; a bad one is a ValidationError
    naming its field, a household or village out of reach one too."""
    policy.require(actor, "audit.read")
    errors = Errors()
    f = Filters()
    if data.get("user_id") not in (None, ""):
        f.user_id = as_id(data.get("user_id"))
        if f.user_id is None:
            errors.add("user_id", _l("Must be a whole number."))
    code = (data.get("household") or "").strip()
    if code:
        hh = None
        if len(code) <= CODE_MAX:
            hh = db.session.scalars(scope.visible_households(actor).where(Household.code == code)).first()
        if hh is None:
            errors.add("household", _l("No household with this code in your area."))
        f.household = hh
    if data.get("village_id") not in (None, ""):
        f.village_id = as_id(data.get("village_id"))
        if f.village_id is None or db.session.scalar(
                scope.visible_villages(actor).with_only_columns(Region.id)
                .where(Region.id == f.village_id)) is None:
            errors.add("village_id", _l("Choose a village in your area."))
    kind = (data.get("kind") or "").strip()
    if kind:
        if not KIND_RE.fullmatch(kind):
            errors.add("kind", _l("Choose a kind from the list."))
        f.kind = kind
    start, end = day(errors, data, "from"), day(errors, data, "to")
    if start and end and end < start:
        errors.add("to", _l("The end date must not be before the start date."))
    errors.raise_if_any()
    f.start = local_midnight(start) if start else None
    f.end = local_midnight(end + timedelta(days=1)) if end else None
    return f


def _reach(actor: User):
    """The records a user may read: admins all; cadres those of villages in
    their region, and their own acts."""
    if policy.reach(actor) == "all":
        return None
    villages = select(Region.id).where(Region.level == "village", scope.region_filter(actor))
    return or_(AuditRecord.village_id.in_(villages), AuditRecord.user_id == actor.id)


def _where(actor: User, f: Filters) -> list:
    a = AuditRecord
    clauses = []
    reach = _reach(actor)
    if reach is not None:
        clauses.append(reach)
    if f.user_id is not None:
        clauses.append(a.user_id == f.user_id)
    if f.household is not None:
        clauses.append(a.household_id == f.household.id)
    if f.village_id is not None:
        clauses.append(a.village_id == f.village_id)
    if f.kind:
        # A family ("points") as a range ("points." up to "points/", the next
        # character): the (action, at) index serves it on both databases,
        # where LIKE would need a C collation on PostgreSQL.
        clauses.append(a.action == f.kind if "." in f.kind
                       else or_(a.action == f.kind,
                                and_(a.action >= f.kind + ".", a.action < f.kind + "/")))
    if f.start is not None:
        clauses.append(a.at >= f.start)
    if f.end is not None:
        clauses.append(a.at < f.end)
    return clauses


_COLUMNS = (AuditRecord.id, AuditRecord.at, AuditRecord.user_id, AuditRecord.action,
            AuditRecord.object_type, AuditRecord.object_id, AuditRecord.household_id,
            AuditRecord.village_id, AuditRecord.address, AuditRecord.details)


@dataclass
class Page:
    rows: list[dict]
    older: int | None = None   # the id to pass as ?before= for the next (older) page
    newer: int | None = None   # ... as ?after= for the previous (newer) page


def _cursor(record_id) -> tuple | None:
    record_id = as_id(record_id)
    if record_id is None:
        return None
    at = db.session.scalar(select(AuditRecord.at).where(AuditRecord.id == record_id))
    return (at, record_id) if at is not None else None


def records(actor: User, f: Filters, *, per_page: int = 50, before=None, after=None) -> Page:
    """One page of the trail, newest first; `before`/`after` (a record id)
    pages on to older or back to newer records."""
    policy.require(actor, "audit.read")
    a = AuditRecord
    query = select(*_COLUMNS).where(*_where(actor, f))
    going_back = False
    if (cursor := _cursor(before)) is not None:
        query = query.where(or_(a.at < cursor[0], and_(a.at == cursor[0], a.id < cursor[1])))
    elif (cursor := _cursor(after)) is not None:
        query = query.where(or_(a.at > cursor[0], and_(a.at == cursor[0], a.id > cursor[1])))
        going_back = True
    order = (a.at.asc(), a.id.asc()) if going_back else (a.at.desc(), a.id.desc())
    found = db.session.execute(query.order_by(*order).limit(per_page + 1)).all()
    more = len(found) > per_page
    found = found[:per_page]
    if going_back:
        found.reverse()
    rows = _described(found)
    page = Page(rows)
    if rows:
        # Paging back from newer records, older ones exist (the cursor's own);
        # paging on from a cursor, newer ones do.
        older, newer = (True, more) if going_back else (more, cursor is not None)
        page.older = rows[-1]["id"] if older else None
        page.newer = rows[0]["id"] if newer else None
    return page


def export_rows(actor: User, f: Filters) -> list[dict]:
    """Every record matching the filters, newest first, for a file."""
    policy.require(actor, "audit.read")
    query = (select(*_COLUMNS).where(*_where(actor, f))
             .order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(EXPORT_MAX + 1))
    found = db.session.execute(query).all()
    if len(found) > EXPORT_MAX:
        raise ValidationError({"export": [_l(
            "More than %(n)d records match: choose a shorter period or another filter.",
            n=EXPORT_MAX)]})
    return _described(found)


def _described(found) -> list[dict]:
    """The records as plain values, with the user's name, the household's
    code and the village's name looked up once for all of them."""
    users = _lookup(User.id, User.username, {r.user_id for r in found})
    codes = _lookup(Household.id, Household.code, {r.household_id for r in found})
    villages = _lookup(Region.id, Region.name, {r.village_id for r in found})
    return [{"id": r.id, "at": r.at, "user_id": r.user_id, "username": users.get(r.user_id),
             "action": r.action, "object_type": r.object_type, "object_id": r.object_id,
             "household_id": r.household_id, "household_code": codes.get(r.household_id),
             "village_id": r.village_id, "village": villages.get(r.village_id),
             "address": r.address, "details": r.details or {}} for r in found]


def _lookup(key, value, ids) -> dict:
    ids = sorted(i for i in ids if i is not None)
    out = {}
    for start in range(0, len(ids), 900):
        out.update(db.session.execute(select(key, value).where(key.in_(ids[start:start + 900]))).all())
    return out


def choices(actor: User) -> dict:
    """What the filter form offers: the villages in reach, and the users
    whose acts a reader may look for (an admin all; a cadre those of their
    region, the volunteers of its supermarkets, and themselves)."""
    policy.require(actor, "audit.read")
    villages = db.session.execute(
        scope.visible_villages(actor).with_only_columns(Region.id, Region.name)).all()
    users = select(User.id, User.username).order_by(User.username)
    if policy.reach(actor) != "all":
        regions = select(Region.id).where(scope.region_filter(actor))
        markets = (scope.visible_supermarkets(actor).with_only_columns(Supermarket.id)
                   .order_by(None))
        volunteers = select(user_supermarkets.c.user_id).where(
            user_supermarkets.c.supermarket_id.in_(markets))
        users = users.where(or_(User.region_id.in_(regions), User.id.in_(volunteers),
                                User.id == actor.id))
    return {"villages": villages, "users": db.session.execute(users.limit(5000)).all()}
