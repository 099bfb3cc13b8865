"""Command line for safe keeping: flask backup [PATH], flask restore PATH."""
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services.errors import DomainError

PASSPHRASE_HELP = ("A file holding the encryption passphrase (else the AIXIN_BACKUP_PASSPHRASE "
                   "environment variable, else the file BACKUP_PASSPHRASE_FILE names).")


def _refused(what: str, err: DomainError) -> None:
    db.session.rollback()
    click.echo(f"{what} refused ({err.slug}): {err.detail}", err=True)
    raise SystemExit(1)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _commit(what: str) -> None:
    try:
        db.session.commit()
    except SQLAlchemyError as err:
        db.session.rollback()
        click.echo(f"{what} done, but its record could not be written: {err.__class__.__name__}",
                   err=True)
        raise SystemExit(1)


@click.command("backup")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep-daily", type=click.IntRange(min=0), default=None,
              help="Daily copies to keep (default BACKUP_KEEP_DAILY, 7).")
@click.option("--keep-monthly", type=click.IntRange(min=0), default=None,
              help="Monthly copies to keep (default BACKUP_KEEP_MONTHLY, 12).")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), help=PASSPHRASE_HELP)
def backup_command(folder, keep_daily, keep_monthly, passphrase_file):
    """Copy the live database into FOLDER (default BACKUP_DIR, else <instance>/backups)
    without stopping it, encrypt the copy when a passphrase is given, verify it (open
    it and run the ledger check on it) and delete copies older than the daily and
    monthly ones kept. Exits 1 when the copy fails or does not verify."""
    from app.services.safekeeping import backups

    try:
        passphrase = backups.read_passphrase(passphrase_file)
        outcome = backups.make_backup(None, folder, passphrase=passphrase, keep_daily=keep_daily,
                                      keep_monthly=keep_monthly)
    except DomainError as err:
        _refused("backup", err)
    _commit("backup")
    click.echo(f"backup: {outcome.path}")
    sealed = "encrypted" if outcome.encrypted else "not encrypted"
    click.echo(f"  {_size(outcome.size)}, {outcome.seconds:.1f} s (copied in {outcome.copy_seconds:.1f} s, "
               f"then verified), {sealed}")
    click.echo(f"  {outcome.message}")
    for name in outcome.deleted:
        click.echo(f"  deleted older copy {name}")
    if not outcome.ok:
        click.echo("backup FAILED: the copy did not verify (kept as *.failed, older copies left alone)",
                   err=True)
        raise SystemExit(1)


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), help=PASSPHRASE_HELP)
@click.option("--yes", is_flag=True, help="Replace a database that holds data without asking.")
@click.option("--force", is_flag=True,
              help="Restore even over a database written after the backup was taken.")
def restore_command(path, passphrase_file, yes, force):
    """Put the backup at PATH back into the configured database (stop the server
    first), decrypting it when needed, then run the ledger check on it."""
    from app.services.safekeeping import backups, encryption

    try:
        passphrase = backups.read_passphrase(passphrase_file)
        if passphrase is None and path.is_file() and encryption.is_sealed(path) and sys.stdin.isatty():
            passphrase = click.prompt("Backup passphrase", hide_input=True)
        state = backups.target_state()
        if not state.empty and not yes:
            if not sys.stdin.isatty():
                raise backups.DatabaseNotEmpty()
            click.confirm("The database holds data. Replace it with this backup?", abort=True)
        outcome = backups.restore_backup(None, path, passphrase=passphrase, replace=True, force=force)
    except DomainError as err:
        _refused("restore", err)
    _commit("restore")
    click.echo(f"restored: {outcome.path} ({_size(outcome.size)}, {outcome.seconds:.1f} s)")
    click.echo(f"  {outcome.message}")
    if not outcome.ok:
        click.echo("restore done, but the ledger check did not pass", err=True)
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
