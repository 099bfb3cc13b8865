"""Command line: flask users ..., flask demo (flask households anonymise: app/privacy_cli.py)."""
import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db
from app.models import ROLES
from app.services.errors import ValidationError

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", help="Asked for when not given.")
@click.option("--region-id", type=int, help="Region of a staff or cadre account.")
@click.option("--supermarket-id", "supermarket_ids", type=int, multiple=True,
              help="Supermarket of a volunteer (repeatable).")
@click.option("--donor-id", type=int, help="Donor record of a donor account.")
def create_user_command(username, role, password, region_id, supermarket_ids, donor_id):
    """Create an account."""
    from app.services.people.accounts import create_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(None, {
            "username": username, "password": password, "role": role, "region_id": region_id,
            "supermarket_ids": list(supermarket_ids), "donor_id": donor_id,
        })
        db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        for field, messages in err.errors.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1)
    click.echo(f"created user {user.username} (id {user.id}, role {user.role})")


@click.command("demo")
@click.option("--households", default=300, show_default=True, help="Number of households.")
@click.option("--months", default=12, show_default=True, help="Months of history.")
@click.option("--reset", is_flag=True, help="Drop everything and start over.")
@click.option("--seed", default=2026, show_default=True, help="Random seed.")
@click.option("--save-logins", is_flag=True,
              help="Also keep the logins' passwords in a file in the instance folder (mode 0600); "
                   "without it they are printed once and kept nowhere.")
@click.option("--villages", type=click.IntRange(1, 5000), default=None,
              help="Generate a county of this many villages (e.g. --households 50000 --villages 300: "
                   "about two million ledger entries) instead of the small demo.")
def demo_command(households, months, reset, seed, villages, save_logins):
    """Build a demo county (only into an empty database) and print its logins."""
    from app.demo import build_demo

    build_demo(households=households, months=months, reset=reset, seed=seed, villages=villages,
               save_logins=save_logins, echo=click.echo)


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_command)
    from app.points_cli import init_app as init_points_cli; init_points_cli(app)  # noqa: E702
    from app.privacy_cli import init_app as init_privacy_cli; init_privacy_cli(app)  # noqa: E702
    from app.safekeeping_cli import init_app as init_safekeeping_cli; init_safekeeping_cli(app)  # noqa: E702
    from app.cards_cli import init_app as init_cards_cli; init_cards_cli(app)  # noqa: E702
    from app.translate_cli import translate_cli

    app.cli.add_command(translate_cli)
