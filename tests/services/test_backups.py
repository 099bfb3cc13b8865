"""Backups and restore through the service: a round trip keeps what was written
before the backup and drops what came after, encryption refuses a wrong
passphrase or a damaged file without writing anything, retention keeps the
daily and monthly copies and nothing else, and a newer or non-empty database is
not overwritten unless told. On SQLite and PostgreSQL (TEST_DATABASE_URL)."""
import io
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditRecord, BackupRun, Checkout, Household, LedgerEntry
from app.services.checkout.checkouts import check_out
from app.services.safekeeping import backups, encryption
from tests.checkout_helpers import give_points, stocked
from tests.points_helpers import award, make_rule

PASSPHRASE = "correct horse battery staple"


def sale(world, products, household="v1a"):
    """One soap bought at the east supermarket, committed."""
    c = check_out(world.users["volunteer"], {
        "supermarket_id": world.sm_east.id, "household_id": world.households[household].id,
        "lines": [{"product_id": products["香皂"].id, "quantity": 1}]})
    db.session.commit()
    return c.id


def entry_ids() -> set[int]:
    return set(db.session.scalars(select(LedgerEntry.id)))


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a run left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_round_trip_keeps_before_and_drops_after(world, tmp_path):
    """A checkout and an award made before the backup are there after restore; ones made after
    it are gone, the refusal of the newer database came first, and the ledger checks clean."""
    products = stocked(world)
    hid = world.households["v1a"].id
    give_points(world, world.households["v1a"], 100)
    make_rule("T-A", 10)
    kept_checkout = sale(world, products)
    kept_award = award(world, "staff", ["v1b"], "T-A")[0].id
    outcome = backups.make_backup(None, tmp_path / "copies")
    db.session.commit()
    assert outcome.ok, outcome.message
    assert outcome.path.parent == tmp_path / "copies" and outcome.size > 0
    assert "ledger check: ok" in outcome.message and "1 checkouts" in outcome.message
    assert leftovers(tmp_path / "copies") == []

    lost_checkout = sale(world, products)
    lost_award = award(world, "staff", ["v1a"], "T-A")[0].id
    before = entry_ids()

    with pytest.raises(backups.DatabaseNotEmpty):
        backups.restore_backup(None, outcome.path)
    with pytest.raises(backups.DatabaseNewer):
        backups.restore_backup(None, outcome.path, replace=True)
    db.session.rollback()
    assert entry_ids() == before  # refused: nothing changed

    restored = backups.restore_backup(None, outcome.path, replace=True, force=True)
    db.session.commit()
    assert restored.ok, restored.message
    checkouts = set(db.session.scalars(select(Checkout.id)))
    assert kept_checkout in checkouts and lost_checkout not in checkouts
    entries = entry_ids()
    assert kept_award in entries and lost_award not in entries
    assert db.session.get(Household, hid).balance == 100 - 4  # one soap (4 points) before the backup
    runs = db.session.scalars(select(BackupRun).order_by(BackupRun.id)).all()
    assert [(r.kind, r.ok) for r in runs] == [("restore", True)]  # the backup's own row came after it
    assert db.session.scalar(select(func.count()).where(AuditRecord.action == "backup.restore")) == 1


def test_backup_records_its_run_and_an_audit_record(world, tmp_path):
    """A backup leaves a BackupRun (file, size, verified) and an audit record of the system."""
    outcome = backups.make_backup(None, tmp_path)
    db.session.commit()
    run = db.session.scalars(select(BackupRun)).one()
    assert (run.kind, run.ok, run.path, run.size_bytes, run.encrypted) == (
        "backup", True, str(outcome.path), outcome.path.stat().st_size, False)
    assert run.finished_at >= run.started_at
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "backup.make")).one()
    assert record.user_id is None and record.object_id == run.id
    assert record.details["file"] == outcome.path.name
    assert oct(outcome.path.stat().st_mode & 0o777) == "0o600"


def test_encrypted_backup_restores_only_with_its_passphrase(world, tmp_path):
    """An encrypted copy holds no readable database; without the passphrase, or with a wrong one,
    restore refuses and writes nothing; with it, the copy comes back."""
    products = stocked(world)
    give_points(world, world.households["v1a"], 50)
    kept = sale(world, products)
    outcome = backups.make_backup(None, tmp_path / "copies", passphrase=PASSPHRASE)
    db.session.commit()
    assert outcome.ok and outcome.encrypted and outcome.path.name.endswith(".enc")
    raw = outcome.path.read_bytes()
    assert raw.startswith(encryption.MAGIC)
    assert b"SQLite format 3" not in raw and b"PGDMP" not in raw and "杜玉梅".encode() not in raw

    lost = sale(world, products)
    before = entry_ids()
    for passphrase, error in ((None, backups.PassphraseNeeded),
                              ("not the passphrase at all", backups.WrongPassphrase)):
        with pytest.raises(error):
            backups.restore_backup(None, outcome.path, passphrase=passphrase, replace=True, force=True)
        db.session.rollback()
        assert entry_ids() == before
    if db.engine.dialect.name == "sqlite":
        assert leftovers(Path(db.engine.url.database).parent) == []

    restored = backups.restore_backup(None, outcome.path, passphrase=PASSPHRASE, replace=True, force=True)
    db.session.commit()
    assert restored.ok and restored.encrypted
    ids = set(db.session.scalars(select(Checkout.id)))
    assert kept in ids and lost not in ids


def test_damaged_or_cut_encrypted_file_is_refused(world, tmp_path):
    """A sealed file with one byte changed, cut short, or cut at a chunk boundary does not open."""
    payload = os.urandom(encryption.CHUNK * 2 + 100)
    sealed = io.BytesIO()
    encryption.seal(io.BytesIO(payload), sealed, PASSPHRASE)
    data = sealed.getvalue()
    out = io.BytesIO()
    encryption.unseal(io.BytesIO(data), out, PASSPHRASE)
    assert out.getvalue() == payload
    header = len(encryption.MAGIC) + 59
    flipped = bytearray(data)
    flipped[header + 4 + 1000] ^= 1
    chunk_end = header + 4 + encryption.CHUNK + 16
    for bad in (bytes(flipped), data[:-1], data[:chunk_end], data[:header + 2]):
        with pytest.raises(encryption.Damaged):
            encryption.unseal(io.BytesIO(bad), io.BytesIO(), PASSPHRASE)
    with pytest.raises(encryption.WrongPassphrase):
        encryption.unseal(io.BytesIO(data), io.BytesIO(), PASSPHRASE + "!")

    broken = tmp_path / "broken.enc"
    broken.write_bytes(data[:-10])
    with pytest.raises(backups.DamagedBackup):
        backups.restore_backup(None, broken, passphrase=PASSPHRASE, replace=True, force=True)
    db.session.rollback()
    assert db.session.get(Household, world.households["v1a"].id) is not None  # nothing replaced


def test_weak_passphrase_is_refused(world, tmp_path):
    """A passphrase shorter than twelve characters makes no backup at all."""
    with pytest.raises(backups.WeakPassphrase):
        backups.make_backup(None, tmp_path / "copies", passphrase="short")
    assert not (tmp_path / "copies").exists()


def test_a_backup_of_the_other_database_kind_is_refused(world, tmp_path):
    """A PostgreSQL archive is not restored into SQLite, nor a SQLite file into PostgreSQL."""
    other = tmp_path / "other"
    if db.engine.dialect.name == "sqlite":
        other.write_bytes(backups.PGDUMP_MAGIC + b"\x01\x0e\x00" * 20)
    else:
        other.write_bytes(backups.SQLITE_MAGIC + b"\x00" * 100)
    with pytest.raises(backups.WrongDatabaseKind):
        backups.restore_backup(None, other, replace=True, force=True)
    with pytest.raises(backups.BackupNotFound):
        backups.restore_backup(None, tmp_path / "missing", replace=True, force=True)


def stamp_name(moment: datetime, kind: str = "sqlite3") -> str:
    return f"aixin-{moment:%Y%m%d-%H%M%S}.{kind}"


def test_retention_keeps_daily_and_monthly_copies():
    """Twice-daily copies over 400 days: the newest of each of the last 7 days and of the last 12
    months are kept, everything else goes; a second copy on a kept day goes too."""
    start = datetime(2025, 10, 1, 2, 30)
    names = [stamp_name(start + timedelta(days=d, hours=h)) for d in range(400) for h in (0, 12)]
    kept, deleted = backups.retention_plan(names, 7, 12)
    last = start + timedelta(days=399, hours=12)
    daily = {stamp_name(last - timedelta(days=d)) for d in range(7)}
    months = set()
    for name in sorted(names, reverse=True):
        month = name[6:12]
        if month not in {m[6:12] for m in months}:
            months.add(name)
    monthly = set(sorted(months, reverse=True)[:12])
    assert set(kept) == daily | monthly
    # the last day (4 Nov 2026) and 31 Oct are each both a daily and a monthly copy
    assert len(kept) == 7 + 12 - 2
    assert set(deleted) == set(names) - set(kept)
    assert backups.retention_plan(names, 0, 0)[0] == [stamp_name(last)]


def test_backup_thins_only_its_own_copies(world, tmp_path):
    """After a good backup, older copies past retention are deleted; other files, copies of the
    other kind and failed copies stay."""
    folder = tmp_path / "copies"
    folder.mkdir()
    kind = "sqlite3" if db.engine.dialect.name == "sqlite" else "pgdump"
    other_kind = "pgdump" if kind == "sqlite3" else "sqlite3"
    now = datetime.now(ZoneInfo("Asia/Shanghai"))  # names are in the deployment's local time
    old = [stamp_name(now - timedelta(days=d), kind) for d in (40, 3, 2, 1)]
    foreign = ["notes.txt", stamp_name(now - timedelta(days=50), other_kind),
               stamp_name(now - timedelta(days=60), kind) + ".failed", "aixin-latest.sqlite3"]
    for name in old + foreign:
        (folder / name).write_bytes(b"x")
    outcome = backups.make_backup(None, folder, keep_daily=2, keep_monthly=1)
    db.session.commit()
    assert outcome.ok
    assert sorted(outcome.deleted) == sorted(old[:3])  # 40, 3 and 2 days old; today's and yesterday's stay
    left = {p.name for p in folder.iterdir()}
    assert left == set(foreign) | {old[3], outcome.path.name}


def test_a_copy_that_fails_its_check_is_kept_aside_and_thins_nothing(world, tmp_path):
    """When the ledger check finds a broken balance in the copy, the backup fails (exit 1 in the
    CLI), the copy is kept as .failed, no older copy is deleted and the run says why."""
    older = tmp_path / stamp_name(datetime(2020, 1, 1), "sqlite3" if db.engine.dialect.name == "sqlite"
                                  else "pgdump")
    older.write_bytes(b"x")
    hid = world.households["v1a"].id
    db.session.execute(text("UPDATE households SET balance = balance + 5 WHERE id = :id"), {"id": hid})
    db.session.commit()
    outcome = backups.make_backup(None, tmp_path, keep_daily=0, keep_monthly=0)
    db.session.commit()
    assert not outcome.ok and outcome.path.name.endswith(".failed") and outcome.path.exists()
    assert "1 violation" in outcome.message and older.exists() and outcome.deleted == []
    run = db.session.scalars(select(BackupRun)).one()
    assert not run.ok and "violation" in run.message
    assert backups.last_good_backup() is None
