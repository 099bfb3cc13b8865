"""flask households anonymise: the privacy page's "all eligible", for cron or
a county with many households (app.services.people.privacy)."""
from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.errors import DomainError

households_cli = AppGroup("households", help="The household register.")


@households_cli.command("anonymise")
@click.option("--user", "username", required=True,
              help="The admin account the act is recorded under.")
@click.option("--exited-before", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only households that exited before this day (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="List the eligible households' codes; change nothing.")
def anonymise_command(username, exited_before, dry_run):
    """Anonymise every household past its retention period (RETENTION_YEARS_AFTER_EXIT
    after its exit date). Prints codes and counts, never names."""
    from app.services.people import privacy

    actor = db.session.scalars(select(User).where(User.username == username)).first()
    before: date | None = exited_before.date() if exited_before else None
    try:
        if dry_run:
            items, total = privacy.eligible_households(actor, per_page=10_000, exited_before=before)
            for hh in items:
                click.echo(f"{hh.code}\texited {hh.exited_on.isoformat()}")
            click.echo(f"{total} households eligible (nothing changed)")
            return
        done = 0
        while True:
            n, remaining = privacy.anonymise_eligible(actor, exited_before=before)
            db.session.commit()  # one batch at a time: a long run keeps what it has done
            done += n
            if not n or not remaining:
                break
    except DomainError as err:
        db.session.rollback()
        click.echo(f"refused: {err.detail}", err=True)
        raise SystemExit(1)
    click.echo(f"{done} households anonymised")


def init_app(app: Flask) -> None:
    app.cli.add_command(households_cli)
