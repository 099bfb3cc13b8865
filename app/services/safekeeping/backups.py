"""Backups and restore: a consistent copy of the live database taken without
stopping it (SQLite's online backup API; pg_dump's custom format), named by
its local date and time, optionally sealed with a passphrase, verified by
opening it and running the ledger check on it, thinned to the last daily and
monthly copies; and a copy put back, never over a database newer than it
unless told. Each run leaves a BackupRun row and an audit record."""
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url

from app.extensions import db
from app.models import AuditRecord, BackupRun, Household, LedgerEntry, User, utcnow
from app.services import audit
from app.services.clock import local_zone
from app.services.errors import DomainError
from app.services.people import policy
from app.services.safekeeping import encryption

# aixin-20261129-070012.sqlite3, aixin-20261129-070012-2.pgdump.enc ...: what
# retention may delete. Anything else in the folder is left alone.
NAME = re.compile(r"^aixin-(?P<day>\d{8})-(?P<time>\d{6})(?:-\d+)?\.(?P<kind>sqlite3|pgdump)"
                  r"(?P<sealed>\.enc)?$")
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
PASSPHRASE_ENV = "AIXIN_BACKUP_PASSPHRASE"


class BackupError(DomainError):
    slug = "backup-failed"
    status = 500
    title = _l("The backup could not be made.")


class BackupNotFound(DomainError):
    slug = "backup-not-found"
    status = 404
    title = _l("There is no backup file at this path.")


class PassphraseNeeded(DomainError):
    slug = "passphrase-needed"
    status = 422
    title = _l("This backup is encrypted: give its passphrase in a file (--passphrase-file) "
               "or in the AIXIN_BACKUP_PASSPHRASE environment variable.")


class WeakPassphrase(DomainError):
    slug = "weak-passphrase"
    status = 422
    title = _l("The backup passphrase must have at least %(n)d characters.",
               n=encryption.PASSPHRASE_MIN_LENGTH)


class WrongPassphrase(DomainError):
    slug = "wrong-passphrase"
    status = 422
    title = _l("The passphrase does not open this backup. Nothing was changed.")


class DamagedBackup(DomainError):
    slug = "damaged-backup"
    status = 422
    title = _l("This file is not a whole Aixin backup (damaged, cut short or something else). "
               "Nothing was changed.")


class WrongDatabaseKind(DomainError):
    slug = "wrong-database-kind"
    status = 422


class DatabaseNotEmpty(DomainError):
    slug = "database-not-empty"
    status = 409
    title = _l("The database already holds data: confirm that the backup should replace it (--yes).")


class DatabaseNewer(DomainError):
    slug = "database-newer"
    status = 409


@dataclass
class Report:
    """What the ledger check found on a database (a copy, or a restored one)."""
    violations: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    due: int = 0
    latest_write: datetime | None = None
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.violations

    def line(self) -> str:
        if self.note:
            return self.note
        if self.error:
            return f"ledger check: could not run ({self.error})"
        counted = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        due = f"; {self.due} entries past their notice, posted on first use" if self.due else ""
        if self.violations:
            first = "; ".join(str(v) for v in self.violations[:3])
            return f"ledger check: {len(self.violations)} violation(s) ({counted}): {first}"
        return f"ledger check: ok, no violations ({counted}{due})"


@dataclass
class Outcome:
    """One backup or restore, as the command prints it and the run records it."""
    kind: str
    path: Path
    ok: bool
    size: int = 0
    seconds: float = 0.0
    copy_seconds: float = 0.0
    encrypted: bool = False
    message: str = ""
    deleted: list = field(default_factory=list)
    run: BackupRun | None = None


# -- where, what and how ----------------------------------------------------------------

def backup_folder(folder=None) -> Path:
    configured = folder or current_app.config.get("BACKUP_DIR")
    return Path(configured or Path(current_app.instance_path) / "backups").expanduser().resolve()


def read_passphrase(passphrase_file=None) -> str | None:
    """The passphrase from --passphrase-file, else AIXIN_BACKUP_PASSPHRASE, else the
    file BACKUP_PASSPHRASE_FILE names; None when none is given. Never an argument:
    it would be kept in the shell's history and shown in the process list."""
    path = passphrase_file or None
    if path is None and os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    path = path or current_app.config.get("BACKUP_PASSPHRASE_FILE")
    if not path:
        return None
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as err:
        raise PassphraseNeeded(_l("The passphrase file cannot be read: %(error)s",
                                  error=err.strerror or str(err))) from None
    if not value:
        raise PassphraseNeeded(_l("The passphrase file is empty."))
    return value


def database_url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def database_kind(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError(_l("An in-memory database cannot be backed up."))
        return "sqlite3"
    if url.get_backend_name() == "postgresql":
        return "pgdump"
    raise BackupError(_l("Backups know SQLite and PostgreSQL only."))


def copy_name(folder: Path, kind: str, sealed: bool, now: datetime | None = None) -> str:
    """aixin-YYYYMMDD-HHMMSS.<kind>[.enc] in local time; -2, -3 ... when taken twice a second."""
    stamp = (now or utcnow()).astimezone(local_zone()).strftime("%Y%m%d-%H%M%S")
    suffix = f".{kind}" + (".enc" if sealed else "")
    name, n = f"aixin-{stamp}{suffix}", 1
    while (folder / name).exists() or (folder / f"{name}.failed").exists():
        n += 1
        name = f"aixin-{stamp}-{n}{suffix}"
    return name


def file_kind(path: Path) -> str:
    """sqlite3, pgdump or sealed, by the file's first bytes (never by its name)."""
    with open(path, "rb") as f:
        head = f.read(max(len(encryption.MAGIC), len(SQLITE_MAGIC)))
    if head.startswith(encryption.MAGIC):
        return "sealed"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite3"
    if head.startswith(PGDUMP_MAGIC):
        return "pgdump"
    raise DamagedBackup()


# -- retention ----------------------------------------------------------------------------

def _stamp(name: str) -> datetime | None:
    m = NAME.match(name)
    return datetime.strptime(m["day"] + m["time"], "%Y%m%d%H%M%S") if m else None


def retention_plan(names: list[str], keep_daily: int, keep_monthly: int) -> tuple[list[str], list[str]]:
    """(kept, deleted) among the names this program makes: the newest copy of each
    of the last `keep_daily` days that have one, the newest of each of the last
    `keep_monthly` months that have one, and always the newest of all."""
    copies = sorted(((_stamp(n), n) for n in names if NAME.match(n)), reverse=True)
    if not copies:
        return [], []
    days: dict = {}
    months: dict = {}
    for stamp, name in copies:
        days.setdefault(stamp.date(), name)
        months.setdefault((stamp.year, stamp.month), name)
    keep = {copies[0][1]}
    keep.update(list(days.values())[:max(0, keep_daily)])
    keep.update(list(months.values())[:max(0, keep_monthly)])
    kept = [n for _, n in copies if n in keep]
    return kept, [n for _, n in copies if n not in keep]


def prune(folder: Path, kind: str, keep_daily: int, keep_monthly: int) -> list[str]:
    """Delete the copies of this kind that retention no longer keeps; their names."""
    names = [p.name for p in folder.iterdir() if p.is_file() and (m := NAME.match(p.name))
             and m["kind"] == kind]
    _, deleted = retention_plan(names, keep_daily, keep_monthly)
    for name in deleted:
        (folder / name).unlink(missing_ok=True)
    return deleted


# -- checking a database --------------------------------------------------------------------

def latest_write() -> datetime | None:
    """When this database was last written: its newest audit record (other than a
    backup's own) or ledger entry. None for a database with neither."""
    audit_at = db.session.scalar(select(func.max(AuditRecord.at))
                                 .where(AuditRecord.action.not_like("backup.%")))
    entry_at = db.session.scalar(select(func.max(LedgerEntry.created_at)))
    return max((t for t in (audit_at, entry_at) if t is not None), default=None)


def check_here() -> Report:
    """The ledger check (`flask ledger check`'s checks) on the database of the
    current app. An entry past its notice but not yet posted is counted, not
    failed: a copy or a quiet night's database may hold some, and the app posts
    them before anything reads a balance."""
    from app.services.invariants import checks, summary
    from app.services.ledger.check import check_due

    now = utcnow()
    report = Report()
    try:
        for check in checks():
            found = check(now)
            if check is check_due:
                report.due = len(found)
            else:
                report.violations.extend(found)
        report.counts = summary()
        report.latest_write = latest_write()
    except Exception as err:  # a copy that is no database of ours: reported, not raised
        report.error = str(err).splitlines()[0][:300]
    finally:
        db.session.rollback()
    return report


@contextmanager
def app_on(url: str):
    """This app's configuration on another database, in its own app context."""
    from app import create_app

    config = {k: v for k, v in current_app.config.items() if not k.startswith("SQLALCHEMY_")}
    config.update(SQLALCHEMY_DATABASE_URI=url, SQLITE_LOCK_OUTSIDE_REQUESTS=False)
    other = create_app(config, instance_path=current_app.instance_path)
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def check_database(url: str) -> Report:
    with app_on(url):
        return check_here()


# -- PostgreSQL's tools --------------------------------------------------------------------

def _pg_env(url: URL, database: str | None = None) -> dict:
    """Connection settings for pg_dump and pg_restore, in their environment: the
    password never appears on a command line."""
    env = {**os.environ, "TZ": "UTC", "PGDATABASE": database or url.database or ""}
    query = dict(url.query)
    host = url.host or query.get("host")
    for name, value in (("PGHOST", host), ("PGPORT", url.port or query.get("port")),
                        ("PGUSER", url.username), ("PGPASSWORD", url.password),
                        ("PGSSLMODE", query.get("sslmode"))):
        if value:
            env[name] = str(value)
    # A restore waiting on a lock held by a running server fails instead of hanging.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=60000").strip()
    return env


def _run(cmd: list[str], env: dict, what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, **kwargs)
    except FileNotFoundError:
        raise BackupError(_l("%(tool)s was not found: install the PostgreSQL client tools "
                             "(the server's major version or newer).", tool=cmd[0])) from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{what}: " + ("; ".join(err[-3:]) or f"exit {done.returncode}"))
    return done


def _pg_dump(url: URL, target: Path, passphrase: str | None) -> None:
    env = _pg_env(url)
    cmd = ["pg_dump", "--format=custom", "--no-password"]
    if passphrase is None:
        _run(cmd + [f"--file={target}"], env, "pg_dump")
        return
    with open(target, "wb") as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err)
        except FileNotFoundError:
            raise BackupError(_l("%(tool)s was not found: install the PostgreSQL client tools "
                                 "(the server's major version or newer).", tool="pg_dump")) from None
        try:
            encryption.seal(proc.stdout, out, passphrase)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise BackupError("pg_dump: " + ("; ".join(lines[-3:]) or f"exit {code}"))


def _archive_created(plain: Path, url: URL) -> datetime | None:
    """When pg_dump began this archive (its header, read with TZ=UTC as it was written)."""
    done = _run(["pg_restore", "--list", str(plain)], _pg_env(url), "pg_restore --list")
    m = re.search(rb"Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", done.stdout)
    if not m:
        return None
    return datetime.strptime(m[1].decode(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)


@contextmanager
def _scratch_database(url: URL):
    """A new, empty PostgreSQL database beside the live one (<db>_verify_<random>),
    dropped afterwards; None when the account may not create databases."""
    name = f"{(url.database or 'aixin')[:40]}_verify_{secrets.token_hex(4)}"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:
        server.dispose()
        if "permission denied" in str(err).lower():
            yield None
            return
        raise
    try:
        yield url.set(database=name)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


# -- verification ---------------------------------------------------------------------------

def _plain_copy(path: Path, work: Path, passphrase: str | None) -> tuple[Path, bool]:
    """The backup as its database tool reads it: the file itself, or unsealed into
    `work` (removed on failure: nothing half-written is left)."""
    if file_kind(path) != "sealed":
        return path, False
    if passphrase is None:
        raise PassphraseNeeded()
    plain = work / "unsealed"
    try:
        with open(path, "rb") as src, open(plain, "wb") as out:
            os.chmod(plain, 0o600)
            encryption.unseal(src, out, passphrase)
    except encryption.WrongPassphrase:
        plain.unlink(missing_ok=True)
        raise WrongPassphrase() from None
    except encryption.Damaged:
        plain.unlink(missing_ok=True)
        raise DamagedBackup() from None
    return plain, True


def verify(path: Path, url: URL, work: Path, passphrase: str | None) -> Report:
    """Open what was written and run the ledger check on it: a SQLite copy in a
    scratch file, a PostgreSQL archive restored into a scratch database."""
    plain, _ = _plain_copy(path, work, passphrase)
    kind = file_kind(plain)
    if kind == "sqlite3":
        scratch = work / "verify.sqlite3"
        if plain == path:
            shutil.copyfile(plain, scratch)
        else:
            plain.rename(scratch)
        return check_database(f"sqlite:///{scratch}")
    with _scratch_database(url) as scratch:
        if scratch is None:
            # No CREATEDB: at least read every block of the archive through.
            _run(["pg_restore", "--file=/dev/null", str(plain)], _pg_env(url), "pg_restore")
            return Report(note="archive read through; the ledger check was not run: this "
                               "account may not create the scratch database it needs (CREATEDB)")
        _run(["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
              "--no-password", f"--dbname={scratch.database}", str(plain)],
             _pg_env(url, scratch.database), "pg_restore")
        return check_database(scratch.render_as_string(hide_password=False))


# -- the acts ---------------------------------------------------------------------------------

def make_backup(actor: User | None, folder=None, *, passphrase: str | None = None,
                keep_daily: int | None = None, keep_monthly: int | None = None,
                now: datetime | None = None) -> Outcome:
    """Copy the live database into `folder`, verify the copy, thin out older copies.
    A copy that fails verification is kept as NAME.failed (never counted, never
    deleted) and nothing is thinned. Records the run; the caller commits."""
    if actor is not None:
        policy.require(actor, "backups.manage")
    config = current_app.config
    keep_daily = config["BACKUP_KEEP_DAILY"] if keep_daily is None else keep_daily
    keep_monthly = config["BACKUP_KEEP_MONTHLY"] if keep_monthly is None else keep_monthly
    if passphrase is not None and len(passphrase) < encryption.PASSPHRASE_MIN_LENGTH:
        raise WeakPassphrase()
    url = database_url()
    kind = database_kind(url)
    folder = backup_folder(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    sealed = passphrase is not None
    final = folder / copy_name(folder, kind, sealed, now)
    partial = folder / f".{final.name}.partial"
    outcome = Outcome("backup", final, ok=False, encrypted=sealed)
    started_at, started = utcnow(), time.monotonic()
    db.session.rollback()  # no transaction of ours held open while the copy is taken
    # Plain copies (before sealing, unsealed to verify) stay beside the live database,
    # never on the backup's medium (a USB stick that leaves the building).
    work = Path(tempfile.mkdtemp(prefix=".aixin-backup-", dir=_beside(url)))
    try:
        try:
            if kind == "sqlite3":
                _copy_sqlite(Path(url.database), partial, work, passphrase)
            else:
                _pg_dump(url, partial, passphrase)
            os.chmod(partial, 0o600)
            os.replace(partial, final)
        except BackupError as err:
            outcome.message = str(err.detail)
        except OSError as err:
            outcome.message = f"writing {folder}: {err.strerror or err}"
        else:
            outcome.size = final.stat().st_size
            outcome.copy_seconds = time.monotonic() - started
            try:
                report = verify(final, url, work, passphrase)
                outcome.message = report.line()
                outcome.ok = report.ok
            except DomainError as err:
                outcome.message = f"verification: {err.detail}"
            except Exception as err:  # a scratch database refused, a disk full: a failed check
                outcome.message = f"verification: {err.__class__.__name__}: {str(err).splitlines()[0][:300]}"
            if not outcome.ok:
                failed = final.with_name(final.name + ".failed")
                os.replace(final, failed)
                outcome.path = failed
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    outcome.seconds = time.monotonic() - started
    if outcome.ok:
        outcome.deleted = prune(folder, kind, keep_daily, keep_monthly)
    _record(actor, outcome, started_at)
    return outcome


def _copy_sqlite(source: Path, partial: Path, work: Path, passphrase: str | None) -> None:
    """SQLite's online backup in one step: a read transaction on the live file
    (WAL lets writers go on meanwhile), so the copy is one consistent moment."""
    if not source.exists():
        raise BackupError(_l("The database file %(path)s does not exist.", path=str(source)))
    plain = partial if passphrase is None else work / "copy.sqlite3"
    timeout = float(current_app.config.get("DATABASE_LOCK_TIMEOUT") or 5)
    src = sqlite3.connect(str(source), timeout=timeout)
    try:
        dst = sqlite3.connect(str(plain))
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"sqlite backup: {err}") from None
    finally:
        src.close()
    if passphrase is not None:
        with open(plain, "rb") as f, open(partial, "wb") as out:
            encryption.seal(f, out, passphrase)
        plain.unlink()


def _record(actor: User | None, outcome: Outcome, started_at: datetime) -> None:
    run = BackupRun(kind=outcome.kind, started_at=started_at, finished_at=utcnow(), ok=outcome.ok,
                    path=str(outcome.path)[:500], size_bytes=outcome.size or None,
                    encrypted=outcome.encrypted, message=outcome.message[:4000])
    db.session.add(run)
    db.session.flush()
    audit.record(actor, f"backup.{'make' if outcome.kind == 'backup' else 'restore'}", run,
                 ok=outcome.ok, file=outcome.path.name, size=outcome.size, encrypted=outcome.encrypted,
                 deleted=len(outcome.deleted))
    outcome.run = run


@dataclass
class TargetState:
    empty: bool
    latest_write: datetime | None = None


def target_state() -> TargetState:
    """Whether the configured database holds data (accounts, households or ledger
    entries), and when it was last written."""
    db.session.rollback()
    if not inspect(db.engine).has_table("households"):
        return TargetState(empty=True)
    held = sum(db.session.scalar(select(func.count()).select_from(m)) or 0
               for m in (User, Household, LedgerEntry))
    latest = latest_write()
    db.session.rollback()
    return TargetState(empty=held == 0, latest_write=latest)


def restore_backup(actor: User | None, path, *, passphrase: str | None = None, replace: bool = False,
                   force: bool = False) -> Outcome:
    """Put the backup at `path` back into the configured database, then run the
    ledger check on it. Refuses a database that holds data unless `replace`, and
    one written after the backup was taken unless `force`; a wrong passphrase or
    a damaged file changes nothing. Records the run in the restored database."""
    if actor is not None:
        policy.require(actor, "backups.manage")
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise BackupNotFound()
    url = database_url()
    kind = database_kind(url)
    started_at, started = utcnow(), time.monotonic()
    outcome = Outcome("restore", path, ok=False, size=path.stat().st_size)
    work = Path(tempfile.mkdtemp(prefix=".aixin-restore-", dir=_beside(url)))
    try:
        plain, outcome.encrypted = _plain_copy(path, work, passphrase)
        if kind == "sqlite3" and plain == path and file_kind(path) == "sqlite3":
            # Read a copy of our own: the file may lie on a read-only stick, and SQLite
            # opening it would write beside it.
            plain = work / "copy.sqlite3"
            shutil.copyfile(path, plain)
        found = file_kind(plain)
        if found != kind:
            raise WrongDatabaseKind(_l("This is a %(found)s backup, but the database configured "
                                       "here is %(kind)s.", found=_KIND_LABELS[found],
                                       kind=_KIND_LABELS[kind]))
        taken = _backup_taken(plain, url)
        state = target_state()
        if not state.empty and not replace:
            raise DatabaseNotEmpty()
        if state.latest_write and taken and state.latest_write > taken and not force:
            raise DatabaseNewer(_l(
                "The database was written at %(target)s, after this backup (%(backup)s): restoring "
                "would lose those writes. Restore anyway with --force.",
                target=_shown(state.latest_write), backup=_shown(taken)))
        db.session.remove()
        db.engine.dispose()
        if kind == "sqlite3":
            _restore_sqlite(plain, Path(url.database))
        else:
            _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-acl", "--exit-on-error",
                  "--single-transaction", "--no-password", f"--dbname={url.database}", str(plain)],
                 _pg_env(url), "pg_restore")
        db.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = check_here()
    outcome.ok, outcome.message = report.ok, report.line()
    outcome.seconds = time.monotonic() - started
    _record(actor, outcome, started_at)
    return outcome


_KIND_LABELS = {"sqlite3": "SQLite", "pgdump": "PostgreSQL"}


def _beside(url: URL) -> Path | None:
    """Where plain working copies go: the live SQLite file's folder (as private as
    the database itself), or the system's temporary folder for PostgreSQL."""
    if url.get_backend_name() != "sqlite":
        return None
    folder = Path(url.database).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shown(moment: datetime) -> str:
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S")


def _backup_taken(plain: Path, url: URL) -> datetime | None:
    """When the backup's data ends: its last write (SQLite), or when pg_dump began."""
    if file_kind(plain) == "pgdump":
        return _archive_created(plain, url)
    with app_on(f"sqlite:///{plain}"):
        try:
            if not inspect(db.engine).has_table("audit_records"):
                raise DamagedBackup(_l("This SQLite file is not an Aixin database."))
            return latest_write()
        except DomainError:
            raise
        except Exception:
            raise DamagedBackup() from None
        finally:
            db.session.rollback()


def _restore_sqlite(plain: Path, target: Path) -> None:
    """SQLite's backup API from the copy into the target: one write transaction
    through SQLite's own locks, so it lands whole or not at all, and a server's
    open connections see the new content, never a file swapped under them."""
    timeout = float(current_app.config.get("DATABASE_LOCK_TIMEOUT") or 5)
    src = sqlite3.connect(str(plain))
    try:
        dst = sqlite3.connect(str(target), timeout=max(timeout, 30))
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"sqlite restore: {err}") from None
    finally:
        src.close()
    os.chmod(target, 0o600)


# -- the admin page ---------------------------------------------------------------------------

def recent_runs(actor: User, limit: int = 30) -> list[BackupRun]:
    """The latest backups and restores, newest first."""
    policy.require(actor, "backups.read")
    return list(db.session.scalars(select(BackupRun).order_by(BackupRun.started_at.desc(),
                                                              BackupRun.id.desc()).limit(limit)))


def last_good_backup() -> BackupRun | None:
    return db.session.scalars(select(BackupRun).where(BackupRun.kind == "backup", BackupRun.ok)
                              .order_by(BackupRun.finished_at.desc()).limit(1)).first()


def overdue(actor: User, now: datetime | None = None) -> dict | None:
    """For the admin's warning: None while the last good backup is recent enough,
    else {"last": that run or None, "hours": the limit}."""
    if not policy.can(actor, "backups.read"):
        return None
    hours = int(current_app.config.get("BACKUP_WARN_AFTER_HOURS") or 48)
    last = last_good_backup()
    if last is not None and last.finished_at >= (now or utcnow()) - timedelta(hours=hours):
        return None
    return {"last": last, "hours": hours}
