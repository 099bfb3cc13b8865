"""Command line for cards: flask cards reseal."""
import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db

cards_cli = AppGroup("cards", help="Member cards and the card key.")


@cards_cli.command("reseal")
def reseal_command():
    """Seal every card's token again with the first card key: after putting a
    new key first in instance/card.key (or FLASK_CARD_KEY), the old ones after
    it; once done, the old keys may be dropped."""
    from app.services.checkout import card_key
    from app.services.checkout.cards import reseal_cards

    if not card_key.has_key():
        click.echo(f"no card key here ({card_key.key_file()} or FLASK_CARD_KEY): nothing to seal "
                   "with; nothing done", err=True)
        raise SystemExit(1)
    result = reseal_cards()
    db.session.commit()
    click.echo(f"resealed {result['resealed']} cards with the first card key")
    if result["unopened"]:
        click.echo(f"{result['unopened']} cards are sealed with a key this server does not have: "
                   "they still scan but cannot be printed again; keep their old key, or issue "
                   "those households new cards", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(cards_cli)
