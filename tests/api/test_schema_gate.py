"""The schema gate in front of every API handler: the role first, then the schema,
answering what the services would answer, in the user's language."""
import flask_babel
import pytest

from app.api.schemas.households import HouseholdIn, HouseholdPatch
from app.api.spec import gate_errors
from app.models import Household
from app.services.checkout.checkouts import MAX_QUANTITY
from app.services.people.households import validate_fields
from tests.api.problems import assert_problem, snapshot
from tests.api.test_households import BAD_FIELDS, NEW
from tests.checkout_helpers import counts, give_points, stocked
from tests.factories import count


def test_role_is_refused_before_the_body_is_read(client, world):
    """A role that may not check out gets 403 even for a body that breaks the schema."""
    r = client.post("/api/v1/checkouts", json={"lines": "nonsense"}, headers=world.headers("staff"))
    assert_problem(r, 403, "forbidden")
    r = client.post("/api/v1/checkouts", json={"lines": "nonsense"},
                    headers=world.headers("volunteer"))
    assert_problem(r, 422, "validation-error", "lines")


def test_no_token_is_refused_before_the_role(client, world):
    """Without a token the answer is 401, whatever the body."""
    assert_problem(client.post("/api/v1/checkouts", json={"lines": []}), 401, "unauthorized")


def test_the_schema_is_checked_before_the_object_is_looked_up(client, world):
    """The contract's order: a bad body is 422 even when the object it edits is not there (404)."""
    headers = world.headers("staff")
    assert_problem(client.patch("/api/v1/households/987654", json={"members": 0}, headers=headers),
                   422, "validation-error", "members")
    assert_problem(client.patch("/api/v1/households/987654", json={"members": 2}, headers=headers),
                   404, "not-found")


def test_messages_are_the_services_own_and_translated(client, world):
    """A refused field carries the service's message, in Chinese by default and in English
    when asked; title and detail follow the same language."""
    body = {"supermarket_id": world.sm_east.id, "household_id": world.households["v1a"].id,
            "lines": [{"product_id": 1, "quantity": MAX_QUANTITY + 1}]}
    volunteer = world.headers("volunteer")
    zh = assert_problem(client.post("/api/v1/checkouts", json=body, headers=volunteer),
                        422, "validation-error", "lines.0.quantity")
    flask_babel.refresh()  # the test client shares one app context, where the locale is kept
    en = assert_problem(client.post("/api/v1/checkouts", json=body,
                                    headers={**volunteer, "Accept-Language": "en"}),
                        422, "validation-error", "lines.0.quantity")
    assert en["errors"]["lines.0.quantity"] == [
        f"The quantity must be a whole number from 1 to {MAX_QUANTITY}."]
    assert en["title"] == "Some fields are not valid."
    assert zh["errors"]["lines.0.quantity"] != en["errors"]["lines.0.quantity"]
    assert zh["title"] != en["title"]


def test_every_field_error_of_a_request_comes_back_at_once(client, world):
    """Field errors and rules across fields are all answered together."""
    r = client.post("/api/v1/checkouts", json={"lines": [{"product_id": "x", "quantity": 0}]},
                    headers=world.headers("volunteer"))
    body = assert_problem(r, 422, "validation-error")
    assert set(body["errors"]) >= {"supermarket_id", "card_payload", "lines.0.product_id",
                                   "lines.0.quantity"}


@pytest.mark.parametrize("field,value", BAD_FIELDS)
def test_the_gate_refuses_what_the_service_refuses(app, field, value):
    """For each bad household field, the gate names the same fields as the service's own check."""
    body = {"village_id": 1, **NEW, field: value}
    if value is None:
        del body[field]
    _fields, service = validate_fields(body)
    assert set(gate_errors(HouseholdIn, body)) == set(service.errors)
    _fields, service = validate_fields({field: value}, partial=True)
    assert set(gate_errors(HouseholdPatch, {field: value})) == set(service.errors)


def test_the_gate_accepts_what_the_service_accepts(client, world):
    """Ids and numbers as digit strings, whole numbers written 3.0 where the service reads them,
    null for optional fields and unknown fields pass the gate as they pass the service."""
    r = client.post("/api/v1/households", headers=world.headers("staff"), json={
        "village_id": str(world.v1.id), "head_name": "甲", "members": "3", "phone": None,
        "address": "   ", "tags": "低保, 五保", "ignored": {"any": "thing"}})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["members"], r.get_json()["tags"]) == (3, ["低保", "五保"])
    r = client.patch(f"/api/v1/households/{r.get_json()['id']}", headers=world.headers("staff"),
                     json={"members": 4.0})
    assert r.status_code == 200 and r.get_json()["members"] == 4


def test_a_checkout_by_strings_and_a_refused_one_write_alike(client, world):
    """The checkout's ids may be digit strings; a refused cart writes nothing, as before."""
    products = stocked(world)
    give_points(world, world.households["v1a"], 100)
    headers = world.headers("volunteer")
    before = counts()
    bad = {"supermarket_id": str(world.sm_east.id), "household_id": world.households["v1a"].id,
           "lines": [{"product_id": str(products["香皂"].id), "quantity": "1"}]}
    assert_problem(client.post("/api/v1/checkouts", json=bad, headers=headers),
                   422, "validation-error", "lines.0.quantity")
    assert counts() == before
    good = {**bad, "lines": [{"product_id": str(products["香皂"].id), "quantity": 1}]}
    assert client.post("/api/v1/checkouts", json=good, headers=headers).status_code == 201


def test_an_empty_patch_changes_nothing(client, world):
    """A PATCH without a body (the document says the body may be left out) answers the object."""
    hh, headers = world.households["v1a"], world.headers("staff")
    before = snapshot()
    r = client.patch(f"/api/v1/households/{hh.id}", headers=headers)
    assert r.status_code == 200 and r.get_json()["head_name"] == hh.head_name
    assert snapshot() == before and count(Household) == 4


def test_a_lone_surrogate_is_malformed_json(client, world):
    """A string escaping half a surrogate pair ("\\ud800") is no Unicode text (it used to reach
    the database and fail there, 500): it is malformed JSON, 400; a whole pair is a character."""
    headers = {**world.headers("admin"), "Content-Type": "application/json"}
    before = snapshot()
    r = client.post("/api/v1/donors", data='{"name": "a\\ud800b", "kind": "person"}', headers=headers)
    assert_problem(r, 400, "validation-error", "body")
    assert snapshot() == before
    r = client.post("/api/v1/donors", data='{"name": "a\\ud83d\\ude00b", "kind": "person"}',
                    headers=headers)
    assert r.status_code == 201 and r.get_json()["name"] == "a\U0001F600b"
