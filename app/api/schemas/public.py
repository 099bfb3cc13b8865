"""What the public reads without logging in: a donation's trace by the code on its receipt."""
from typing import Literal

from pydantic import Field

from app.api.schemas.common import Date
from app.api.spec import Body
from app.models import DONATION_KINDS, DONOR_KINDS


class PublicVillage(Body):
    id: int | None = Field(description="null for the row 其他村: the villages where fewer than "
                                        "3 households redeemed, summed.")
    name: str
    quantity: int


class PublicMonth(Body):
    month: str = Field(description="YYYY-MM", pattern=r"^\d{4}-\d{2}$")
    redeemed: int


class PublicTraceLine(Body):
    product_id: int
    name: str
    unit: str
    quantity: int
    redeemed: int
    written_off: int
    remaining: int
    transferred: int
    households: int = Field(description="Distinct households that redeemed; never who.")
    first_redeemed_on: Date | None
    last_redeemed_on: Date | None
    bought_with_cash: bool
    villages: list[PublicVillage]
    months: list[PublicMonth] = Field(description="Units taken home per local month, oldest first.")


class PublicSupermarket(Body):
    id: int
    name: str


class PublicTotals(Body):
    quantity: int
    redeemed: int
    written_off: int
    remaining: int
    transferred: int
    households: int
    villages: int


class PublicTrace(Body):
    """A donation's trace as anyone holding its receipt sees it."""
    id: int
    public_code: str
    receipt_no: str
    kind: Literal[tuple(DONATION_KINDS)]
    received_on: Date
    donor: str = Field(description="The donor's name if they agreed to be named in public; "
                                   "otherwise 爱心企业 (a company or organisation) or 爱心人士 (a person).")
    donor_kind: Literal[tuple(DONOR_KINDS)]
    supermarket: PublicSupermarket
    lines: list[PublicTraceLine]
    totals: PublicTotals
    villages: list[PublicVillage]
    amount: float = None
    spent: float = None
