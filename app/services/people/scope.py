"""Who may see what. Every service asks these; views and the API never decide scope."""
from sqlalchemy import Select, bindparam, false, or_, select, true

from app.extensions import db
from app.models import Household, Region, Supermarket, User, user_supermarkets
from app.services.errors import Forbidden, NotFound
from app.services.validate import as_id

# Roles that may read the household register; donors never see a household.
HOUSEHOLD_READERS = ("admin", "cadre", "staff", "volunteer")


def require_role(actor: User, *roles: str) -> None:
    if actor is None or not actor.is_authenticated or actor.role not in roles:
        raise Forbidden()


def _subtree(region_path: str):
    return Region.path.startswith(region_path, autoescape=True)


def region_paths(actor: User) -> list[str] | None:
    """Paths of the subtrees the user reaches; None means everything (admin)."""
    if actor.role == "admin":
        return None
    if actor.role in ("cadre", "staff"):
        return [actor.region.path] if actor.region is not None else []
    if actor.role == "volunteer":
        return [s.region.path for s in actor.supermarkets]
    return []


def region_filter(actor: User):
    """A WHERE clause on Region limiting it to the user's reach."""
    paths = region_paths(actor)
    if paths is None:
        return true()
    if not paths:
        return false()
    return or_(*[_subtree(p) for p in paths])


def visible_regions(actor: User) -> Select:
    return select(Region).where(region_filter(actor)).order_by(Region.path)


def get_region(actor: User, region_id) -> Region:
    region_id = as_id(region_id) if isinstance(region_id, int) else None
    region = db.session.get(Region, region_id) if region_id is not None else None
    if region is None or not _in_reach(actor, region):
        raise NotFound()
    return region


def _in_reach(actor: User, region: Region) -> bool:
    paths = region_paths(actor)
    return paths is None or any(region.path.startswith(p) for p in paths)


def visible_villages(actor: User) -> Select:
    return visible_regions(actor).where(Region.level == "village").order_by(Region.name)


def writable_village(actor: User, village_id) -> Region:
    """A village the user may keep the register of: staff in their villages, admin anywhere."""
    require_role(actor, "admin", "staff")
    region = get_region(actor, village_id)
    if region.level != "village":
        raise NotFound()
    return region


def visible_households(actor: User) -> Select:
    """Households the user may read: staff and cadres in their subtree, volunteers
    under the regions their supermarkets serve; donors none."""
    if actor.role == "donor":
        return select(Household).where(false())
    query = select(Household)
    if actor.role == "admin":
        return query
    return query.join(Region, Household.village_id == Region.id).where(region_filter(actor))


def get_household(actor: User, household_id) -> Household:
    require_role(actor, *HOUSEHOLD_READERS)
    if not isinstance(household_id, int) or as_id(household_id) is None:
        raise NotFound()
    hh = db.session.scalars(visible_households(actor).where(Household.id == household_id)).first()
    if hh is None:
        raise NotFound()
    return hh


def writable_household(actor: User, household_id) -> Household:
    require_role(actor, "admin", "staff")
    return get_household(actor, household_id)


def visible_supermarkets(actor: User) -> Select:
    query = select(Supermarket).order_by(Supermarket.id)
    if actor.role == "admin":
        return query
    if actor.role == "volunteer":
        return query.join(user_supermarkets).where(user_supermarkets.c.user_id == actor.id)
    if actor.role in ("cadre", "staff") and actor.region is not None:
        path = actor.region.path
        # Supermarkets inside the subtree, or serving a region that contains it.
        ancestors = [p for p in _ancestor_paths(path)]
        return query.join(Region, Supermarket.region_id == Region.id).where(
            or_(_subtree(path), Region.path.in_(ancestors))
        )
    return query.where(false())


def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def get_supermarket(actor: User, supermarket_id) -> Supermarket:
    if not isinstance(supermarket_id, int) or as_id(supermarket_id) is None:
        raise NotFound()
    if actor.role == "volunteer":  # the counter's case, on every checkout: built once
        sm = db.session.scalars(_VOLUNTEERS_SUPERMARKET,
                                {"user_id": actor.id, "supermarket_id": supermarket_id}).first()
    else:
        sm = db.session.scalars(
            visible_supermarkets(actor).where(Supermarket.id == supermarket_id)
        ).first()
    if sm is None:
        raise NotFound()
    return sm


_VOLUNTEERS_SUPERMARKET = (
    select(Supermarket).join(user_supermarkets)
    .where(user_supermarkets.c.user_id == bindparam("user_id"),
           Supermarket.id == bindparam("supermarket_id"))
)
