"""The region tree and supermarkets (admin)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import LEVELS, Region, Supermarket, User
from app.services import audit
from app.services.errors import Errors
from app.services.people import policy
from app.services.validate import as_id, choice, text

NAME_MAX = 100


def create_region(actor: User | None, data: dict) -> Region:
    """Add a region under a parent one level up; a root may be at any level."""
    if actor is not None:
        policy.require(actor, "regions.manage")
    errors = Errors()
    name = text(errors, data, "name", required=True, max_len=NAME_MAX)
    level = choice(errors, data, "level", LEVELS)
    parent_id = data.get("parent_id")
    parent = None
    if parent_id not in (None, ""):
        parent_id = as_id(parent_id)
        parent = db.session.get(Region, parent_id) if parent_id is not None else None
        if parent is None:
            errors.add("parent_id", _l("Unknown parent region."))
    if parent is not None and level is not None:
        if LEVELS.index(level) != LEVELS.index(parent.level) + 1:
            errors.add("level", _l("A %(parent)s can only contain a %(child)s.",
                                   parent=level_label(parent.level),
                                   child=level_label(_next_level(parent.level))))
    if name and not errors:
        dup = select(Region.id).where(Region.name == name, Region.parent_id == (parent.id if parent else None))
        if parent is None:
            dup = select(Region.id).where(Region.name == name, Region.parent_id.is_(None))
        if db.session.scalars(dup).first():
            errors.add("name", _l("A region with this name already exists here."))
    errors.raise_if_any()

    region = Region(name=name, level=level, parent_id=parent.id if parent else None)
    db.session.add(region)
    db.session.flush()
    region.path = (parent.path if parent else "/") + f"{region.id}/"
    audit.record(actor, "region.create", region, level=level)
    return region


def _next_level(level: str) -> str:
    i = LEVELS.index(level)
    return LEVELS[min(i + 1, len(LEVELS) - 1)]


def level_label(level: str):
    return {
        "province": _l("province"), "city": _l("city"), "county": _l("county"),
        "township": _l("township"), "village": _l("village"),
    }.get(level, level)


def create_supermarket(actor: User | None, data: dict) -> Supermarket:
    if actor is not None:
        policy.require(actor, "supermarkets.manage")
    errors = Errors()
    name = text(errors, data, "name", required=True, max_len=NAME_MAX)
    region_id = as_id(data.get("region_id"))
    region = db.session.get(Region, region_id) if region_id is not None else None
    if region is None:
        errors.add("region_id", _l("Choose the region this supermarket serves."))
    if name and db.session.scalars(select(Supermarket.id).where(Supermarket.name == name)).first():
        errors.add("name", _l("A supermarket with this name already exists."))
    errors.raise_if_any()
    sm = Supermarket(name=name, region_id=region.id)
    db.session.add(sm)
    audit.record(actor, "supermarket.create", sm)
    return sm


def supermarkets_by_name() -> list[Supermarket]:
    """Every supermarket, by name (where goods may be sent)."""
    return list(db.session.scalars(select(Supermarket).order_by(Supermarket.name)))
