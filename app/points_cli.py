"""Command line for points: flask points post-due | expire | load-rules |
import-rules | export-rules, and flask ledger check | purge-keys."""
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db
from app.services.errors import DomainError

points_cli = AppGroup("points", help="Points: posting, expiry and the rule catalogue.")
ledger_cli = AppGroup("ledger", help="Check the ledger's invariants.")


def _fail(err: DomainError) -> None:
    db.session.rollback()
    click.echo(str(err.detail), err=True)
    for field, messages in err.errors.items():
        for message in messages:
            click.echo(f"  {field}: {message}", err=True)
    raise SystemExit(1)


@points_cli.command("post-due")
def post_due_command():
    """Post every entry whose notice has ended (for cron, e.g. a minute past midnight)."""
    from app.services.ledger.writer import post_due

    count = post_due()
    db.session.commit()
    click.echo(f"posted {count} entries")


@points_cli.command("expire")
@click.option("--year", type=int, required=True, help="The year whose points are cleared.")
def expire_command(year):
    """Year-end clearing: expiry entries take what is left of YEAR's points to zero
    (only with POINTS_YEAR_END_EXPIRY on)."""
    from app.services.points.expiry import expire_year

    after, entries, total = 0, 0, 0
    try:
        while after is not None:
            after, made, points = expire_year(year, after_id=after)
            db.session.commit()
            entries += made
            total += points
    except DomainError as err:
        _fail(err)
    click.echo(f"expired {total} points of {year} in {entries} households")


@points_cli.command("load-rules")
def load_rules_command():
    """Add the default rule catalogue (codes already present are left alone)."""
    from app.services.points.rules import load_default_rules

    count = load_default_rules()
    db.session.commit()
    click.echo(f"added {count} rules")


@points_cli.command("import-rules")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_rules_command(path: Path):
    """Import a rule catalogue from a .csv or .xlsx file (all rows or none)."""
    from app.services.points.rules import import_rules

    try:
        summary = import_rules(None, path.name, path.read_bytes())
        db.session.commit()
    except DomainError as err:
        _fail(err)
    click.echo(", ".join(f"{k} {v}" for k, v in summary.items()))


@points_cli.command("export-rules")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_rules_command(path: Path):
    """Write the catalogue to PATH (.xlsx or .csv, by its suffix)."""
    from app.services.points.rules import export_rules

    content, _, _ = export_rules("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
    path.write_bytes(content)
    click.echo(f"wrote {path}")


@ledger_cli.command("check")
def check_command():
    """Verify the points invariants on this database; exit 1 if any is broken."""
    from app.services.invariants import check_invariants, summary

    violations = check_invariants()
    for v in violations:
        click.echo(f"invariant {v.invariant}: {v.message}")
    counts = summary()
    counted = ", ".join(f"{v} {k}" for k, v in counts.items())
    db.session.rollback()
    if violations:
        click.echo(f"ledger check: {len(violations)} violation(s) ({counted})")
        raise SystemExit(1)
    click.echo(f"ledger check: ok, no violations ({counted})")


@ledger_cli.command("rebuild-totals")
def rebuild_totals_command():
    """Recompute the totals the reports read (per household and month, per
    village and category, per author) and each household's last award and
    redemption days from the ledger, in one transaction. The ledger itself is
    not touched; `flask ledger check` says whether this is ever needed."""
    from app.services.ledger import totals

    written = totals.rebuild(db.session.connection())
    db.session.commit()
    click.echo("rebuilt: " + ", ".join(f"{n} {name}" for name, n in written.items()))


@ledger_cli.command("purge-keys")
def purge_keys_command():
    """Forget stored Idempotency-Key answers older than IDEMPOTENCY_KEEP_HOURS."""
    from app.api.idempotency import purge_keys

    count = purge_keys()
    db.session.commit()
    click.echo(f"purged {count} idempotency keys")


def init_app(app: Flask) -> None:
    app.cli.add_command(points_cli)
    app.cli.add_command(ledger_cli)
