"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of the whole API.
A test checks that every route under /api/v1 appears here."""
from app.api import bp

PROBLEM = {"$ref": "#/components/responses/Problem"}


def _op(summary: str, *, tag: str, body: dict | None = None, ok: int = 200,
        params: list | None = None, auth: bool = True, ok_schema: dict | None = None) -> dict:
    op = {"summary": summary, "tags": [tag], "responses": {
        str(ok): {"description": "OK", **({"content": {"application/json": {"schema": ok_schema}}} if ok_schema else {})},
        "default": PROBLEM,
    }}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if not auth:
        op["security"] = []
    return op


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


def _q(name: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema or {"type": "string"}}


def _p(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


S = {"type": "string"}
I = {"type": "integer"}
PAGE = [_q("page", I), _q("per_page", I)]

PATHS = {
    "/auth/token": {
        "post": _op("Log in: a bearer token", tag="auth", ok=201, auth=False,
                    body=_obj(["username", "password"], username=S, password=S)),
        "delete": _op("Log out: revoke this token", tag="auth", ok=204),
    },
    "/regions": {
        "get": _op("The region tree the user can see", tag="places"),
        "post": _op("Add a region (admin)", tag="places", ok=201,
                    body=_obj(["name", "level"], name=S, parent_id={"type": ["integer", "null"]},
                              level={"enum": ["province", "city", "county", "township", "village"]})),
    },
    "/supermarkets": {
        "get": _op("Supermarkets the user can see", tag="places"),
        "post": _op("Add a supermarket (admin)", tag="places", ok=201,
                    body=_obj(["name", "region_id"], name=S, region_id=I)),
    },
    "/users": {
        "post": _op("Create an account (admin)", tag="places", ok=201,
                    body=_obj(["username", "password", "role"], username=S,
                              password={"type": "string", "minLength": 10},
                              role={"enum": ["admin", "cadre", "staff", "volunteer", "donor"]},
                              region_id=I, supermarket_ids={"type": "array", "items": I},
                              donor_id=I)),
    },
    "/households": {
        "get": _op("Search the register (paginated)", tag="households",
                   params=[_q("village_id", I), _q("q"), _q("status"), *PAGE]),
        "post": _op("Add a household (staff, admin)", tag="households", ok=201,
                    body=_obj(["village_id", "head_name"], village_id=I,
                              head_name={"type": "string", "minLength": 1, "maxLength": 50},
                              members={"type": "integer", "minimum": 1, "maximum": 30},
                              phone={"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
                              address=S, tags={"type": "array", "items": S})),
    },
    "/households/{household_id}": {
        "get": _op("One household", tag="households", params=[_p("household_id")]),
        "patch": _op("Edit a household (staff, admin); never its points", tag="households",
                     params=[_p("household_id")],
                     body=_obj([], head_name=S, members=I, phone=S, address=S,
                               tags={"type": "array", "items": S},
                               status={"enum": ["active", "exited"]})),
    },
    "/households/{household_id}/cards": {
        "post": _op("Issue a card; any earlier card of the household is revoked (staff, admin)",
                    tag="cards", ok=201, params=[_p("household_id")]),
    },
    "/households/{household_id}/card.png": {
        "get": _op("The printable card image (PNG)", tag="cards", params=[_p("household_id")]),
    },
    "/cards/sheet.pdf": {
        "get": _op("A4 sheet of a village's current cards, with cut marks", tag="cards",
                   params=[_q("village_id", I, required=True)]),
    },
    "/cards/resolve": {
        "get": _op("What a scan gives the counter", tag="cards",
                   params=[_q("payload"), _q("number")]),
        "post": _op("The same, without the payload in the URL", tag="cards",
                    body=_obj([], payload=S, number=S)),
    },
    "/openapi.json": {
        "get": _op("This document", tag="meta", auth=False),
    },
}


# Points (issue 3).
DATE = {"type": "string", "format": "date"}
REASON = _obj(["reason"], reason={"type": "string", "minLength": 1, "maxLength": 500})
ENTRY = _obj(
    ["id", "kind", "points", "status", "rule_code", "note", "occurred_on", "created_at",
     "reversal_of"],
    id=I, household_id=I, points=I, rule_code={"type": ["string", "null"]},
    kind={"enum": ["award", "deduction", "redemption", "reversal", "expiry", "adjustment"]},
    status={"enum": ["pending", "disputed", "posted", "cancelled"]},
    note={"type": ["string", "null"]}, occurred_on=DATE,
    created_at={"type": "string", "format": "date-time"},
    reversal_of={"type": ["integer", "null"]}, reversed_by={"type": ["integer", "null"]},
    notice_ends_at={"type": ["string", "null"], "format": "date-time"},
    needs_approval={"type": "boolean"}, evidence_id={"type": ["integer", "null"]},
)
RULE_BODY = _obj(["code", "category", "name", "points"], code=S, category=S, name=S,
                 points={"type": "integer", "not": {"const": 0}}, unit=S,
                 cap_per_month={"type": ["integer", "null"], "minimum": 1},
                 needs_evidence={"type": "boolean"})
AWARD_JSON = _obj(["household_ids", "rule_code", "occurred_on"],
                  household_ids={"type": "array", "items": I, "minItems": 1},
                  rule_code=S, occurred_on=DATE, note=S)
AWARD_FORM = _obj(["household_ids", "rule_code", "occurred_on"],
                  household_ids={"type": "array", "items": S}, rule_code=S, occurred_on=DATE,
                  note=S, evidence={"type": "string", "contentMediaType": "image/*"})
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
ENTRY_ID = [_p("entry_id"), IDEMPOTENCY]


def _award_op() -> dict:
    op = _op("Award or deduct a rule's points to households, all or none (staff, admin)",
             tag="points", ok=201, params=[IDEMPOTENCY],
             ok_schema=_obj(["items"], items={"type": "array", "items": ENTRY}))
    op["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": AWARD_JSON},
        "multipart/form-data": {"schema": AWARD_FORM},
    }}
    return op


PATHS.update({
    "/rules": {
        "get": _op("The rule catalogue (newest version of each code)", tag="points"),
        "post": _op("Add a rule, or a new version of a code (admin)", tag="points", ok=201,
                    body=RULE_BODY),
    },
    "/rules/{code}/retire": {
        "post": _op("Retire a rule: it can no longer be awarded (admin)", tag="points",
                    params=[{"name": "code", "in": "path", "required": True, "schema": S}]),
    },
    "/awards": {"post": _award_op()},
    "/entries/{entry_id}/objection": {
        "post": _op("Object to an entry on public notice", tag="points", body=REASON,
                    params=ENTRY_ID, ok_schema=ENTRY),
    },
    "/entries/{entry_id}/approve": {
        "post": _op("Uphold a disputed entry or approve a large award (cadre, admin)",
                    tag="points", params=ENTRY_ID, ok_schema=ENTRY),
    },
    "/entries/{entry_id}/reject": {
        "post": _op("Cancel a disputed entry or refuse an approval (cadre, admin)",
                    tag="points", body=REASON, params=ENTRY_ID, ok_schema=ENTRY),
    },
    "/entries/{entry_id}/reverse": {
        "post": _op("Reverse a posted entry, once (cadre, admin)", tag="points", ok=201,
                    body=REASON, params=ENTRY_ID, ok_schema=ENTRY),
    },
    "/households/{household_id}/ledger": {
        "get": _op("A household's entries, newest first (paginated)", tag="points",
                   params=[_p("household_id"), *PAGE]),
    },
    "/evidence/{evidence_id}": {
        "get": _op("An evidence photo (JPEG), for users who can see its household",
                   tag="points", params=[_p("evidence_id")]),
    },
})


# Goods, donations and stock (issue 4).
_GOODS_DATE = {"type": "string", "format": "date"}
_GOODS_IDEM = [{"name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200}}]
_QTY = {"type": "integer", "minimum": 1}
_MONEY = {"type": ["number", "string"], "description": "yuan, at most two decimals"}
_EAN13 = {"type": ["string", "null"], "pattern": "^[0-9]{13}$", "description": "EAN-13, check digit verified"}
PRODUCT = _obj(["id", "name", "unit", "points_price", "barcode", "category", "active"],
               id=I, name=S, unit=S, points_price=I, barcode=_EAN13,
               category={"type": ["string", "null"]}, active={"type": "boolean"},
               low_stock_threshold=I)
PRODUCT_BODY = _obj(["name", "unit", "points_price"],
                    name={"type": "string", "minLength": 1, "maxLength": 100},
                    unit={"type": "string", "minLength": 1, "maxLength": 20},
                    points_price={"type": "integer", "minimum": 1}, barcode=_EAN13,
                    category={"type": ["string", "null"]},
                    low_stock_threshold={"type": "integer", "minimum": 0})
DONOR_BODY = _obj(["name", "kind"], name={"type": "string", "minLength": 1, "maxLength": 100},
                  kind={"enum": ["company", "person", "organisation"]}, contact=S)
_NEW_DONOR = {"description": "instead of donor_id: a new donor", **DONOR_BODY}
_LINE = _obj(["product_id", "quantity"], product_id=I, quantity=_QTY, unit_value=_MONEY)
DONATION_BODY = _obj(["donor_id", "supermarket_id", "lines"], donor_id=I, donor=_NEW_DONOR,
                     supermarket_id=I, received_on=_GOODS_DATE, note=S,
                     lines={"type": "array", "minItems": 1, "items": _LINE})
DONATION = _obj(["id", "lines"], id=I, kind={"enum": ["goods", "cash"]}, receipt_no=S,
                donor_id=I, supermarket_id=I, received_on=_GOODS_DATE,
                lines={"type": "array", "items": _obj(["id", "product_id", "quantity"], id=I,
                                                      product_id=I, quantity=I)})
CASH_BODY = _obj(["donor_id", "supermarket_id", "amount"], donor_id=I, donor=_NEW_DONOR,
                 supermarket_id=I, received_on=_GOODS_DATE, amount=_MONEY, note=S)
PURCHASE_BODY = _obj(["lines"], supermarket_id=I, purchased_on=_GOODS_DATE, supplier=S, note=S,
                     lines={"type": "array", "minItems": 1, "items": _obj(
                         ["product_id", "quantity", "unit_value"], product_id=I, quantity=_QTY,
                         unit_value=_MONEY)})
_TRACE_LINE = _obj(["product_id", "quantity", "redeemed", "written_off", "remaining",
                    "households", "villages"],
                   product_id=I, quantity=I, redeemed=I, written_off=I, remaining=I,
                   transferred=I, households=I,
                   villages={"type": "array", "items": _obj(["id", "name", "quantity"],
                                                            id=I, name=S, quantity=I)})
TRACE = _obj(["id", "donor", "lines"], id=I, donor=_obj(["id", "name", "kind"], id=I, name=S, kind=S),
             lines={"type": "array", "items": _TRACE_LINE})
WRITEOFF_BODY = _obj(["product_id", "quantity", "reason"], product_id=I, quantity=_QTY,
                     reason={"enum": ["damaged", "expired", "lost", "count"]}, note=S)
TRANSFER_BODY = _obj(["from_supermarket_id", "to_supermarket_id", "product_id", "quantity"],
                     from_supermarket_id=I, to_supermarket_id=I, product_id=I, quantity=_QTY,
                     note=S)
COUNTS_BODY = _obj(["counts"], counts={"type": "array", "minItems": 1, "items": _obj(
    ["product_id", "counted"], product_id=I, counted={"type": "integer", "minimum": 0})})
NOTE_BODY = _obj([], note=S)
_SM = _p("supermarket_id")
_ST = _p("stocktake_id")

PATHS.update({
    "/products": {
        "get": _op("Products; ?barcode= finds one by its EAN-13 (a bad check digit is 422)",
                   tag="goods", params=[_q("barcode"), _q("q"), _q("active", {"type": "boolean"}),
                                        _q("category"), *PAGE],
                   ok_schema=_obj(["items"], items={"type": "array", "items": PRODUCT})),
        "post": _op("Add a product (admin)", tag="goods", ok=201, body=PRODUCT_BODY,
                    params=_GOODS_IDEM, ok_schema=PRODUCT),
    },
    "/products/{product_id}": {
        "get": _op("One product", tag="goods", params=[_p("product_id")], ok_schema=PRODUCT),
        "patch": _op("Edit a product (admin)", tag="goods", params=[_p("product_id"), *_GOODS_IDEM],
                     body=_obj([], **PRODUCT_BODY["properties"]), ok_schema=PRODUCT),
    },
    "/products/{product_id}/retire": {
        "post": _op("Retire a product: no new donations of it (admin)", tag="goods",
                    params=[_p("product_id"), *_GOODS_IDEM], ok_schema=PRODUCT),
    },
    "/products/{product_id}/reactivate": {
        "post": _op("Bring a retired product back (admin)", tag="goods",
                    params=[_p("product_id"), *_GOODS_IDEM], ok_schema=PRODUCT),
    },
    "/donors": {
        "get": _op("Donors (a donor account sees itself)", tag="goods",
                   params=[_q("q"), _q("kind"), *PAGE]),
        "post": _op("Add a donor (volunteer, admin)", tag="goods", ok=201, body=DONOR_BODY,
                    params=_GOODS_IDEM),
    },
    "/donors/{donor_id}": {
        "get": _op("One donor", tag="goods", params=[_p("donor_id")]),
    },
    "/donors/{donor_id}/trace": {
        "get": _op("Where all of a donor's goods went, per product; households only counted",
                   tag="goods", params=[_p("donor_id")], ok_schema=TRACE),
    },
    "/donations": {
        "get": _op("Donations the user may see (paginated)", tag="goods",
                   params=[_q("supermarket_id", I), _q("donor_id", I), _q("kind"), *PAGE]),
        "post": _op("Receive donated goods at a supermarket: each line becomes a lot "
                    "(volunteer there, admin)", tag="goods", ok=201, body=DONATION_BODY,
                    params=_GOODS_IDEM, ok_schema=DONATION),
    },
    "/cash-donations": {
        "post": _op("Record a cash donation (volunteer there, admin)", tag="goods", ok=201,
                    body=CASH_BODY, params=_GOODS_IDEM, ok_schema=DONATION),
    },
    "/donations/{donation_id}": {
        "get": _op("One donation with its lines", tag="goods", params=[_p("donation_id")],
                   ok_schema=DONATION),
    },
    "/donations/{donation_id}/purchases": {
        "post": _op("Goods bought with a cash donation: lots of that donor; never more than "
                    "the money left (volunteer, admin)", tag="goods", ok=201, body=PURCHASE_BODY,
                    params=[_p("donation_id"), *_GOODS_IDEM]),
    },
    "/donations/{donation_id}/trace": {
        "get": _op("Where a donation's goods went, line by line; households only counted",
                   tag="goods", params=[_p("donation_id")], ok_schema=TRACE),
    },
    "/supermarkets/{supermarket_id}/stock": {
        "get": _op("Stock per product: the sum of its lots (paginated; ?low=true for low stock)",
                   tag="goods", params=[_SM, _q("low", {"type": "boolean"}), _q("q"), *PAGE],
                   ok_schema=_obj(["items"], items={"type": "array", "items": _obj(
                       ["product_id", "name", "quantity"], product_id=I, name=S, quantity=I,
                       low={"type": "boolean"})})),
    },
    "/supermarkets/{supermarket_id}/lots": {
        "get": _op("Lots at a supermarket, newest first (paginated)", tag="goods",
                   params=[_SM, _q("product_id", I), _q("remaining", {"type": "boolean"}), *PAGE]),
    },
    "/supermarkets/{supermarket_id}/stock/writeoffs": {
        "get": _op("Write-offs at a supermarket, newest first (paginated)", tag="goods",
                   params=[_SM, *PAGE]),
        "post": _op("Write off units from the oldest lots; more than the stock is "
                    "409 insufficient-stock (volunteer there, admin)", tag="goods", ok=201,
                    body=WRITEOFF_BODY, params=[_SM, *_GOODS_IDEM]),
    },
    "/supermarkets/{supermarket_id}/transfers": {
        "get": _op("Transfers to or from a supermarket, newest first", tag="goods", params=[_SM]),
    },
    "/transfers": {
        "post": _op("Move units to another supermarket; each new lot names its source lot "
                    "and donor (volunteer of the sending one, admin)", tag="goods", ok=201,
                    body=TRANSFER_BODY, params=_GOODS_IDEM),
    },
    "/transfers/{transfer_id}": {
        "get": _op("One transfer and the lots it made", tag="goods", params=[_p("transfer_id")]),
    },
    "/supermarkets/{supermarket_id}/stocktakes": {
        "get": _op("Stocktakes at a supermarket, newest first", tag="goods", params=[_SM]),
        "post": _op("Start a stocktake (one open at a time; volunteer there, admin)", tag="goods",
                    ok=201, body=_obj([], note=S, counts=COUNTS_BODY["properties"]["counts"]),
                    params=[_SM, *_GOODS_IDEM]),
    },
    "/stocktakes/{stocktake_id}": {
        "get": _op("A stocktake with its counts and differences", tag="goods", params=[_ST]),
    },
    "/stocktakes/{stocktake_id}/counts": {
        "post": _op("Record counts; the expected stock is taken now (volunteer, admin)",
                    tag="goods", body=COUNTS_BODY, params=[_ST, *_GOODS_IDEM]),
    },
    "/stocktakes/{stocktake_id}/submit": {
        "post": _op("Counting done: the differences wait for review (volunteer, admin)",
                    tag="goods", params=[_ST, *_GOODS_IDEM]),
    },
    "/stocktakes/{stocktake_id}/finalize": {
        "post": _op("Accept the differences: a shortage is written off (reason count), a surplus "
                    "becomes a lot from this stocktake (cadre, admin)", tag="goods",
                    body=NOTE_BODY, params=[_ST, *_GOODS_IDEM]),
    },
    "/stocktakes/{stocktake_id}/reopen": {
        "post": _op("Send a submitted stocktake back for a recount (cadre, admin)", tag="goods",
                    body=NOTE_BODY, params=[_ST, *_GOODS_IDEM]),
    },
    "/stocktakes/{stocktake_id}/cancel": {
        "post": _op("Drop a stocktake without changing stock", tag="goods", body=NOTE_BODY,
                    params=[_ST, *_GOODS_IDEM]),
    },
})


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Aixin 爱心超市积分系统 API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Problem": {
                "description": "RFC 9457 problem details",
                "content": {"application/problem+json": {"schema": _obj(
                    ["type", "title", "status"], type=S, title=S, status=I, detail=S,
                    errors={"type": "object", "additionalProperties": {"type": "array", "items": S}},
                )}},
            }},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return document()


# Checkout (issue 5).
_CART_LINE = _obj(["product_id", "quantity"], product_id=I, quantity={"type": "integer", "minimum": 1})
CHECKOUT_BODY = _obj(["supermarket_id", "lines"], supermarket_id=I, card_payload=S, card_number=S,
                     household_id=I, lines={"type": "array", "minItems": 1, "items": _CART_LINE})
CHECKOUT = _obj(["id", "household_id", "total_points", "balance_after", "lines"], id=I,
                household_id=I, supermarket_id=I, total_points=I, balance_after=I,
                lines={"type": "array", "items": _obj(["product_id", "quantity", "points"],
                                                      product_id=I, quantity=I, points=I)})
_IDEM = [{"name": "Idempotency-Key", "in": "header", "required": False,
          "schema": {"type": "string", "minLength": 1, "maxLength": 200}}]
PATHS.update({
    "/checkouts": {
        "get": _op("Recent checkouts at a supermarket", tag="checkout",
                   params=[_q("supermarket_id", I, required=True)]),
        "post": _op("Redeem a cart: points and stock in one act (volunteer there, admin); "
                    "refusals 409 insufficient-points/insufficient-stock, 410 card-revoked, "
                    "422 validation-error/household-inactive/limit-exceeded", tag="checkout",
                    ok=201, body=CHECKOUT_BODY, params=_IDEM, ok_schema=CHECKOUT),
    },
    "/checkouts/{checkout_id}": {
        "get": _op("One checkout", tag="checkout", params=[_p("checkout_id")], ok_schema=CHECKOUT),
    },
    "/checkouts/{checkout_id}/void": {
        "post": _op("Void: points and each unit come back through new entries (volunteer the "
                    "same day, cadre, admin); again is 409", tag="checkout",
                    params=[_p("checkout_id"), *_IDEM], body=_obj(["reason"], reason=S),
                    ok_schema=CHECKOUT),
    },
})
