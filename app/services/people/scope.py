"""What each user reaches: staff and cadres the regions under theirs,
volunteers the supermarkets they serve at (and the households those serve),
donors their own donor record, admins everything. The other half of the
policy (policy.py says which acts a role may attempt). Every service asks
these; an object out of reach is NotFound (404), so its existence is not
revealed."""
from sqlalchemy import Select, bindparam, false, or_, select, true

from app.extensions import db
from app.models import Donation, Donor, Household, Region, Supermarket, User, user_supermarkets
from app.services.errors import NotFound, ValidationError
from app.services.people import policy
from app.services.validate import as_id, contains


def _subtree(region_path: str):
    return Region.path.startswith(region_path, autoescape=True)


def region_paths(actor: User) -> list[str] | None:
    """Paths of the subtrees the user reaches; None means everything (admin)."""
    reach = policy.reach(actor)
    if reach == "all":
        return None
    if reach == "region":
        return [actor.region.path] if actor.region is not None else []
    if reach == "supermarkets":
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
    policy.require(actor, "households.write")
    region = get_region(actor, village_id)
    if region.level != "village":
        raise NotFound()
    from app.services.people.regions import RETIRED, retired
    if retired(region):
        raise ValidationError({"village_id": [RETIRED]})
    return region


def visible_households(actor: User) -> Select:
    """Households the user may read: staff and cadres in their subtree, volunteers
    under the regions their supermarkets serve; donors none."""
    reach = policy.reach(actor)
    if reach == "donor_record":
        return select(Household).where(false())
    query = select(Household)
    if reach == "all":
        return query
    return query.join(Region, Household.village_id == Region.id).where(region_filter(actor))


def get_household(actor: User, household_id) -> Household:
    policy.require(actor, "households.read")
    if not isinstance(household_id, int) or as_id(household_id) is None:
        raise NotFound()
    hh = db.session.scalars(visible_households(actor).where(Household.id == household_id)).first()
    if hh is None:
        raise NotFound()
    return hh


def writable_household(actor: User, household_id) -> Household:
    policy.require(actor, "households.write")
    return get_household(actor, household_id)


def visible_supermarkets(actor: User) -> Select:
    query = select(Supermarket).order_by(Supermarket.id)
    reach = policy.reach(actor)
    if reach == "all":
        return query
    if reach == "supermarkets":
        return query.join(user_supermarkets).where(user_supermarkets.c.user_id == actor.id)
    if reach == "region" and actor.region is not None:
        path = actor.region.path
        # Supermarkets inside the subtree, or serving a region that contains it.
        ancestors = ancestor_paths(path)
        return query.join(Region, Supermarket.region_id == Region.id).where(
            or_(_subtree(path), Region.path.in_(ancestors))
        )
    return query.where(false())


def ancestor_paths(path: str) -> list[str]:
    """The paths of a region and of every region above it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def get_supermarket(actor: User, supermarket_id) -> Supermarket:
    if not isinstance(supermarket_id, int) or as_id(supermarket_id) is None:
        raise NotFound()
    if policy.reach(actor) == "supermarkets":  # the counter's case, on every checkout: built once
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


def supermarket_for(actor: User | None, act: str, supermarket_id) -> Supermarket:
    """A supermarket where `actor` may do `act` (the policy) and that they reach.
    None is the system itself (the demo, the command line)."""
    if actor is None:
        sm = db.session.get(Supermarket, as_id(supermarket_id)) if as_id(supermarket_id) else None
        if sm is None:
            raise NotFound()
        return sm
    policy.require(actor, act)
    return get_supermarket(actor, supermarket_id)


def supermarkets_named(actor: User, q: str = "", limit: int = 200) -> list[Supermarket]:
    """The supermarkets a user reaches, optionally by part of the name."""
    query = visible_supermarkets(actor)
    q = (q or "").replace("\x00", "").strip()[:100]
    if q:
        query = query.where(contains(q, Supermarket.name))
    return list(db.session.scalars(query.limit(limit)))


def one_in_reach(query: Select, column, object_id):
    """The object of `query` (already limited to the user's reach) whose
    `column` is `object_id`; NotFound when there is none, or the id cannot be one."""
    object_id = as_id(object_id)
    found = db.session.scalars(query.where(column == object_id)).first() \
        if object_id is not None else None
    if found is None:
        raise NotFound()
    return found


def visible_donors(actor: User) -> Select:
    """Donor records the user may read: a donor account only its own."""
    policy.require(actor, "donors.read")
    if policy.reach(actor) == "donor_record":
        return select(Donor).where(Donor.id == (actor.donor_id or 0))
    return select(Donor)


def visible_donations(actor: User, act: str = "donations.read") -> Select:
    """Donations the user may read (or do `act` to): a donor its own, the others
    those received at supermarkets they see, admin all."""
    policy.require(actor, act)
    query = select(Donation)
    reach = policy.reach(actor)
    if reach == "donor_record":
        return query.where(Donation.donor_id == (actor.donor_id or 0))
    if reach == "all":
        return query
    markets = visible_supermarkets(actor).with_only_columns(Supermarket.id).order_by(None)
    return query.where(Donation.supermarket_id.in_(markets))
