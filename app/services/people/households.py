"""The household register: add, edit, search. Points are not touched here."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import HOUSEHOLD_STATUSES, Household, Region, User
from app.services import audit
from app.services.clock import local_today
from app.services.errors import Conflict, Errors, NotFound, ValidationError
from app.services.people import policy, tags
from app.services.people.scope import (get_region, visible_households, writable_household,
                                       writable_village)
from app.services.validate import as_id, choice, contains, integer, phone, text

EDITABLE = ("head_name", "members", "phone", "address", "tags", "status")
HEAD_NAME_MAX = 50
MEMBERS_MIN = 1
MEMBERS_MAX = 30
ADDRESS_MAX = 200


def tags_field(errors: Errors, data: dict, *, keep=(), retired_ok: bool = False,
               known: "tags.Known | None" = None) -> list[str] | None:
    """Tags from the ones an admin manages (app.services.people.tags): active ones,
    and of the retired ones those in `keep` (the household carries them already)
    or, with retired_ok, any (the API's schema gate, before the household is known).
    `known`: the tags read once for many households (an import)."""
    value = data.get("tags")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = tags.split(value)
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        errors.add("tags", _l("Must be a list of tags."))
        return None
    value = [t.strip() for t in value if t.strip()]
    known = known or tags.Known.read()
    allowed = (known.all if retired_ok else known.active) | set(keep or ())
    unknown = [t for t in value if t not in allowed]
    if unknown:
        retired = known.all & set(unknown)
        if retired:
            errors.add("tags", _l("Tag no longer given: %(tags)s", tags="、".join(t for t in unknown if t in retired)))
        if len(retired) < len(unknown):
            errors.add("tags", _l("Unknown tag: %(tags)s", tags="、".join(t for t in unknown if t not in retired)))
        return None
    return list(dict.fromkeys(value))


def validate_fields(data: dict, *, partial: bool = False, keep_tags=(),
                    known_tags: "tags.Known | None" = None) -> tuple[dict, Errors]:
    """Check household fields; with partial, only those present. `keep_tags`: the
    tags the household carries already (retired ones may stay)."""
    errors = Errors()
    out = {}
    if not partial or "head_name" in data:
        out["head_name"] = text(errors, data, "head_name", required=True, max_len=HEAD_NAME_MAX)
    if not partial or "members" in data:
        out["members"] = integer(errors, data, "members", required=False, minimum=MEMBERS_MIN,
                                 maximum=MEMBERS_MAX)
        if out["members"] is None and "members" not in errors.errors:
            out["members"] = 1
    if not partial or "phone" in data:
        out["phone"] = phone(errors, data)
    if not partial or "address" in data:
        out["address"] = text(errors, data, "address", required=False, max_len=ADDRESS_MAX)
    if not partial or "tags" in data:
        out["tags"] = tags_field(errors, data, keep=keep_tags, known=known_tags)
    if partial and "status" in data:
        out["status"] = choice(errors, data, "status", HOUSEHOLD_STATUSES)
    return out, errors


def household_code(village_id: int, seq: int) -> str:
    """Eight digits while both parts fit in four; beyond that a dash keeps the
    code unambiguous (village 1234 number 56789 is not village 12345 number 6789)."""
    if village_id < 10_000 and seq < 10_000:
        return f"{village_id:04d}{seq:04d}"
    return f"{village_id:04d}-{seq:04d}"


def next_code(village: Region) -> str:
    return reserve_codes(village, 1)[0]


def reserve_codes(village: Region, n: int) -> list[str]:
    """The next n household codes of a village: its id and a sequence, unique
    across the deployment. The UPDATE takes the row lock, so two clerks adding
    households at once never get the same number."""
    db.session.execute(
        update(Region).where(Region.id == village.id).values(household_seq=Region.household_seq + n)
        .execution_options(synchronize_session=False)
    )
    last = db.session.scalar(select(Region.household_seq).where(Region.id == village.id))
    return [household_code(village.id, seq) for seq in range(last - n + 1, last + 1)]


def create_household(actor: User, data: dict) -> Household:
    policy.require(actor, "households.write")
    errors = Errors()
    raw_village_id = data.get("village_id")
    village_id = as_id(raw_village_id)
    if raw_village_id in (None, ""):
        errors.add("village_id", _l("This field is required."))
    elif isinstance(raw_village_id, bool) or village_id is None and not isinstance(raw_village_id, int):
        errors.add("village_id", _l("Must be a whole number."))
    fields, field_errors = validate_fields(data)
    errors.errors.update(field_errors.errors)
    errors.raise_if_any()
    village = writable_village(actor, village_id)  # None (say 0 or 10**30) is not found
    hh = Household(village_id=village.id, code=next_code(village), status="active", balance=0, **fields)
    db.session.add(hh)
    audit.record(actor, "household.create", hh)
    return hh


def update_household(actor: User, household_id, data: dict) -> Household:
    hh = writable_household(actor, household_id)
    if hh.anonymised_at is not None:
        raise Conflict(_l("This household's personal data has been anonymised: it can no longer be edited."))
    fields, errors = validate_fields({k: v for k, v in data.items() if k in EDITABLE}, partial=True,
                                     keep_tags=hh.tags or ())
    errors.raise_if_any()
    changed = [k for k, v in fields.items() if getattr(hh, k) != v]
    for key in changed:
        setattr(hh, key, fields[key])
    if "status" in changed:
        # The reports count a household in the ranges it was registered for.
        hh.exited_on = local_today() if hh.status == "exited" else None
    if changed:
        audit.record(actor, "household.update", hh, fields=changed)
    return hh


def search_households(actor: User, *, village_id=None, q: str | None = None,
                      status: str | None = None, page: int = 1, per_page: int = 50):
    """A page of the households the user can see, with the total. A volunteer
    (who does not read the register) must search for someone: `q` is required."""
    policy.require(actor, "households.read")
    query = visible_households(actor)
    if village_id not in (None, ""):
        if isinstance(village_id, bool) or as_id(village_id) is None and not isinstance(village_id, int):
            raise ValidationError({"village_id": [_l("Must be a whole number.")]})
        village = get_region(actor, as_id(village_id))
        query = query.where(Household.village_id == village.id)
    q = (q or "").replace("\x00", "")
    if not q.strip() and not policy.can(actor, "households.read_register"):
        # A volunteer finds the household in front of them; the register is not theirs to browse.
        raise ValidationError({"q": [_l("Type part of the name or the household code.")]})
    if q:
        query = query.where(contains(q, Household.head_name, Household.code))
    if status in HOUSEHOLD_STATUSES:
        query = query.where(Household.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    offset = (page - 1) * per_page
    if offset >= total:  # also keeps an absurd page number away from the database
        return [], total
    items = db.session.scalars(
        query.order_by(Household.code).limit(per_page).offset(offset)
    ).all()
    return items, total


def pending_points(household: Household) -> int:
    """Signed sum of the household's pending and disputed entries (not yet in the balance)."""
    from app.services.points.passbook import pending_by_household

    return pending_by_household([household.id]).get(household.id, 0)


def village_households(actor: User, village_id) -> tuple[Region, list[Household]]:
    """A village in reach and its active households, by code (the awarding page's tick list)."""
    village = get_region(actor, as_id(village_id) if village_id is not None else None)
    if village.level != "village":
        raise NotFound()
    households = db.session.scalars(
        visible_households(actor).where(Household.village_id == village.id,
                                        Household.status == "active")
        .order_by(Household.code)
    ).all()
    return village, list(households)


def households_by_ids(actor: User, ids) -> list[Household]:
    """The households among these ids that the user can see, in the order given."""
    wanted = [i for i in (as_id(v) for v in ids) if i is not None]
    if not wanted:
        return []
    found = {h.id: h for h in db.session.scalars(
        visible_households(actor).where(Household.id.in_(wanted)))}
    return [found[i] for i in dict.fromkeys(wanted) if i in found]
