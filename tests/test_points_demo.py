"""The demo's points: the default catalogue and a plausible history."""
import random

from sqlalchemy import func, select

from app.demo.points import build_points_demo
from app.extensions import db
from app.models import Household, LedgerEntry, Rule
from app.services.people.households import create_household
from app.services.invariants import check_invariants


def test_demo_history_is_plausible_and_consistent(world):
    """Three months of history: the catalogue loaded, some households never earn, some
    awards still on notice, one disputed, balances equal to posted entries."""
    for i in range(40):
        create_household(world.users["admin"], {"village_id": world.v1.id, "head_name": f"户{i}"})
    db.session.commit()
    made = build_points_demo(months=3, rng=random.Random(7))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Rule)) == 25
    assert made == db.session.scalar(select(func.count()).select_from(LedgerEntry)) > 40
    statuses = dict(db.session.execute(
        select(LedgerEntry.status, func.count()).group_by(LedgerEntry.status)).all())
    assert statuses["posted"] > 0 and statuses["pending"] > 0 and statuses["disputed"] == 1
    earning = set(db.session.scalars(select(LedgerEntry.household_id).distinct()))
    assert 0 < len(earning) < db.session.scalar(select(func.count()).select_from(Household))
    assert check_invariants() == []
