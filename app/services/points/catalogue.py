"""Reading and changing the rule catalogue for the admin's page: rules by
category, a code's versions, and a change that only adds a version when
something actually changed."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Rule, User
from app.services.errors import NotFound
from app.services.points.rules import create_rule, current_rule, list_rules, validate_rule
from app.services.people.scope import require_role

CHANGEABLE = ("category", "name", "points", "unit", "cap_per_month", "needs_evidence")


def rules_by_category(*, include_retired: bool = False) -> list[tuple[str, list[Rule]]]:
    """[(category, [rule, ...])]: categories in the order the catalogue first had
    them (as imported), deductions last; rules by code within each."""
    first_seen = dict(db.session.execute(
        select(Rule.code, func.min(Rule.id)).group_by(Rule.code)).all())
    groups: dict[str, list[Rule]] = {}
    for rule in list_rules(include_retired=include_retired):
        groups.setdefault(rule.category, []).append(rule)

    def order(item):
        category, rules = item
        return (all(r.points < 0 for r in rules), min(first_seen.get(r.code, r.id) for r in rules))

    return sorted(groups.items(), key=order)


def retired_rules() -> list[Rule]:
    return [r for r in list_rules() if not r.active]


def rule_versions(code: str) -> list[Rule]:
    """Every version of a code, newest first."""
    return list(db.session.scalars(
        select(Rule).where(Rule.code == code).order_by(Rule.version.desc())))


def change_rule(actor: User, code: str, data: dict) -> Rule | None:
    """A new version of an existing rule with these fields (past awards keep
    the points of their version); None when nothing differs from the newest."""
    require_role(actor, "admin")
    latest = current_rule(code)
    if latest is None:
        raise NotFound()
    fields, errors = validate_rule({**data, "code": latest.code})
    errors.raise_if_any()
    if latest.active and all(getattr(latest, k) == fields[k] for k in CHANGEABLE):
        return None
    return create_rule(actor, {**fields, "code": latest.code})
