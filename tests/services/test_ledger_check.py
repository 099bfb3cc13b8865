"""`flask ledger check`: the points invariants checked on a live database."""
import pytest
from sqlalchemy import insert, text, update

from app.extensions import db
from app.models import Household, IdempotencyKey, LedgerEntry, utcnow
from app.services.invariants import check_invariants
from app.services.ledger import writer
from app.services.points import entries
from tests.points_helpers import at, award, make_rule, today


@pytest.fixture
def history(app, world):
    """A realistic little ledger: posted, pending, disputed, cancelled, withdrawn, reversed, deducted."""
    make_rule("T-A", 10)
    make_rule("T-KF", -5)
    make_rule("T-BIG", 80)
    made = at(-8)
    old = award(world, "staff", ["v1a", "v1b"], "T-A", now=made, occurred_on=today(made))
    award(world, "staff_east", ["v2a"], "T-KF", now=made, occurred_on=today(made))
    writer.post_due()
    entries.reverse_entry(world.users["cadre"], old[1].id, {"reason": "录错"})
    [disputed] = award(world, "staff", ["v1a"], "T-A")
    entries.raise_objection(world.users["volunteer"], disputed.id, {"reason": "不属实"})
    [cancelled] = award(world, "staff", ["v1b"], "T-A")
    entries.raise_objection(world.users["staff"], cancelled.id, {"reason": "重复"})
    entries.reject_entry(world.users["cadre"], cancelled.id, {"reason": "同意"})
    award(world, "staff_west", ["v3a"], "T-BIG")
    [withdrawn] = award(world, "staff", ["v1b"], "T-A")
    entries.withdraw_entry(world.users["staff"], withdrawn.id, {"reason": "录错户"})
    db.session.commit()
    return world


def run_check(app):
    return app.test_cli_runner().invoke(args=["ledger", "check"])


def test_clean_database_passes(app, history):
    """On a consistent ledger the command exits 0 with a summary line."""
    result = run_check(app)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("ledger check: ok")
    assert "4 households" in result.output


def test_empty_database_passes(app):
    """A fresh deployment passes too."""
    assert run_check(app).exit_code == 0


def test_balance_tampered_in_sql_is_caught(app, history):
    """A balance changed behind the ledger's back is reported (invariant 1), exit code 1."""
    hh = history.households["v1a"]
    db.session.execute(text("UPDATE households SET balance = balance + 500 WHERE id = :id"), {"id": hh.id})
    db.session.commit()
    result = run_check(app)
    assert result.exit_code == 1
    assert f"invariant 1: household {hh.id} ({hh.code}): balance 510 but posted entries sum to 10" in result.output
    assert "1 violation" in result.output


def test_entry_due_but_not_posted_is_caught(app, history):
    """An entry whose notice ended but that nobody posted is reported; post-due fixes it."""
    made = at(-6)
    [entry] = award(history, "staff", ["v1b"], "T-A", now=made, occurred_on=today(made))
    result = run_check(app)
    assert result.exit_code == 1
    assert f"entry {entry.id} (household {entry.household_id}) was due at" in result.output
    out = app.test_cli_runner().invoke(args=["points", "post-due"])
    assert out.exit_code == 0 and "posted 1 entries" in out.output
    assert run_check(app).exit_code == 0


def test_bad_reversal_is_caught(app, history):
    """A reversal whose points do not undo its original, or that names an entry of another
    household, is reported (invariant 5)."""
    original = db.session.scalars(
        db.select(LedgerEntry).where(LedgerEntry.kind == "award", LedgerEntry.status == "posted",
                                     LedgerEntry.household_id == history.households["v1a"].id)).first()
    v2a = history.households["v2a"].id
    rid = db.session.scalar(insert(LedgerEntry).values(
        household_id=v2a, kind="reversal", points=original.points,
        status="posted", occurred_on=original.occurred_on, created_at=utcnow(),
        posted_at=utcnow(), reversal_of=original.id, needs_approval=False).returning(LedgerEntry.id))
    db.session.execute(update(Household).where(Household.id == v2a)
                       .values(balance=Household.balance + original.points))
    db.session.commit()
    violations = [str(v) for v in check_invariants()]
    assert violations == [
        f"invariant 5: reversal {rid} is {original.points} points but entry {original.id} was {original.points}",
        f"invariant 5: reversal {rid} is for household {v2a}, entry {original.id} for {original.household_id}",
    ]
    assert run_check(app).exit_code == 1


def test_entry_points_differing_from_its_rule_version_is_caught(app, history):
    """An award whose points were edited in SQL no longer matches its rule version (the ledger never changes)."""
    entry = db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.kind == "award")).first()
    db.session.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id).values(points=99))
    db.session.commit()
    assert any(f"entry {entry.id} (award) is 99 points" in str(v) for v in check_invariants())


def test_database_refuses_a_second_reversal_and_a_duplicate_key(app, history):
    """Invariants 5 and 6 are also held by the schema: UNIQUE reversal_of and (user, key)."""
    from sqlalchemy.exc import IntegrityError

    rev = db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.kind == "reversal")).one()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(LedgerEntry).values(
            household_id=rev.household_id, kind="reversal", points=rev.points, status="posted",
            occurred_on=rev.occurred_on, created_at=utcnow(), reversal_of=rev.reversal_of,
            needs_approval=False))
    db.session.rollback()
    row = {"user_id": history.users["staff"].id, "key": "k1", "fingerprint": "f", "status": 201,
           "content_type": "application/json", "body": "{}", "created_at": utcnow()}
    db.session.execute(insert(IdempotencyKey).values(**row))
    with pytest.raises(IntegrityError):
        db.session.execute(insert(IdempotencyKey).values(**row))
    db.session.rollback()


def test_withdrawal_is_no_rejection_in_the_kept_totals(app, history):
    """author_months counts a cadre's rejection, never an author's withdrawal, both as the
    writer keeps it and as `flask ledger rebuild-totals` recomputes it; the check agrees."""
    from app.models import AuthorMonth

    def rejected():
        db.session.expire_all()
        return {(r.user_id, r.household_id): (r.awards, r.rejected)
                for r in db.session.query(AuthorMonth).all() if r.user_id == history.users["staff"].id}
    kept = rejected()
    v1b = history.households["v1b"].id
    # v1b: the old award, the rejected one and the withdrawn one: one rejection.
    assert kept[(history.users["staff"].id, v1b)][1] == 1
    assert sum(r for _, r in kept.values()) == 1
    result = app.test_cli_runner().invoke(args=["ledger", "rebuild-totals"])
    assert result.exit_code == 0, result.output
    assert rejected() == kept
    assert run_check(app).exit_code == 0
