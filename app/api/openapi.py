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
