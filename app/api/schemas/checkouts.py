"""The checkout counter."""
from typing import Annotated

from flask_babel import lazy_gettext as _l
from pydantic import ConfigDict, Field

from app.api.fields import (QUERY_ID_MAX, REQUIRED, WHOLE_NOTE, WHOLE_ONLY, Anything, Check,
                            Id, OptionalText, Text, refused_when)
from app.api.schemas.common import Moment, list_of
from app.api.spec import Body, Schema
from app.services.checkout import checkouts
from app.services.validate import MAX_ID

CARD_FIELDS = ("card_payload", "card_number", "household_id")


class CartLine(Schema):
    """One line of a cart; the same product on two lines is merged."""
    product_id: int = Field(ge=1, le=MAX_ID, description=f"An active product. {WHOLE_NOTE}",
                            json_schema_extra=WHOLE_ONLY)
    quantity: int = Field(ge=1, le=checkouts.MAX_QUANTITY, description=WHOLE_NOTE,
                          json_schema_extra=WHOLE_ONLY)


class CheckoutIn(Schema):
    """A cart for a household: by its card (`card_payload` scanned, or
    `card_number` typed) or, without a card, by `household_id`."""
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": [field], "properties": {field: {"not": {"enum": [None, ""]}}}}
        for field in CARD_FIELDS]})

    supermarket_id: Annotated[Id(invalid=REQUIRED), Field(
        description="Where the user may sell (else 404).")]
    card_payload: Anything({"type": "string"}) = None
    card_number: Anything({"type": "string"}) = None
    household_id: Anything({"type": "integer", "minimum": 1}) = None
    no_card_reason: Annotated[OptionalText(checkouts.NO_CARD_REASON_MAX),
                              refused_when("the checkout names a card"), Field(description=(
        "Only with `household_id`: why the card is not here; `lost`, `elder` (an elder came "
        "without it), `at_home`, or any other text. Recorded on the checkout."))] = None
    passbook_pin: Annotated[Anything({"type": "string", "pattern": "^[0-9]{6}$"}),
                            refused_when("it is not the household's passbook PIN, the household has none, "
                                         "or the checkout names a card"), Field(description=(
        "Only with `household_id`: the household's 6-digit passbook PIN, checked (a wrong one "
        "is 422 with `errors.passbook_pin`; repeated failures are 429); the checkout is then "
        "recorded with the reason `pin`."))] = None
    lines: Annotated[list[CartLine], Field(min_length=1, max_length=checkouts.MAX_LINES),
                     refused_when("a line names an unknown or retired product"),
                     Check(lambda errors, data, field: checkouts.cart_lines(errors, data))]

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        if not any(data.get(k) not in (None, "") for k in CARD_FIELDS):
            return {"card_payload": [_l("Scan a card or type its number.")]}
        return {}


class CheckoutLineOut(Body):
    product_id: int
    name: str
    quantity: int
    unit_points: int
    points: int = Field(description="The line's total.")


class CheckoutOut(Body):
    id: int
    household_id: int
    supermarket_id: int
    total_points: int
    balance_after: int
    card_used: bool = Field(description="False for a checkout made by `household_id`, without a card.")
    no_card_reason: str | None = Field(description="Why no card was used, when given.")
    created_at: Moment
    voided_at: Moment | None
    lines: list[CheckoutLineOut]


CheckoutList = list_of(CheckoutOut, "CheckoutList")


class VoidIn(Schema):
    reason: Text(checkouts.REASON_MAX)


def _supermarket(errors, data, field):
    """GET /checkouts: required; an id naming no supermarket in reach is a 404."""
    if not data.get(field):
        errors.add(field, REQUIRED)
    return data.get(field)


class CheckoutsQuery(Schema):
    supermarket_id: Annotated[int, Field(ge=1, le=QUERY_ID_MAX, description=(
        "A supermarket in the user's reach (else 404).")), Check(_supermarket)]
