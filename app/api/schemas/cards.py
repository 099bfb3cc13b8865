"""Member cards: issuing, printing, resolving a scan."""
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import ConfigDict, Field

from app.api.fields import REQUIRED, WHOLE, Anything, Check, refused_when
from app.api.schemas.common import Moment
from app.api.spec import Body, Schema
from app.models import CARD_STATUSES

CardStatus = Literal[tuple(CARD_STATUSES)]
NO_CODE = "neither payload nor number is given"


class CardOut(Body):
    number: str = Field(description="The short number printed on the card, for typing.")
    token: str = Field(description="The card's secret (at least 128 random bits). Shown here, when the "
                       "card is issued; the server keeps only its hash and the token sealed with the "
                       "card key.")
    qr_payload: str = Field(description="Exactly the text in the QR code: digits only.")
    issued_at: Moment
    household_id: int
    status: CardStatus


def _need_code(data: dict) -> dict[str, list]:
    """cards.resolve_card: a payload or a number."""
    if data.get("payload") is None and data.get("number") is None:
        return {"payload": [_l("Scan a card or type its number.")]}
    return {}


class ResolveQuery(Schema):
    """A scan (`payload`) or a typed card number (`number`, spaces allowed)."""
    payload: Annotated[Anything({"type": "string"}), refused_when(NO_CODE)] = None
    number: Anything({"type": "string"}) = None

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        return _need_code(data)


class ResolveIn(Schema):
    """The same as the query, kept out of URLs (and logs)."""
    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["payload"]}, {"required": ["number"]}]})

    payload: Anything({"type": "string"}) = None
    number: Anything({"type": "string"}) = None

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        return _need_code(data)


class ResolvedHousehold(Body):
    id: int
    head_name: str
    village: str
    village_id: int
    code: str
    balance: int
    status: Literal["active", "exited"]


class ResolvedCard(Body):
    number: str
    status: CardStatus


class ResolvedOut(Body):
    household: ResolvedHousehold
    card: ResolvedCard


def _village_id(errors, data, field):
    """cards.village_cards: any whole number (one naming no village in reach: 404)."""
    raw = data.get(field)
    if raw in (None, ""):
        errors.add(field, REQUIRED)
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        errors.add(field, WHOLE)
        return None


class SheetQuery(Schema):
    village_id: Annotated[int, Field(description="A village in the user's reach (else 404)."),
                          Check(_village_id)]


class VillageCardsQuery(Schema):
    reissue: Annotated[Literal["all"] | None, Field(description=(
        "`all`: revoke every current card of the village's active households and issue new "
        "ones; without it, only households with no current card get one."))] = None


class VillageCardsOut(Body):
    issued: int = Field(description="Cards issued by this request (0 when every active "
                                    "household already has one).")
    revoked: int = Field(description="Earlier cards revoked (only with `reissue=all`).")
