"""What the awarding page needs around award_points: the rules to choose
from, the households to tick, and the per-household reasons a refused batch
carries."""
import re

from app.extensions import db
from app.models import Household, Region, User
from app.services.points.catalogue import rules_by_category
from app.services.errors import DomainError, NotFound
from app.services.people.scope import get_region, visible_households
from app.services.validate import as_id

HOUSEHOLD_KEY = re.compile(r"households\.(\d+)")


def awardable_rules():
    """Active rules grouped by category."""
    return rules_by_category(include_retired=False)


def village_households(actor: User, village_id) -> tuple[Region, list[Household]]:
    """A village in reach and its active households, by code."""
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


def blocked_households(err: DomainError) -> dict[int, list[str]]:
    """{household id: reasons} from a refused award's errors ("households.<id>")."""
    blocked: dict[int, list[str]] = {}
    for key, messages in (err.errors or {}).items():
        match = HOUSEHOLD_KEY.fullmatch(key)
        if match:
            blocked.setdefault(int(match.group(1)), []).extend(str(m) for m in messages)
    return blocked
