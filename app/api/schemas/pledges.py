"""Needs and pledges: what a supermarket is short of, and donors' pledges."""
from datetime import datetime
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from app.api.fields import Anything, Id, OptionalText, QueryId
from app.api.schemas.common import PageQuery, page_of
from app.api.schemas.goods import Line, ProductRef, Quantity, line_summaries, listed
from app.api.spec import Body, Schema
from app.models.pledges import PLEDGE_STATUSES
from app.services.goods import pledges


class NeedItem(Body):
    product_id: int
    name: str
    unit: str
    quantity: int = Field(description="Units left now.")
    redeemed_90_days: int = Field(description="Units redeemed here in the last 90 days, less voids.")
    status: Literal["out", "low"] = Field(description="out: none left; low: at or below the "
                                                      "product's low-stock threshold.")
    pledged: int = Field(description="Units that open pledges still promise.")


class NeedsOut(Body):
    """Most redeemed first."""
    supermarket: dict[str, int | str]
    items: list[NeedItem]


class PledgeLineIn(Line):
    not_an_object = ("product_id", _l("Each line is an object with product_id and quantity."))

    product_id: ProductRef("no product has this id, or the product is retired")
    quantity: Quantity()


class PledgeIn(Schema):
    """A donor's pledge of goods to a supermarket."""
    supermarket_id: Annotated[Id(), Field(description="An active supermarket (else 404).")]
    note: OptionalText(pledges.NOTE_MAX) = None
    lines: Annotated[list[PledgeLineIn], Field(min_length=1, max_length=pledges.MAX_LINES),
                     listed(empty=_l("Add at least one line."), most=pledges.MAX_LINES,
                            too_many=_l("At most %(n)d lines at once.", n=pledges.MAX_LINES))]

    @classmethod
    def problem_errors(cls, errors):
        return line_summaries(errors)


class PledgeLineOut(Body):
    product_id: int
    name: str
    unit: str
    quantity: int
    received: int


class PledgeOut(Body):
    id: int
    status: Literal[tuple(PLEDGE_STATUSES)]
    supermarket_id: int
    supermarket: str
    donor_id: int
    donor: str
    note: str | None
    created_at: datetime
    fulfilled_at: datetime | None
    cancelled_at: datetime | None
    lines: list[PledgeLineOut]


PledgePage = page_of(PledgeOut, "PledgePage")


class PledgeQuery(PageQuery):
    supermarket_id: QueryId() = None
    status: Anything({"enum": [*PLEDGE_STATUSES, "active"],
                      "description": "active: open and partial."}) = None
