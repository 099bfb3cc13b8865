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
