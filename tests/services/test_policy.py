"""The policy: one table says which role may attempt which act, object rules say
when, and nothing else in the app compares role names."""
import re
from datetime import timedelta
from pathlib import Path

import pytest

from app.models import ROLES, Checkout, LedgerEntry, Stocktake, utcnow
from app.services.errors import Conflict, Forbidden, HouseholdInactive
from app.services.people import policy

ROOT = Path(__file__).resolve().parents[2]

# The table as the people steering the project would read it: y may, . may not.
# A new act must be added here, with who may attempt it.
EXPECTED = """
act                          admin cadre staff volunteer donor
regions.read                   y     y     y      y       y
regions.manage                 y     .     .      .       .
supermarkets.read              y     y     y      y       y
supermarkets.manage            y     .     .      .       .
users.manage                   y     .     .      .       .
households.read                y     y     y      y       .
households.read_register       y     y     y      .       .
households.write               y     .     y      .       .
households.import              y     .     y      .       .
households.anonymise           y     .     .      .       .
tags.manage                    y     .     .      .       .
backups.read                   y     .     .      .       .
backups.manage                 y     .     .      .       .
points.read                    y     y     y      .       .
points.award                   y     .     y      .       .
points.object                  y     y     y      y       .
points.withdraw                y     y     y      .       .
points.decide                  y     y     .      .       .
points.reverse                 y     y     .      .       .
points.adjust                  y     .     .      .       .
passbook.pin                   y     .     y      .       .
rules.read                     y     y     y      y       y
rules.manage                   y     .     .      .       .
cards.issue                    y     .     y      .       .
cards.print                    y     y     y      .       .
cards.resolve                  y     y     y      y       .
goods.read                     y     y     .      y       y
products.read                  y     y     y      y       y
products.list                  y     y     .      y       .
products.manage                y     .     .      .       .
products.export                y     y     .      .       .
stock.read                     y     y     .      y       .
stock.keep                     y     .     .      y       .
stocktake.count                y     .     .      y       .
stocktake.decide               y     y     .      .       .
stocktake.cancel               y     y     .      y       .
stocktake.cancel_submitted     y     y     .      .       .
donors.read                    y     y     .      y       y
donors.list                    y     y     .      y       .
donors.manage                  y     .     .      y       .
donations.read                 y     y     .      y       y
donations.trace                y     y     y      y       y
donations.receive              y     .     .      y       .
giving.own                     .     .     .      .       y
pledges.make                   .     .     .      .       y
pledges.read                   y     y     .      y       y
reports.read                   y     y     y      .       .
reports.fairness               y     y     .      .       .
visits.record                  y     y     y      .       .
audit.read                     y     y     .      .       .
checkout.sell                  y     .     .      y       .
checkout.read                  y     y     .      y       .
checkout.void                  y     y     .      y       .
checkout.void_earlier_day      y     y     .      .       .
"""


def table() -> dict[str, dict[str, bool]]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()]
    roles = lines[0][1:]
    return {row[0]: dict(zip(roles, (mark == "y" for mark in row[1:]))) for row in lines[1:]}


class Someone:
    """A logged-in user of a role, as the policy sees one."""
    is_authenticated = True

    def __init__(self, role: str, user_id: int = 1):
        self.role, self.id = role, user_id


def test_every_role_and_act_is_as_the_table_says():
    """can(role, act) for every act and every role is exactly the table above; no act is
    missing from the table and the table names no act the policy lacks."""
    expected = table()
    assert set(expected) == set(policy.ACTS)
    assert set(next(iter(expected.values()))) == set(ROLES)
    for act, roles in expected.items():
        for role, allowed in roles.items():
            assert policy.can(Someone(role), act) is allowed, (act, role)


def test_nobody_may_act_without_logging_in():
    """An anonymous user or none at all may do nothing, and is refused with 403."""
    class Anonymous:
        is_authenticated = False
        role = None
    for act in policy.ACTS:
        assert not policy.can(None, act) and not policy.can(Anonymous(), act)
    with pytest.raises(Forbidden):
        policy.require(None, "points.read")


def test_every_act_is_asked_somewhere():
    """Each act of the table is asked by a service, a view, a template or another rule
    of the policy (no dead rows)."""
    sources = [p.read_text() for p in list((ROOT / "app").rglob("*.py")) +
               list((ROOT / "templates").rglob("*.html")) if p.name != "policy.py"]
    text = "\n".join(sources)
    rules = (ROOT / "app/services/people/policy.py").read_text()
    unused = [act for act in policy.ACTS if f'"{act}"' not in text and f"'{act}'" not in text
              and rules.count(f'"{act}"') < 2]
    assert unused == []


ROLE = r"(admin|cadre|staff|volunteer|donor)"
# A role compared or listed in code: `role == "staff"`, `in ("admin", "cadre")`, `role in ROLES`.
COMPARED = re.compile(rf"""\.role\s*(==|!=|\bin\b|\bnot in\b)|(==|!=)\s*["']{ROLE}["']"""
                      rf"""|\(\s*["']{ROLE}["']\s*,\s*["']{ROLE}["']""")
ALLOWED = {"app/services/people/policy.py", "app/models/users.py"}


def test_no_role_is_compared_outside_the_policy():
    """Services, views, the API and templates ask the policy; no other file compares a
    role name or lists roles (the demo only creates its users)."""
    found = []
    for path in list((ROOT / "app").rglob("*.py")) + list((ROOT / "templates").rglob("*.html")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED or rel.startswith("app/demo/"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if COMPARED.search(line) or "current_user.role" in line:
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []


# -- object rules ------------------------------------------------------------------------

def test_award_needs_an_active_household(world):
    """Staff may award an active household; an exited one is refused as household-inactive."""
    staff, hh = world.users["staff"], world.households["v1a"]
    assert policy.can(staff, "points.award", hh)
    hh.status = "exited"
    assert not policy.can(staff, "points.award", hh)
    with pytest.raises(HouseholdInactive):
        policy.require(staff, "points.award", hh)


def entry(**fields) -> LedgerEntry:
    now = utcnow()
    base = dict(id=1, household_id=1, kind="award", points=10, status="pending", created_by_id=99,
                notice_ends_at=now + timedelta(days=2), needs_approval=False, approved_at=None)
    return LedgerEntry(**{**base, **fields})


def test_objection_only_while_on_notice():
    """An objection is allowed while the entry is on notice, and a conflict after it."""
    staff = Someone("staff")
    assert policy.can(staff, "points.object", entry())
    over = entry(notice_ends_at=utcnow() - timedelta(minutes=1))
    assert not policy.can(staff, "points.object", over)
    with pytest.raises(Conflict):
        policy.require(staff, "points.object", entry(status="posted"))


def test_withdrawal_by_the_author_or_a_cadre_before_it_posts():
    """Staff withdraw only what they entered; a cadre any entry; a posted or cancelled
    entry, or one that is no award or deduction, is a conflict."""
    author, other, cadre = Someone("staff", user_id=99), Someone("staff", user_id=5), Someone("cadre", user_id=7)
    assert policy.can(author, "points.withdraw", entry())
    assert policy.can(author, "points.withdraw", entry(status="disputed"))
    assert policy.can(cadre, "points.withdraw", entry())
    with pytest.raises(Forbidden):
        policy.require(other, "points.withdraw", entry())
    for refused in (entry(status="posted"), entry(status="cancelled"), entry(kind="reversal")):
        with pytest.raises(Conflict):
            policy.require(author, "points.withdraw", refused)


def test_decisions_are_never_on_ones_own_entry():
    """A cadre decides a disputed entry or one awaiting approval, never their own, nothing else."""
    cadre = Someone("cadre", user_id=7)
    assert policy.can(cadre, "points.decide", entry(status="disputed"))
    assert policy.can(cadre, "points.decide", entry(needs_approval=True))
    with pytest.raises(Forbidden):
        policy.require(cadre, "points.decide", entry(status="disputed", created_by_id=7))
    with pytest.raises(Conflict):
        policy.require(cadre, "points.decide", entry())
    assert not policy.can(Someone("staff"), "points.decide", entry(status="disputed"))


def test_reversal_rules():
    """Only a posted award, deduction, adjustment or expiry is reversed, once; a redemption is voided."""
    cadre = Someone("cadre")
    assert policy.can(cadre, "points.reverse", entry(status="posted"))
    for bad in (entry(status="posted", kind="reversal"), entry(status="posted", kind="redemption"),
                entry(status="pending")):
        with pytest.raises(Conflict):
            policy.require(cadre, "points.reverse", bad)
    assert not policy.can(cadre, "points.reverse", entry(status="posted"), reversed=True)


def test_void_same_day_for_volunteers_any_day_for_cadres(app):
    """A volunteer voids today's checkouts; an earlier day's only a cadre or admin; never twice."""
    volunteer, cadre = Someone("volunteer"), Someone("cadre")
    today = Checkout(id=1, created_at=utcnow(), voided_at=None)
    old = Checkout(id=2, created_at=utcnow() - timedelta(days=2), voided_at=None)
    assert policy.can(volunteer, "checkout.void", today)
    with pytest.raises(Forbidden):
        policy.require(volunteer, "checkout.void", old)
    assert policy.can(cadre, "checkout.void", old)
    voided = Checkout(id=3, created_at=utcnow(), voided_at=utcnow())
    with pytest.raises(Conflict):
        policy.require(cadre, "checkout.void", voided)


def test_stocktake_rules(app):
    """Volunteers count and cancel while counting; cadres decide a submitted count and may cancel it."""
    volunteer, cadre = Someone("volunteer"), Someone("cadre")
    counting, submitted = Stocktake(status="counting"), Stocktake(status="submitted")
    assert policy.can(volunteer, "stocktake.count", counting)
    assert not policy.can(volunteer, "stocktake.count", submitted)
    assert policy.can(cadre, "stocktake.decide", submitted)
    assert not policy.can(cadre, "stocktake.decide", counting)
    assert policy.can(volunteer, "stocktake.cancel", counting)
    assert not policy.can(volunteer, "stocktake.cancel", submitted)
    assert policy.can(cadre, "stocktake.cancel", submitted)
