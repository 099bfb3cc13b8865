"""Goods: products, donors, donations (goods, cash and the purchases made
with it), stock, lots, write-offs, transfers, stocktakes and the trace."""
from datetime import date
from typing import Annotated, ClassVar, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.api.fields import (CHECK_DIGIT_RULE, GTIN_PATTERN, WHOLE_ONLY, Anything, Barcode,
                            Check, Choice, Flag, Id, Money, OptionalDay, OptionalText,
                            OptionalWhole, QueryId, Text, Whole, refused_when)
from app.api.schemas.common import (Date, Moment, PageQuery, UncountedPageQuery, list_of,
                                    page_of)
from app.api.spec import Body, Schema, gate_errors
from app.models import (DONATION_KINDS, DONOR_KINDS, STOCKTAKE_STATUSES, WRITEOFF_REASONS)
from app.services.goods import donations, products, stocktakes, transfers, writeoffs
from app.services.people.regions import active_flag
from app.services.validate import MAX_ID

UNKNOWN_PRODUCT = _l("Unknown product.")
PRODUCT_RULE = "no product has this id"
ACTIVE_PRODUCT_RULE = "no product has this id, or the product is retired"


def ProductRef(rule: str = PRODUCT_RULE):
    """A product named in a body (products.product_ref): unknown is a 422."""
    return Annotated[Id(invalid=UNKNOWN_PRODUCT), refused_when(rule)]


def Quantity():
    """Units (products.quantity): a whole number from 1."""
    def check(errors, data, field):
        return products.quantity(errors, data.get(field), field)
    return Annotated[int, Field(ge=1, le=products.MAX_QUANTITY), Check(check)]


def listed(*, empty, too_many=None, most: int | None = None, read: int | None = None,
           optional: bool = False):
    """A list field's own rule, before its items are read: a non-empty list
    of at most `most` items (`empty` and `too_many` are the service's words);
    items past `read` are not read at all. `optional`: anything empty (null,
    [], "", 0 ...) is no list, as stocktakes.start_stocktake reads it."""
    def check(value, info):
        if optional and not value:
            return None
        if not isinstance(value, list) or not value:
            raise PydanticCustomError("aixin", "refused", {"errors": {info.field_name: [empty]}})
        if most is not None and len(value) > most:
            raise PydanticCustomError("aixin", "refused", {"errors": {
                info.field_name: [too_many]}})
        return value[:read] if read is not None else value
    return BeforeValidator(check)


class Line(Schema):
    """A list item: anything but an object is refused as the service words it
    (`not_an_object`: the field and message), or read as an empty object."""
    not_an_object: ClassVar[tuple | None] = None

    @model_validator(mode="before")
    @classmethod
    def _object(cls, value):
        if isinstance(value, dict):
            return value
        if cls.not_an_object is None:
            return {}
        field, message = cls.not_an_object
        raise PydanticCustomError("aixin_model", "refused", {"errors": {field: [message]}})


def line_summaries(errors: dict[str, list]) -> dict[str, list]:
    """donations._lines also sums each line's errors up under `lines`."""
    for key in [k for k in errors if k.startswith("lines.")]:
        parts = key.split(".")
        if len(parts) == 3 and parts[1].isdigit():
            for message in errors[key]:
                errors.setdefault("lines", []).append(
                    _l("Line %(n)d: %(message)s", n=int(parts[1]) + 1, message=message))
    return errors


# -- products ----------------------------------------------------------------------------

ProductName = Annotated[Text(products.NAME_MAX), refused_when(
    "another product already has this name")]
Unit = Text(products.UNIT_MAX)
PointsPrice = Whole(1, products.MAX_PRICE)
Category = OptionalText(products.CATEGORY_MAX)
Threshold = Annotated[OptionalWhole(0, products.MAX_QUANTITY), Field(
    description=f"Low stock at or below this; {products.DEFAULT_THRESHOLD} when left out.")]


class ProductIn(Schema):
    name: ProductName
    unit: Unit
    points_price: PointsPrice
    category: Category = None
    barcode: Barcode() = None
    low_stock_threshold: Threshold = None


class ProductPatch(Schema):
    """Any of a product's fields; those left out stay as they are."""
    name: ProductName = None
    unit: Unit = None
    points_price: PointsPrice = None
    category: Category = None
    barcode: Barcode() = None
    low_stock_threshold: Threshold = None


class ProductOut(Body):
    id: int
    name: str
    unit: str
    points_price: int
    barcode: str | None
    category: str | None
    active: bool
    low_stock_threshold: int


ProductPage = page_of(ProductOut, "ProductPage")


def _barcode_query(errors, data, field):
    """products.search_products: "" is no barcode; anything else must be one."""
    raw = data.get(field)
    if not raw:
        return None
    value = products.barcode(errors, {field: raw}, field)
    if value is None and not errors:
        errors.add(field, products.BARCODE_FORMAT)
    return value


class ProductQuery(PageQuery):
    barcode: Annotated[str | None, Field(pattern=GTIN_PATTERN, description=(
        "Finds the product with this GTIN (EAN-8, UPC-A, EAN-13 or GTIN-14), in whichever of "
        "its forms the scanner sends it.")), refused_when(CHECK_DIGIT_RULE, format="gtin"),
                       Check(_barcode_query)] = None
    q: Anything({"type": "string"}) = None
    active: Flag() = None
    category: Anything({"type": "string"}) = None


# -- donors ------------------------------------------------------------------------------

def _consent(errors, data, field):
    """donations.validate_donor: JSON true or false; absent is false."""
    if data.get(field) is None:
        return False
    return active_flag(errors, data, field)


class DonorIn(Schema):
    name: Text(donations.DONOR_NAME_MAX)
    kind: Choice(DONOR_KINDS)
    contact: OptionalText(donations.CONTACT_MAX) = None
    named_in_public: Annotated[bool, Check(_consent), Field(description=(
        "The donor's consent to be named on public pages (the donation board, the public "
        "trace); false or absent: shown as 爱心企业 or 爱心人士."))] = False


class DonorOut(Body):
    id: int
    name: str
    kind: Literal[tuple(DONOR_KINDS)]
    contact: str | None
    named_in_public: bool


DonorPage = page_of(DonorOut, "DonorPage")


class DonorQuery(PageQuery):
    q: Anything({"type": "string"}) = None
    kind: Anything({"enum": list(DONOR_KINDS)}) = None


# -- donations -----------------------------------------------------------------------------

RECEIVED_RULE = "the date is in the future, or before 2000-01-01"


def _donor_id(errors, data, field):
    """donations._donor_from: an id, when given, names a donor; else `donor` describes a new one."""
    raw = data.get(field)
    if raw not in (None, "") and donations.as_id(raw) is None:
        errors.add(field, _l("Unknown donor."))
    return raw


class DonorChoice(Schema):
    """Who gave: `donor_id`, or a new donor under `donor`."""
    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["donor_id"]}, {"required": ["donor"]}]})

    donor_id: Annotated[int, Field(ge=1, le=MAX_ID, json_schema_extra=WHOLE_ONLY),
                        refused_when("no donor has this id"), Check(_donor_id)] = None
    donor: Annotated[DonorIn, Field(description="A new donor, when `donor_id` is not given."),
                     Check(lambda errors, data, field: data.get(field))] = None

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        if data.get("donor_id") not in (None, ""):
            return {}
        new = data.get("donor")
        if isinstance(new, dict):
            return {f"donor.{field}": messages
                    for field, messages in gate_errors(DonorIn, new).items()}
        return {"donor_id": [_l("Choose the donor.")]}


def BestBefore():
    """A line's best-before date (donations.best_before), or none."""
    def check(errors, data, field):
        return donations.best_before(errors, data, field)
    return Annotated[date | None, Field(description=(
        "保质期至: the lot made from the line carries it; lots are taken expiring-first.")),
        refused_when(f"the date is before 2000-01-01 or more than {donations.BEST_BEFORE_YEARS} "
                     "years ahead"), Check(check)]


class DonationLineIn(Line):
    not_an_object = ("product_id", _l("Each line is an object with product_id and quantity."))

    product_id: ProductRef(ACTIVE_PRODUCT_RULE)
    quantity: Quantity()
    unit_value: Money(required=False, positive=False) = None
    best_before: BestBefore() = None


class DonationIn(DonorChoice):
    """Donated goods received at a supermarket: each line becomes a lot."""
    supermarket_id: Annotated[Id(), Field(description="Where the user may receive (else 404).")]
    received_on: OptionalDay(RECEIVED_RULE) = None
    note: OptionalText(donations.NOTE_MAX) = None
    lines: Annotated[list[DonationLineIn], Field(min_length=1, max_length=donations.MAX_LINES),
                     refused_when("a line names an unknown or retired product (also "
                                  "under lines.<n>.product_id)"),
                     listed(empty=_l("Add at least one line."), most=donations.MAX_LINES,
                            too_many=_l("At most %(n)d lines at once.", n=donations.MAX_LINES))]

    @classmethod
    def problem_errors(cls, errors):
        return line_summaries(errors)


class CashIn(DonorChoice):
    """Money given to a supermarket; goods bought with it are purchases."""
    supermarket_id: Annotated[Id(), Field(description="Where the user may receive (else 404).")]
    received_on: OptionalDay(RECEIVED_RULE) = None
    amount: Money(required=True, positive=True)
    note: OptionalText(donations.NOTE_MAX) = None


class PurchaseLineIn(Line):
    not_an_object = ("product_id", _l("Each line is an object with product_id and quantity."))

    product_id: ProductRef(ACTIVE_PRODUCT_RULE)
    quantity: Quantity()
    unit_value: Money(required=True, positive=True)
    best_before: BestBefore() = None


class PurchaseIn(Schema):
    """Goods bought with a cash donation; never more than the money left."""
    supermarket_id: Annotated[Id(optional=True), Field(
        description="The donation's supermarket when left out.")] = None
    purchased_on: OptionalDay(
        "the date is in the future, before 2000-01-01, or before the donation was received") = None
    supplier: OptionalText(donations.SUPPLIER_MAX) = None
    note: OptionalText(donations.NOTE_MAX) = None
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=donations.MAX_LINES),
                     refused_when("the goods cost more than is left of the donation, or a line "
                                  "names an unknown or retired product"),
                     listed(empty=_l("Add at least one line."), most=donations.MAX_LINES,
                            too_many=_l("At most %(n)d lines at once.", n=donations.MAX_LINES))]

    @classmethod
    def problem_errors(cls, errors):
        return line_summaries(errors)


class DonationLineOut(Body):
    id: int
    product_id: int
    quantity: int
    unit_value: float | None = Field(description="Yuan a unit, if known.")
    best_before: Date | None
    purchase_id: int | None


class DonationOut(Body):
    """A donation; a cash donation also has `amount` and `spent` (yuan)."""
    id: int
    kind: Literal[tuple(DONATION_KINDS)]
    receipt_no: str
    donor_id: int
    donor: str = Field(description="The donor's name.")
    supermarket_id: int
    received_on: Date
    note: str | None
    created_at: Moment
    lines: list[DonationLineOut]
    amount: float = None
    spent: float = None


DonationPage = page_of(DonationOut, "DonationPage")


class DonationQuery(PageQuery):
    supermarket_id: QueryId() = None
    donor_id: QueryId() = None
    kind: Anything({"enum": list(DONATION_KINDS)}) = None


class PurchaseLineOut(Body):
    id: int
    product_id: int
    quantity: int
    unit_value: float | None
    best_before: Date | None


class PurchaseOut(Body):
    id: int
    donation_id: int
    supermarket_id: int
    purchased_on: Date
    supplier: str | None
    note: str | None
    lines: list[PurchaseLineOut]


# -- the trace -----------------------------------------------------------------------------

class TraceVillage(Body):
    id: int
    name: str
    quantity: int


class TraceMonth(Body):
    month: str = Field(description="YYYY-MM", pattern=r"^\d{4}-\d{2}$")
    redeemed: int


class TraceSums(Body):
    remaining: int
    redeemed: int
    written_off: int
    transferred: int
    households: int = Field(description="Distinct households that redeemed; never who.")
    villages: list[TraceVillage]
    first_redeemed_on: Date | None = Field(description=(
        "The local day of the first redemption still standing (a voided checkout's "
        "units no more); null before any."))
    last_redeemed_on: Date | None
    months: list[TraceMonth] = Field(description="Units redeemed per local month, oldest first.")


class TraceTotals(Body):
    quantity: int
    redeemed: int
    written_off: int
    remaining: int
    transferred: int
    households: int
    villages: int
    first_redeemed_on: Date | None
    last_redeemed_on: Date | None


class TraceDonor(Body):
    id: int
    name: str
    kind: Literal[tuple(DONOR_KINDS)]


class TraceSupermarket(Body):
    id: int
    name: str


class DonationTraceLine(TraceSums):
    id: int
    product_id: int
    name: str
    unit: str
    quantity: int
    purchase_id: int | None


class DonationTrace(Body):
    """Where a donation's goods went, line by line."""
    id: int
    receipt_no: str
    kind: Literal[tuple(DONATION_KINDS)]
    public_code: str | None = Field(description=(
        "The random code of the public trace (GET /public/trace/{public_code}), "
        "printed as a QR code on the receipt."))
    received_on: Date
    donor: TraceDonor
    supermarket: TraceSupermarket
    lines: list[DonationTraceLine]
    totals: TraceTotals
    villages: list[TraceVillage]
    months: list[TraceMonth]
    first_redeemed_on: Date | None
    last_redeemed_on: Date | None
    amount: float = None
    spent: float = None


class DonorTraceLine(TraceSums):
    product_id: int
    name: str
    unit: str
    quantity: int


class DonorCash(Body):
    donations: int
    amount: float
    spent: float


class DonorTrace(Body):
    """The same, per product, over all of a donor's donations the user may see."""
    id: int
    donor: TraceDonor
    donations: int
    cash: DonorCash
    lines: list[DonorTraceLine]
    totals: TraceTotals
    villages: list[TraceVillage]
    months: list[TraceMonth]
    first_redeemed_on: Date | None
    last_redeemed_on: Date | None


# -- stock ---------------------------------------------------------------------------------

class StockQuery(PageQuery):
    low: Annotated[Flag(), Field(description="Only products at or below their threshold.")] = None
    q: Anything({"type": "string"}) = None


class StockItem(Body):
    product_id: int
    name: str
    quantity: int
    unit: str
    category: str | None
    barcode: str | None
    points_price: int
    low_stock_threshold: int
    low: bool
    active: bool


StockPage = page_of(StockItem, "StockPage")


class LotQuery(PageQuery):
    product_id: QueryId() = None
    remaining: Annotated[Flag(), Field(description="Only lots with units left.")] = None


class LotOut(Body):
    id: int
    supermarket_id: int
    product_id: int
    donor_id: int | None
    donation_line_id: int | None
    source_lot_id: int | None
    transfer_id: int | None
    stocktake_id: int | None
    quantity: int
    remaining: int
    redeemed: int
    written_off: int
    transferred_out: int
    received_on: Date
    best_before: Date | None


LotPage = page_of(LotOut, "LotPage")


class WriteoffIn(Schema):
    """Units taken out of stock: from `lot_id` if given, otherwise from the
    lots that expire first, then the oldest."""
    product_id: ProductRef()
    quantity: Quantity()
    reason: Choice(WRITEOFF_REASONS)
    note: OptionalText(writeoffs.NOTE_MAX) = None
    lot_id: Annotated[Id(optional=True, invalid=writeoffs.NO_LOT), refused_when(
        "the lot is not one of this product at this supermarket; more than the lot holds "
        "is 409 insufficient-stock")] = None


class LotTaken(Body):
    lot_id: int
    quantity: int


class WriteoffOut(Body):
    id: int
    supermarket_id: int
    product_id: int
    quantity: int
    reason: Literal[tuple(WRITEOFF_REASONS)]
    note: str | None
    stocktake_id: int | None
    created_at: Moment
    lots: list[LotTaken]


WriteoffPage = page_of(WriteoffOut, "WriteoffPage")


class WriteoffQuery(UncountedPageQuery):
    """Write-offs, newest first."""


class TransferIn(Schema):
    """Units moved to another supermarket; each new lot names the lot it came from."""
    from_supermarket_id: Annotated[Id(), Field(description="Where the user keeps stock "
                                                          "(else 404).")]
    to_supermarket_id: Annotated[Id(), refused_when(
        "no supermarket has this id, or it is the sending one")]
    product_id: ProductRef()
    quantity: Quantity()
    note: OptionalText(transfers.NOTE_MAX) = None


class TransferLot(Body):
    lot_id: int
    source_lot_id: int | None
    donor_id: int | None
    quantity: int


class TransferOut(Body):
    id: int
    from_supermarket_id: int
    to_supermarket_id: int
    product_id: int
    quantity: int
    note: str | None
    created_at: Moment
    lots: list[TransferLot]


TransferList = list_of(TransferOut, "TransferList")


# -- stocktakes ----------------------------------------------------------------------------

class CountIn(Line):
    """What was counted of a product (anything but an object counts as an empty one)."""
    product_id: ProductRef()
    counted: Whole(0, stocktakes.MAX_COUNTED)


def counts_field(*, optional: bool):
    note = f"Counts past the first {stocktakes.MAX_COUNTS} are not read."
    rule = refused_when("a count names an unknown product (under counts.<n>.product_id)")
    listing = listed(empty=_l("Count at least one product."), read=stocktakes.MAX_COUNTS)
    if not optional:
        return Annotated[list[CountIn], Field(min_length=1, description=note), rule, listing]

    return Annotated[list[CountIn] | None, Field(description=note), rule,
                     listed(empty=_l("Count at least one product."), read=stocktakes.MAX_COUNTS,
                            optional=True)]


class StocktakeIn(Schema):
    """A new count at a supermarket (one open at a time), optionally with counts."""
    note: OptionalText(stocktakes.NOTE_MAX) = None
    counts: counts_field(optional=True) = None


class CountsIn(Schema):
    """Counts; a product counted again replaces its count. The expected stock
    is taken at this moment."""
    counts: counts_field(optional=False)


class NoteIn(Schema):
    note: OptionalText(stocktakes.NOTE_MAX) = None


class StocktakeLineOut(Body):
    product_id: int
    name: str
    expected: int
    counted: int
    difference: int


class StocktakeOut(Body):
    id: int
    supermarket_id: int
    status: Literal[tuple(STOCKTAKE_STATUSES)]
    note: str | None
    started_at: Moment | None
    submitted_at: Moment | None
    decided_at: Moment | None
    decision_note: str | None
    lines: list[StocktakeLineOut]


StocktakeList = list_of(StocktakeOut, "StocktakeList")

