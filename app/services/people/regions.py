"""The region tree and supermarkets (admin)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select, update

from app.extensions import db
from app.models import LEVELS, Household, Region, Supermarket, User, user_supermarkets
from app.services import audit
from app.services.errors import Conflict, Errors, NotFound
from app.services.people import policy
from app.services.validate import as_id, choice, text

NAME_MAX = 100
RETIRED = _l("This region is retired: it takes no new households, accounts or supermarkets.")


# -- retired regions and supermarkets ---------------------------------------------------

def retired(region: Region) -> bool:
    """Whether the region, or one above it, is retired (it takes nothing new)."""
    ids = [int(p) for p in region.path.split("/") if p.isdigit()] or [region.id]
    return bool(db.session.scalar(
        select(func.count()).select_from(Region).where(Region.id.in_(ids), Region.active.is_(False))))


def active_flag(errors: Errors, data: dict, field: str = "active") -> bool | None:
    """A yes-or-no field that must be JSON true or false."""
    value = data.get(field)
    if not isinstance(value, bool):
        errors.add(field, _l("Must be true or false."))
        return None
    return value


def require_open(sm: Supermarket) -> None:
    """Refuse (409) a checkout, donation or purchase at a retired supermarket."""
    if not sm.active:
        raise Conflict(_l("%(name)s is retired: it takes no checkouts or donations.", name=sm.name))


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
        elif retired(parent):
            errors.add("parent_id", RETIRED)
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
    elif retired(region):
        errors.add("region_id", RETIRED)
    _unique_supermarket_name(errors, name)
    errors.raise_if_any()
    sm = Supermarket(name=name, region_id=region.id)
    db.session.add(sm)
    audit.record(actor, "supermarket.create", sm)
    return sm


def _unique_supermarket_name(errors: Errors, name: str | None, own_id: int | None = None) -> None:
    if not name:
        return
    query = select(Supermarket.id).where(Supermarket.name == name)
    if own_id is not None:
        query = query.where(Supermarket.id != own_id)
    if db.session.scalars(query).first():
        errors.add("name", _l("A supermarket with this name already exists."))


def update_supermarket(actor: User, supermarket_id, data: dict) -> Supermarket:
    """Rename a supermarket, change the region it serves, retire or reactivate
    it; fields left out stay as they are."""
    policy.require(actor, "supermarkets.manage")
    sm = db.session.get(Supermarket, as_id(supermarket_id) or 0)
    if sm is None:
        raise NotFound()
    errors = Errors()
    changes: dict = {}
    if "name" in data:
        name = text(errors, data, "name", required=True, max_len=NAME_MAX)
        _unique_supermarket_name(errors, name, sm.id)
        changes["name"] = name
    if "region_id" in data:
        region_id = as_id(data.get("region_id"))
        region = db.session.get(Region, region_id) if region_id is not None else None
        if region is None:
            errors.add("region_id", _l("Choose the region this supermarket serves."))
        elif region.id != sm.region_id and retired(region):
            errors.add("region_id", RETIRED)
        changes["region_id"] = region.id if region is not None else None
    if "active" in data:
        changes["active"] = active_flag(errors, data)
    errors.raise_if_any()
    changed = {k: v for k, v in changes.items() if getattr(sm, k) != v}
    if changed.get("active") is True and retired(db.session.get(Region, changed.get("region_id", sm.region_id))):
        raise Conflict(_l("The region this supermarket serves is retired: reactivate the region first."))
    for key, value in changed.items():
        setattr(sm, key, value)
    if "region_id" in changed:
        db.session.expire(sm, ["region"])
    if "active" in changed:
        audit.record(actor, "supermarket.reactivate" if sm.active else "supermarket.retire", sm)
    rest = sorted(set(changed) - {"active"})
    if rest:
        audit.record(actor, "supermarket.update", sm, fields=rest)
    return sm


# -- changing a region -----------------------------------------------------------------

def update_region(actor: User, region_id, data: dict) -> Region:
    """Rename a region, move it under another region of the level above (its
    whole subtree follows), retire or reactivate it; fields left out stay."""
    policy.require(actor, "regions.manage")
    region = db.session.get(Region, as_id(region_id) or 0)
    if region is None:
        raise NotFound()
    errors = Errors()
    name = region.name
    if "name" in data:
        name = text(errors, data, "name", required=True, max_len=NAME_MAX)
    parent = region.parent
    if "parent_id" in data:
        parent = _new_parent(errors, region, data.get("parent_id"))
    active = region.active
    if "active" in data:
        active = active_flag(errors, data)
    if name and not errors.errors.get("parent_id"):
        siblings = select(Region.id).where(
            Region.name == name, Region.id != region.id,
            Region.parent_id == parent.id if parent is not None else Region.parent_id.is_(None))
        if db.session.scalars(siblings).first():
            errors.add("name", _l("A region with this name already exists here."))
    errors.raise_if_any()

    if active is False and region.active:
        _refuse_retiring(region)
    if active is True and not region.active and parent is not None and retired(parent):
        raise Conflict(_l("The region above it is retired: reactivate that one first."))
    changed = []
    if name != region.name:
        region.name = name
        changed.append("name")
    if parent is not None and parent.id != region.parent_id:
        _move(region, parent)
        changed.append("parent_id")
    if changed:
        audit.record(actor, "region.update", region, fields=changed)
    if active is not None and active != region.active:
        region.active = active
        audit.record(actor, "region.reactivate" if active else "region.retire", region)
    return region


def _new_parent(errors: Errors, region: Region, raw) -> Region | None:
    """The region `region` may move under: one of the level just above it."""
    if raw in (None, ""):
        if region.parent_id is not None:
            errors.add("parent_id", _l("A region moves only under a region of the level above."))
        return None
    parent_id = as_id(raw)
    parent = db.session.get(Region, parent_id) if parent_id is not None else None
    if parent is None:
        errors.add("parent_id", _l("Unknown parent region."))
        return region.parent
    if LEVELS.index(parent.level) != LEVELS.index(region.level) - 1:
        errors.add("parent_id", _l("A %(child)s moves only under a %(parent)s.",
                                   child=level_label(region.level),
                                   parent=level_label(LEVELS[max(LEVELS.index(region.level) - 1, 0)])))
        return region.parent
    if parent.id != region.parent_id and retired(parent):
        errors.add("parent_id", RETIRED)
    return parent


def _move(region: Region, parent: Region) -> None:
    """Put `region` under `parent` and rewrite the materialised path of its
    whole subtree in one statement, so every scope and report follows."""
    old = region.path
    new = parent.path + f"{region.id}/"
    region.parent_id = parent.id
    db.session.flush()
    db.session.execute(
        update(Region).where(Region.path.startswith(old, autoescape=True))
        .values(path=literal(new) + func.substr(Region.path, len(old) + 1))
        .execution_options(synchronize_session=False))
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Region):
            db.session.expire(obj, ["path", "parent"])


def _refuse_retiring(region: Region) -> None:
    """A region (or one under it) that still holds active households,
    accounts or supermarkets cannot be retired (409)."""
    under = select(Region.id).where(Region.path.startswith(region.path, autoescape=True))
    households = db.session.scalar(select(func.count()).select_from(Household).where(
        Household.village_id.in_(under), Household.status == "active"))
    supermarkets = select(Supermarket.id).where(Supermarket.region_id.in_(under))
    users = db.session.scalar(select(func.count(func.distinct(User.id))).select_from(User)
                              .outerjoin(user_supermarkets).where(
        User.active.is_(True),
        User.region_id.in_(under) | user_supermarkets.c.supermarket_id.in_(supermarkets)))
    markets = db.session.scalar(select(func.count()).select_from(Supermarket).where(
        Supermarket.region_id.in_(under), Supermarket.active.is_(True)))
    if households or users or markets:
        raise Conflict(_l(
            "%(name)s still holds active households (%(households)d), active accounts "
            "(%(users)d) or open supermarkets (%(supermarkets)d): exit, move or retire them first.",
            name=region.name, households=households, users=users, supermarkets=markets))


def supermarkets_by_name() -> list[Supermarket]:
    """Every supermarket, by name (where goods may be sent)."""
    return list(db.session.scalars(select(Supermarket).order_by(Supermarket.name)))
