"""`flask backup` and `flask restore` from the command line: what they print, their exit
codes, a copy put back into a brand-new database, encryption by file or environment,
and the refusals that protect a database holding data."""

from sqlalchemy import func, inspect, select, text

from app import create_app
from app.extensions import db
from app.models import Household, LedgerEntry
from tests.checkout_helpers import give_points
from tests.conftest import base_config
from tests.freshdb import PG_URL, fresh_database

PASSPHRASE = "a passphrase kept in a file"
KIND = "postgresql" if PG_URL else "sqlite"


def run(app, *args):
    """The command on the test's app (in the test's app context)."""
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def run_on(other, *args):
    """The command on another app, in its own app context (the runner would reuse the test's)."""
    with other.app_context():
        try:
            return other.test_cli_runner().invoke(args=[str(a) for a in args])
        finally:
            db.session.remove()
            db.engine.dispose()


def copy_in(folder):
    [path] = [p for p in folder.iterdir() if p.name.startswith("aixin-")]
    return path


def households_in(app) -> int | None:
    """How many households a database holds (None: it has no tables)."""
    with app.app_context():
        try:
            if not inspect(db.engine).has_table("households"):
                return None
            return db.session.scalar(select(func.count()).select_from(Household))
        finally:
            db.session.remove()
            db.engine.dispose()


def test_backup_then_restore_into_a_fresh_database(app, world, tmp_path):
    """The backup prints its file, size, time and a clean check; restored into an empty database
    the copy holds the same households and its ledger checks clean."""
    give_points(world, world.households["v1a"], 30)
    result = run(app, "backup", tmp_path / "copies")
    assert result.exit_code == 0, result.output
    path = copy_in(tmp_path / "copies")
    assert f"backup: {path}" in result.output and "not encrypted" in result.output
    assert "ledger check: ok, no violations (4 households, 1 entries" in result.output
    with fresh_database(KIND, tmp_path) as url:
        fresh = create_app(base_config(url), instance_path=str(tmp_path / "fresh-instance"))
        result = run_on(fresh, "restore", path)
        assert result.exit_code == 0, result.output
        assert "restored:" in result.output and "ledger check: ok" in result.output
        assert households_in(fresh) == 4
        check = run_on(fresh, "ledger", "check")
        assert check.exit_code == 0 and "ledger check: ok" in check.output


def test_encrypted_backup_by_file_or_environment(app, world, tmp_path, monkeypatch):
    """A passphrase from AIXIN_BACKUP_PASSPHRASE seals the copy (one from a file too short is
    refused); restoring it with a wrong one or none exits 1 and leaves the new database empty; the
    right one, from a file, restores it."""
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("AIXIN_BACKUP_PASSPHRASE", PASSPHRASE)
    result = run(app, "backup", tmp_path / "by-env")
    assert result.exit_code == 0 and " encrypted" in result.output, result.output
    monkeypatch.delenv("AIXIN_BACKUP_PASSPHRASE")
    short = tmp_path / "short"
    short.write_text("too short\n")
    result = run(app, "backup", tmp_path / "by-file", "--passphrase-file", short)
    assert result.exit_code == 1 and "weak-passphrase" in result.output
    assert not (tmp_path / "by-file").exists()
    sealed = copy_in(tmp_path / "by-env")
    assert sealed.name.endswith(".enc")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase, sorry")
    with fresh_database(KIND, tmp_path) as url:
        fresh = create_app(base_config(url), instance_path=str(tmp_path / "fresh-instance"))
        result = run_on(fresh, "restore", sealed)
        assert result.exit_code == 1 and "passphrase-needed" in result.output
        result = run_on(fresh, "restore", sealed, "--passphrase-file", wrong)
        assert result.exit_code == 1 and "wrong-passphrase" in result.output
        assert households_in(fresh) is None
        result = run_on(fresh, "restore", sealed, "--passphrase-file", secret)
        assert result.exit_code == 0, result.output
        assert households_in(fresh) == 4


def test_restore_refuses_a_database_with_data_or_newer_writes(app, world, tmp_path):
    """Over the live database: refused without --yes (no prompt when nobody can answer), refused
    with --yes when it was written after the backup, done with --force; the later write is gone."""
    result = run(app, "backup", tmp_path)
    assert result.exit_code == 0, result.output
    path = copy_in(tmp_path)
    give_points(world, world.households["v1a"], 30)
    result = run(app, "restore", path)
    assert result.exit_code == 1 and "database-not-empty" in result.output
    result = run(app, "restore", path, "--yes")
    assert result.exit_code == 1 and "database-newer" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    result = run(app, "restore", path, "--yes", "--force")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_backup_exits_1_when_the_copy_fails_its_check(app, world, tmp_path):
    """A balance that disagrees with its entries makes the copy fail its check: exit 1, and the
    run says which invariant."""
    db.session.execute(text("UPDATE households SET balance = 7 WHERE id = :id"),
                       {"id": world.households["v2a"].id})
    db.session.commit()
    result = run(app, "backup", tmp_path / "copies")
    assert result.exit_code == 1
    assert "invariant 1" in result.output and "backup FAILED" in result.output
    assert [p.name.endswith(".failed") for p in (tmp_path / "copies").iterdir()] == [True]
