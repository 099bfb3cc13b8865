"""`flask households anonymise`: the privacy page's bulk act from the command line."""
from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditRecord, Household
from app.services.clock import local_today
from app.services.people.households import update_household


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def exit_on(world, key: str, days_ago: int) -> Household:
    hh = world.households[key]
    update_household(world.users["admin"], hh.id, {"status": "exited"})
    db.session.commit()
    db.session.execute(update(Household).where(Household.id == hh.id)
                       .values(exited_on=local_today() - timedelta(days=days_ago)))
    db.session.commit()
    return hh


def test_dry_run_lists_codes_and_changes_nothing(app, world):
    """--dry-run prints the eligible codes (never names) and the count; nothing is anonymised."""
    old, recent = exit_on(world, "v1a", 5 * 365), exit_on(world, "v2a", 365)
    result = run(app, "households", "anonymise", "--user", "admin", "--dry-run")
    assert result.exit_code == 0, result.output
    assert old.code in result.output and recent.code not in result.output
    assert "杜玉梅" not in result.output and "1 households eligible" in result.output
    db.session.expire_all()
    assert db.session.get(Household, old.id).anonymised_at is None


def test_anonymises_the_eligible_ones_before_a_day(app, world):
    """--exited-before narrows the eligible households; the act is recorded under the admin."""
    older, old = exit_on(world, "v1a", 6 * 365), exit_on(world, "v1b", 4 * 365)
    day = (local_today() - timedelta(days=5 * 365)).isoformat()
    result = run(app, "households", "anonymise", "--user", "admin", "--exited-before", day)
    assert result.exit_code == 0 and "1 households anonymised" in result.output, result.output
    db.session.expire_all()
    assert db.session.get(Household, older.id).anonymised_at is not None
    assert db.session.get(Household, old.id).anonymised_at is None
    [user_id] = db.session.scalars(select(AuditRecord.user_id)
                                   .where(AuditRecord.action == "household.anonymise")).all()
    assert user_id == world.users["admin"].id
    assert "1 households anonymised" in run(app, "households", "anonymise", "--user", "admin").output


def test_refused_for_anyone_but_an_admin(app, world):
    """A cadre's or an unknown account: exit 1, nothing changed."""
    hh = exit_on(world, "v1a", 5 * 365)
    for name in ("cadre", "nobody"):
        result = run(app, "households", "anonymise", "--user", name)
        assert result.exit_code == 1
    db.session.expire_all()
    assert db.session.get(Household, hh.id).anonymised_at is None
