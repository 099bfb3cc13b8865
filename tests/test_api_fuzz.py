"""Schemathesis over the whole generated OpenAPI document, in-process against
the WSGI app on a small seeded world: no server errors, no answer the
document does not describe (status, content type, body), and no request the
document allows refused as a validation error for a rule it does not state
(`refusals_are_stated`).

Every operation is fuzzed as the admin; the counter's, the stock's and the
register's operations also as a volunteer and as village staff. Half the
cases are steered to the seeded world (its ids, rule codes, today's date),
since random ids mostly name nothing (a 404, which the document states, but
which tests little). SQLite only: the document and the gate are the same on
every database. API_FUZZ_EXAMPLES and API_FUZZ_MODE (positive, negative, all)
deepen a run by hand."""
import io
import os
import random
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings, strategies as st

from app.extensions import db
from app.services.checkout.checkouts import check_out
from app.services.goods.stocktakes import start_stocktake
from app.services.goods.transfers import transfer_stock
from app.services.clock import local_today
from tests.checkout_helpers import card_for, give_points
from tests.factories import build_world
from tests.goods_helpers import load_products, receive
from tests.points_helpers import award, make_rule, photo

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the document and the schema gate are the same on every database; SQLite is enough")

# Examples per operation: 62 operations at this many each keep the run near two minutes.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
ROLE_EXAMPLES = max(1, MAX_EXAMPLES // 3)
REFUSED_WHEN = "x-refused-when"
NO_FRACTION = "x-no-fraction"


def ean13() -> st.SearchStrategy[str]:
    """Barcodes with the right check digit (format "gtin"), so products get made."""
    from app.services.goods.products import ean13_check_digit

    return st.from_regex(r"\A[0-9]{12}\Z").map(lambda d: d + str(ean13_check_digit(d)))


schemathesis.openapi.format("gtin", ean13())


@pytest.fixture
def fuzz_app(make_app):
    """The app with response checking on, and a world in it: places and people of every
    role, products in stock at both supermarkets, households with points, a card, rules
    and entries."""
    app = make_app(API_CHECK_RESPONSES=True)
    with app.app_context():
        world = build_world()
        products = load_products()
        receive(world, [(p, 50) for p in products.values()])
        receive(world, [(p, 50) for p in products.values()], supermarket=world.sm_west,
                user="volunteer_west")
        for key in world.households:
            give_points(world, world.households[key], 500)
        card_for(world, "v1a")
        make_rule("R-1", 5)
        make_rule("R-2", -3, cap=2)
        make_rule("R-3", 8, evidence=True)
        award(world, "staff", ["v1a", "v1b"], "R-1")
        award(world, "staff", ["v1b"], "R-3", evidence=io.BytesIO(photo(64, 48)))
        volunteer = world.users["volunteer"]
        rice, soap = products["大米 5kg"], products["香皂"]
        check_out(volunteer, {"supermarket_id": world.sm_east.id,
                              "household_id": world.households["v1a"].id,
                              "lines": [{"product_id": soap.id, "quantity": 1}]})
        transfer_stock(volunteer, {"from_supermarket_id": world.sm_east.id,
                                   "to_supermarket_id": world.sm_west.id, "product_id": rice.id,
                                   "quantity": 2})
        start_stocktake(volunteer, world.sm_east.id,
                        {"counts": [{"product_id": rice.id, "counted": 40}]})
        db.session.commit()
        app.config["FUZZ_HEADERS"] = {role: world.headers(role)
                                      for role in ("admin", "volunteer", "staff")}
        yield app
        db.session.remove()


def load_schema():
    """The document as the app serves it (routes and config only: no database is read),
    loaded at collection so that each operation is a test of its own."""
    from app import create_app
    from app.api.openapi import document
    from tests.conftest import base_config

    instance = tempfile.mkdtemp(prefix="aixin-fuzz-")
    app = create_app(base_config(f"sqlite:///{instance}/unused.db"), instance_path=instance)
    with app.app_context():
        raw = document()
    config = schemathesis.Config.from_dict({
        "generation": {"mode": os.environ.get("API_FUZZ_MODE", "positive"),
                       "max-examples": MAX_EXAMPLES, "no-shrink": True,
                       "with-security-parameters": False},
        "phases": {"stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    })
    return schemathesis.openapi.from_dict(raw, config=config)


def deref(node: dict, doc: dict) -> dict:
    """A schema with its $ref followed into the document's components."""
    while isinstance(node, dict) and "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def nodes_at(schema: dict, parts: list[str], doc: dict) -> list[dict]:
    """The schema nodes a field path (lines.0.product_id) leads to, through refs and branches."""
    found, stack = [], [(schema, parts)]
    while stack:
        node, rest = stack.pop()
        node = deref(node, doc)
        if not isinstance(node, dict):
            continue
        for key in ("anyOf", "oneOf", "allOf"):
            stack.extend((branch, rest) for branch in node.get(key, []))
        if not rest:
            found.append(node)
            continue
        head, tail = rest[0], rest[1:]
        if head in node.get("properties", {}):
            stack.append((node["properties"][head], tail))
        if head.isdigit() and isinstance(node.get("items"), dict):
            stack.append((node["items"], tail))
    return found


def sent_at(body, parts: list[str]):
    """The value the request sent at a field path (None when there is none)."""
    for part in parts:
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def spelled_with_fraction(value) -> bool:
    """A whole number sent as 2.0 (JSON Schema's integer, not the services')."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, list):
        return any(spelled_with_fraction(v) for v in value)
    return False


def whole_only(node: dict, doc: dict) -> bool:
    items = deref(node.get("items", {}), doc)
    return NO_FRACTION in node or isinstance(items, dict) and NO_FRACTION in items


def stated(field: str, operation: dict, doc: dict, body) -> bool:
    """Whether the document says the service may refuse this field as it was sent: a rule
    of the service's own (x-refused-when), or a whole number sent as 2.0 where the field
    is written without a fraction (x-no-fraction)."""
    if field in operation.get(REFUSED_WHEN, {}):
        return True
    for parameter in operation.get("parameters", []):
        if parameter["name"] == field and REFUSED_WHEN in parameter.get("schema", {}):
            return True
    parts = field.split(".")
    for content in operation.get("requestBody", {}).get("content", {}).values():
        for node in nodes_at(content["schema"], parts, doc):
            if REFUSED_WHEN in node:
                return True
            if whole_only(node, doc) and spelled_with_fraction(sent_at(body, parts)):
                return True
    return False


def positive(case) -> bool:
    meta = case.meta
    return meta is None or (not meta.generation.mode.is_negative and
                            not any(c.mode.is_negative for c in meta.components.values()))


@schemathesis.check
def refusals_are_stated(ctx, response, case):
    """A request the document allows is refused (422 validation-error) only for fields whose
    rule the document states in x-refused-when: state and dates, which a schema cannot."""
    if response.status_code != 422 or not positive(case):
        return None
    body = response.json()
    if str(body.get("type", "")).rsplit("/", 1)[-1] != "validation-error":
        return None
    doc = case.operation.schema.raw_schema
    operation = doc["paths"][case.operation.path][case.method.lower()]
    unstated = {field: messages for field, messages in body.get("errors", {}).items()
                if not stated(field, operation, doc, case.body)}
    if unstated:
        raise AssertionError(f"{case.method} {case.operation.path}: refused for rules the "
                             f"document does not state: {unstated}")
    return True


CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "refusals_are_stated")

SEEDED_IDS = range(1, 9)  # every kind of object the world holds has ids among these
SEEDED_CODES = ("R-1", "R-2")
CARD_FIELDS = ("card_payload", "card_number")


def steered(value, key: str, rng: random.Random):
    """`value` naming the seeded world: its ids, its rule codes, today, a few units."""
    if isinstance(value, dict):
        # A checkout by household_id, without a card that would name nothing.
        drop = CARD_FIELDS if "household_id" in value else ()
        return {k: steered(v, k, rng) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [steered(v, key, rng) for v in value]
    if isinstance(value, bool):
        return value
    if key.endswith(("_id", "_ids")) and isinstance(value, int):
        return rng.choice(SEEDED_IDS)
    if key in ("quantity", "counted") and isinstance(value, int):
        return rng.randint(1, 3)
    if key in ("rule_code", "code") and isinstance(value, str):
        return rng.choice(SEEDED_CODES)
    if key in ("occurred_on", "received_on", "purchased_on") and isinstance(value, str):
        return local_today().isoformat()
    return value


def steer(case) -> None:
    """Half the cases name the seeded world (random ids mostly name nothing: 404), and
    each body gets its own Idempotency-Key (a generated key is often reused with another
    body: 409). Hypothesis seeds `random` alike for every example, so the choices come
    from the case's own content: the same case is always steered the same way."""
    rng = random.Random(repr((case.path_parameters, case.query, case.body)))
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = f"fuzz-{rng.getrandbits(64):x}"
    if rng.random() < 0.5:
        return
    if case.path_parameters:
        case.path_parameters = steered(case.path_parameters, "", rng)
    if isinstance(case.body, dict):
        case.body = steered(case.body, "", rng)


schema = load_schema()


def call_and_check(case, app, role: str) -> None:
    from schemathesis.checks import CHECKS as REGISTRY

    checks = [check for check in REGISTRY.get_all() if getattr(check, "__name__", "") in CHECKS]
    assert len(checks) == len(CHECKS)
    steer(case)
    case.call_and_validate(app=app, headers=app.config["FUZZ_HEADERS"][role], checks=checks)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_document(case, fuzz_app):
    """Each operation of the document, fuzzed as the admin: no server error, every answer as
    documented, and no refusal of a request the document allows for a rule it does not state."""
    call_and_check(case, fuzz_app, "admin")


@schema.include(tag=["checkout", "goods", "cards"]).parametrize()
@settings(max_examples=ROLE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_counter_keeps_its_document_for_a_volunteer(case, fuzz_app):
    """The counter's, the stock's and the cards' operations as a volunteer of one supermarket:
    their refusals (403, 404 out of reach) are documented answers too."""
    call_and_check(case, fuzz_app, "volunteer")


@schema.include(tag=["households", "points"]).parametrize()
@settings(max_examples=ROLE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_register_keeps_its_document_for_village_staff(case, fuzz_app):
    """The register's and the points' operations as the staff of one village."""
    call_and_check(case, fuzz_app, "staff")
