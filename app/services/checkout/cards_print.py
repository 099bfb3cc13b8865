"""Which cards go on a village's sheet."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Card, Household, User
from app.services.errors import NotFound, ValidationError
from app.services.people.scope import get_region, require_role


def village_cards(actor: User, village_id) -> tuple:
    """The village and its households' current cards, in household-code order."""
    require_role(actor, "admin", "staff", "cadre")
    if village_id in (None, ""):
        raise ValidationError({"village_id": [_l("This field is required.")]})
    try:
        village = get_region(actor, int(village_id))
    except (TypeError, ValueError):
        raise ValidationError({"village_id": [_l("Must be a whole number.")]})
    if village.level != "village":
        raise NotFound()
    cards = db.session.scalars(
        select(Card).join(Household, Card.household_id == Household.id)
        .where(Household.village_id == village.id, Household.status == "active",
               Card.status == "active")
        .order_by(Household.code)
    ).all()
    return village, cards
