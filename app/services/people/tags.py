"""The household tags (户类型标签) an admin manages: the one list of tags a
household may be given, on the household form, the API, the register import
and the reports' filter. A retired tag stays on the households that carry it
(and may stay when such a household is edited) but is given to no other.

Tags are not renamed: a household's tags are kept as the words it was given,
so a rename would silently change what every earlier record says. A tag typed
wrong is retired and the right one added.

The default tags (config HOUSEHOLD_TAGS) are inserted by migration 0010, so
every database made by `flask db upgrade` (and `flask demo`, which upgrades)
has them; the tests' PostgreSQL, emptied between tests, inserts them again."""
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import HouseholdTag, User
from app.services import audit
from app.services.errors import Errors, NotFound
from app.services.people import policy
from app.services.validate import as_id, text

NAME_MAX = 20
# What separates several tags in one cell or field (the import splits on it too),
# so a tag's name holds none of it.
SEPARATORS = re.compile(r"[,，、;；/\s]+")


@dataclass(frozen=True)
class Known:
    """The tag names as they stand: those that may be given, and every one."""
    active: frozenset
    all: frozenset

    @classmethod
    def read(cls) -> "Known":
        rows = db.session.execute(select(HouseholdTag.name, HouseholdTag.active)).all()
        return cls(frozenset(n for n, active in rows if active), frozenset(n for n, _ in rows))


def split(value: str) -> list[str]:
    """Several tags written in one text, in order, without repeats."""
    return list(dict.fromkeys(t for t in SEPARATORS.split(value or "") if t))


def all_tags() -> list[HouseholdTag]:
    """Every tag, the active ones first, each group in the order they were added."""
    return list(db.session.scalars(
        select(HouseholdTag).order_by(HouseholdTag.active.desc(), HouseholdTag.id)))


def active_names() -> list[str]:
    """The tags that may be given, in the order they were added."""
    return list(db.session.scalars(
        select(HouseholdTag.name).where(HouseholdTag.active.is_(True)).order_by(HouseholdTag.id)))


def known_names() -> list[str]:
    """Every tag ever managed, retired ones included (what a household may carry)."""
    return list(db.session.scalars(select(HouseholdTag.name).order_by(HouseholdTag.id)))


def add_tag(actor: User | None, data: dict) -> HouseholdTag:
    """A new tag (admin). None as actor is the system (the demo, tests)."""
    if actor is not None:
        policy.require(actor, "tags.manage")
    errors = Errors()
    raw = data.get("name")
    name = text(errors, {"name": raw.strip() if isinstance(raw, str) else raw}, "name",
                required=True, max_len=NAME_MAX)
    if name is not None and SEPARATORS.search(name):
        errors.add("name", _l("A tag is one word: no spaces, commas, 、 ; or /."))
        name = None
    if name is not None:
        existing = db.session.scalar(select(HouseholdTag).where(HouseholdTag.name == name))
        if existing is not None:
            errors.add("name", _l("This tag exists already.") if existing.active else
                       _l("This tag exists already, retired: reactivate it instead."))
    errors.raise_if_any()
    tag = HouseholdTag(name=name, active=True)
    db.session.add(tag)
    db.session.flush()
    audit.record(actor, "tag.create", tag)
    return tag


def set_active(actor: User, tag_id, active: bool) -> HouseholdTag:
    """Retire a tag (it can no longer be given; households keep it) or reactivate it."""
    policy.require(actor, "tags.manage")
    tag_id = as_id(tag_id)
    tag = db.session.get(HouseholdTag, tag_id) if tag_id is not None else None
    if tag is None:
        raise NotFound()
    if tag.active != active:
        tag.active = active
        audit.record(actor, "tag.reactivate" if active else "tag.retire", tag)
    return tag
