"""The JSON API's schemas tied to its routes: the schema gate every request
passes before its handler, and the OpenAPI 3.1 document generated from the
same schemas (served by app.api.openapi).

A route says, in one `endpoint(...)` declaration, the act it performs (as
named in the policy table, app/services/people/policy.py), its request and
response schemas and the problems it may answer. A request then meets, in
the API contract's order: the bearer token (401), the act's roles (403), the schema
gate (422 validation-error, or 400 for a body that is not JSON), the
Idempotency-Key replay, and only then the handler and its service (404 and
the domain's refusals). The gate runs the services' own field checks (see
app.api.fields), so it refuses exactly what they would; the services keep
their checks, as the HTML pages call them too.

Why spectree (3.0) rather than flask-openapi3: spectree decorates plain
Flask views on our own Blueprint, takes pydantic v2 models, writes OpenAPI
3.1.0 with the models as components, and leaves request parsing and the
refusal to a backend plugin we subclass (`Plugin`), so the project keeps its
`json_body()` contract (any content type, 400 for malformed JSON, an empty
body is an empty object), its problem+json refusals rendered by
app/errors.py, and its refusal order. flask-openapi3 would replace the
Blueprint with its own, pass parsed models into every handler's signature
and answer refusals through its own callbacks. spectree's documentation
pages (Swagger UI, Redoc, Scalar) load their scripts from a CDN: we never
register them and serve only the JSON document.

Responses are shaped by the `*_body` functions (kept fast: the checkout is
the hot path) and described by response models. With API_CHECK_RESPONSES on
(the test suite turns it on) every answer with a model is validated against
it, strictly, as the JSON that is sent; in production the check is off, as
it would cost the counter more than the rest of this layer."""
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import pydantic
from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema
from spectree import Response, SpecTree
from spectree.models import SecurityScheme, SecuritySchemeData
from spectree.plugins.flask_plugin import FlaskPlugin

from app.api.common import authenticated, json_body
from app.api.fields import REQUIRED
from app.api import idempotency
from app.services.errors import ValidationError
from app.services.people import policy

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
NOT_ALLOWED = _l("Not one of the allowed values.")


# -- models -----------------------------------------------------------------------------

class DocumentSchema(GenerateJsonSchema):
    """JSON Schema as the document shows it: no `default: null` (a property
    that may be left out is not thereby nullable), no generated titles, and
    response objects open to new fields (the contract lets fields be added)."""

    def default_schema(self, schema):
        out = super().default_schema(schema)
        if "default" in out and out["default"] is None:
            del out["default"]
        return out

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def model_schema(self, schema):
        out = super().model_schema(schema)
        if self.mode == "serialization" and out.get("additionalProperties") is False:
            del out["additionalProperties"]
        return out


class Schema(BaseModel):
    """A request schema: unknown fields are ignored, as the services ignore them."""
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def model_json_schema(cls, by_alias=True, ref_template="#/$defs/{model}",
                          schema_generator=DocumentSchema, mode="validation", **kwargs):
        return super().model_json_schema(by_alias=by_alias, ref_template=ref_template,
                                         schema_generator=schema_generator, mode=mode, **kwargs)

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        """Errors of rules across fields (one of two fields is needed ...), a
        hook; they are checked whatever the fields' own errors, as the
        services check everything before they answer."""
        return {}

    @classmethod
    def problem_errors(cls, errors: dict[str, list]) -> dict[str, list]:
        """The gate's field errors as the service would word them (a hook)."""
        return errors


class Body(Schema):
    """A response schema. Validation (tests: API_CHECK_RESPONSES) is strict and
    refuses fields the schema does not list, so the document keeps up with
    the bodies; the document itself leaves objects open (fields may be added)."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Problem(Body):
    """An RFC 9457 problem (app/errors.py); `type` is one of the contract's slugs."""
    model_config = ConfigDict(extra="allow", strict=True)

    type: str = Field(description="The problem type's slug: validation-error, not-found, "
                                  "forbidden, unauthorized, conflict, rate-limited, or one "
                                  "named by the operation (card-revoked, insufficient-stock ...).")
    title: str = Field(description="In the user's language (Accept-Language; Chinese by default).")
    status: int
    detail: str
    errors: dict[str, list[str]] = Field(
        default=None, description="validation-error: each refused field (a path such as "
                                  "lines.0.quantity) with its messages; household refusals "
                                  "as households.<id>.")


class OpenAPIDocument(pydantic.RootModel[dict[str, Any]]):
    """This document."""


# -- problems and responses ----------------------------------------------------------------

PROBLEMS = {
    400: "validation-error: the body is not valid JSON.",
    401: "unauthorized: no bearer token, or one that is unknown, revoked or expired.",
    403: "forbidden: the user's role may not do this.",
    404: "not-found: there is no such object, or it lies outside the user's reach.",
    409: "conflict: the Idempotency-Key was used for another request, or its first "
         "request is still running.",
    410: "Gone.",
    422: "validation-error: `errors` names each refused field with its messages.",
    429: "rate-limited.",
    503: "unavailable: the database does not answer.",
}


EXPORT_MEDIA = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class ApiResponse(Response):
    """spectree's Response, with problems as application/problem+json and
    binary bodies (PNG, PDF, JPEG) under their own media type."""

    def __init__(self, status: int, model, *, media: str | None, problems: dict[int, str],
                 exports: bool = False):
        codes = [] if model is not None else [f"HTTP_{status}"]
        models = {f"HTTP_{status}": model} if model is not None else {}
        for code, description in sorted(problems.items()):
            models[f"HTTP_{code}"] = (Problem, description)
        super().__init__(*codes, **models)
        self.status, self.media, self.exports = status, media, exports

    def add_model(self, code, model, replace=True, description=None):
        if not replace:  # spectree adds a 422 to every route: ours are declared
            return
        super().add_model(code, model, replace, description)

    def generate_spec(self, naming_strategy=None):
        spec = super().generate_spec(naming_strategy or name_of)
        for code, item in spec.items():
            content = item.get("content")
            if content and int(code) >= 400:
                item["content"] = {"application/problem+json": content["application/json"]}
        if self.media:
            spec[str(self.status)]["content"] = {
                self.media: {"schema": {"type": "string", "contentMediaType": self.media}}}
        if self.exports:
            # ?format=csv|xlsx: every row matching the filters, as a file.
            for media in EXPORT_MEDIA:
                spec[str(self.status)]["content"][media] = {
                    "schema": {"type": "string", "contentMediaType": media}}
        return spec


# -- the gate --------------------------------------------------------------------------------

def gate_errors(model: type[Schema], data: dict) -> dict[str, list]:
    """The field errors `model` finds in `data` (empty when it passes)."""
    try:
        model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = translate(exc)
    else:
        errors = {}
    for field, messages in model.cross_errors(data).items():
        errors.setdefault(field, []).extend(messages)
    return model.problem_errors(errors) if errors else errors


def translate(exc: pydantic.ValidationError) -> dict[str, list]:
    """pydantic's errors as the problem's `errors`: path -> messages."""
    out: dict[str, list] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        kind = err["type"]
        if kind in ("aixin", "aixin_model"):
            # A field's check names paths from the field's own name; a model's
            # check (a whole line, say) from the model's place.
            base = loc[:-1] if kind == "aixin" else loc
            for key, messages in err["ctx"]["errors"].items():
                out.setdefault(".".join([*base, key]), []).extend(messages)
        elif kind == "missing":
            out.setdefault(".".join(loc), []).append(REQUIRED)
        else:
            out.setdefault(".".join(loc) or "body", []).append(NOT_ALLOWED)
    return out


def check_request(func, query, body, form) -> None:
    """Refuse the request (422) when its query or body breaks the route's schemas."""
    errors: dict[str, list] = {}
    if query is not None:
        args = request.args
        errors.update(gate_errors(query, {k: args.get(k) for k in query.model_fields if k in args}))
    if body is not None:
        form_data = getattr(func, "aixin_form_data", None)
        if form_data is not None and request.mimetype in FORM_TYPES:
            data = form_data()
        else:
            data = json_body()
        errors.update(gate_errors(body, data))
    if errors:
        raise ValidationError(errors)


class ResponseMismatch(AssertionError):
    """An answer its schema does not describe (API_CHECK_RESPONSES)."""


def check_response(resp: ApiResponse, result):
    response = current_app.make_response(result)
    status = response.status_code
    model = resp.find_model(status)
    if model is None and f"HTTP_{status}" not in resp.codes:
        raise ResponseMismatch(f"{request.method} {request.path}: status {status} "
                               "is not documented")
    if resp.exports and status == resp.status and response.mimetype in EXPORT_MEDIA:
        return response
    if model is not None:
        if response.mimetype != "application/json":
            raise ResponseMismatch(f"{request.path}: {response.mimetype}, documented JSON")
        try:
            model.model_validate_json(response.get_data(), strict=True)
        except pydantic.ValidationError as exc:
            raise ResponseMismatch(f"{request.method} {request.path} {status}: {exc}") from None
    elif resp.media and status == resp.status and response.mimetype != resp.media:
        raise ResponseMismatch(f"{request.path}: {response.mimetype}, documented {resp.media}")
    return response


class Plugin(FlaskPlugin):
    """spectree's Flask plugin, with the project's parsing and refusals."""

    def validate(self, func, query, json, form, headers, cookies, resp, before, after,
                 validation_error_status, skip_validation, force_resp_serialize, *args, **kwargs):
        check_request(func, query, json, form)
        result = func(*args, **kwargs)
        if resp is not None and current_app.config.get("API_CHECK_RESPONSES"):
            return check_response(resp, result)
        return result

    def parse_path(self, route, path_parameter_descriptions):
        path, parameters = super().parse_path(route, path_parameter_descriptions)
        for parameter in parameters:
            if parameter["schema"].get("type") == "integer":
                # Flask's int converter: digits only; an id that names nothing is a 404.
                parameter["schema"] = {"type": "integer", "minimum": 1}
            if not parameter.get("description"):
                parameter.pop("description", None)
        return path, parameters


def name_of(model) -> str:
    return model.__name__


spec = SpecTree(
    backend=Plugin, title="Aixin 爱心超市积分系统 API", version="1", mode="strict",
    annotations=False, page_templates={}, naming_strategy=name_of,
    nested_naming_strategy=lambda _parent, child: child,
    description="The JSON API of Aixin, generated from the schemas that validate it. "
                "Every operation's `x-act` names its act in the policy table.",
    security_schemes=[SecurityScheme(name="bearer",
                                     data=SecuritySchemeData(type="http", scheme="bearer"))],
    security={"bearer": []},
)


# -- declaring a route ------------------------------------------------------------------------

class IdempotencyHeaders(Schema):
    """The optional Idempotency-Key of a write a client may retry (app.api.idempotency)."""
    idempotency_key: str = Field(
        default=None, alias="Idempotency-Key", min_length=1, max_length=200,
        pattern=r"^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$",
        description="1 to 200 printable ASCII characters. The same key from the same user "
                    "with the same body answers the first response again; with another body, "
                    "or while the first request still runs, 409 conflict. Kept at least 24 hours.")


# What the document says beside the schemas, per operationId (app.api.openapi reads it).
OPERATIONS: dict[str, dict] = {}


def acting(act: str) -> Callable:
    """Refuse (403) a user whose role may not attempt `act`, before anything else is read."""
    policy.ACTS[act]  # a KeyError here is a typo in a route's declaration

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            policy.require(g.user, act)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def endpoint(act: str | None, *, tag: str, ok: int = 200, body=None, media: str | None = None,
             json: type[Schema] | None = None, query: type[Schema] | None = None,
             form: type[Schema] | None = None, form_data: Callable[[], dict] | None = None,
             problems: Iterable[int] | dict[int, str] = (), idempotent: bool = False,
             public: bool = False, refused_when: dict[str, str] | None = None,
             exports: bool = False) -> Callable:
    """Declare an API route: the act it performs (None: any logged-in user, or
    anyone when `public`), its schemas and answers. `ok` and `body` are the
    success status and its model (`media` for a binary body); `problems` the
    statuses it may refuse with beyond those that follow from the rest;
    `refused_when` the fields outside the schemas (a path parameter) that
    its service may refuse, and why. A multipart or form request is read by
    `form_data` and checked against `json`; `form` documents it. `exports`: the
    list also answers ?format=csv|xlsx with a file."""
    statuses: dict[int, str] = {}
    if not public:
        statuses[401] = PROBLEMS[401]
    if act is not None and (policy.ACTS[act] != policy.EVERYONE or act in policy.RULES):
        statuses[403] = PROBLEMS[403]
    if json is not None:
        statuses[400] = PROBLEMS[400]
    if json is not None or query is not None or idempotent:
        statuses[422] = PROBLEMS[422]
    if idempotent:
        statuses[409] = PROBLEMS[409]
    statuses[503] = PROBLEMS[503]
    extra = problems if isinstance(problems, dict) else {code: PROBLEMS[code] for code in problems}
    for code, description in extra.items():
        known = statuses.get(code)
        statuses[code] = description if known in (None, description) else f"{known} {description}"

    def decorate(view):
        if form_data is not None:
            view.aixin_form_data = form_data
        assert view.__name__ not in OPERATIONS, f"two API routes named {view.__name__}"
        OPERATIONS[view.__name__] = {"act": act, "refused_when": refused_when or {},
                                     "idempotent": idempotent}
        # Inside out: the handler, the Idempotency-Key replay, the schema gate (spectree's
        # wrapper, with our Plugin), the act's roles, the bearer token.
        inner = idempotency.idempotent(view) if idempotent else view
        wrapped = spec.validate(
            query=query, json=json, form=form,
            headers=IdempotencyHeaders if idempotent else None,
            resp=ApiResponse(ok, body, media=media, problems=statuses, exports=exports), tags=[tag],
            security={} if public else None, operation_id=view.__name__)(inner)
        if act is not None:
            wrapped = acting(act)(wrapped)
        if not public:
            wrapped = authenticated(wrapped)
        return wrapped
    return decorate

