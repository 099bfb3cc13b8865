"""Requests answered wrongly, found by Schemathesis (tests/test_api_fuzz.py) or while
reading what it could not reach, each kept as a test."""
from tests.api.problems import assert_problem
from tests.points_helpers import make_rule, today


def test_a_form_part_without_a_readable_name_is_no_server_error(client, world):
    """A multipart part whose name holds a line break reaches Werkzeug's form as the key None:
    the Idempotency-Key fingerprint used to fail sorting it (500); it is kept apart now."""
    make_rule("R-1", 5)
    parts = [('a\x12\nb', "x"), ("household_ids", str(world.households["v1a"].id)),
             ("rule_code", "R-1"), ("occurred_on", today())]
    body = b"".join(f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                    .encode() for name, value in parts) + b"--B--\r\n"
    headers = {**world.headers("staff"), "Idempotency-Key": "form-with-odd-part"}
    first = client.post("/api/v1/awards", data=body, headers=headers,
                        content_type="multipart/form-data; boundary=B")
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/awards", data=body, headers=headers,
                        content_type="multipart/form-data; boundary=B")
    assert (again.status_code, again.get_json()) == (201, first.get_json())


def test_a_form_upload_past_the_parsers_limit_is_a_documented_413(client, world):
    """More form fields than MAX_FORM_PARTS is refused by the form parser as 413, which the
    document of POST /awards states (it was undocumented)."""
    make_rule("R-1", 5)
    data = {"household_ids": ["1"] * 1001, "rule_code": "R-1", "occurred_on": today()}
    r = client.post("/api/v1/awards", data=data, headers=world.headers("staff"),
                    content_type="multipart/form-data")
    assert_problem(r, 413, "validation-error")
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "413" in doc["paths"]["/awards"]["post"]["responses"]


def test_a_lone_surrogate_with_an_idempotency_key_is_malformed_json(client, world):
    """The Idempotency-Key's fingerprint encodes the body too: a lone surrogate there is the
    parser's 400, not a crash in the fingerprint."""
    headers = {**world.headers("admin"), "Content-Type": "application/json",
               "Idempotency-Key": "odd-text"}
    r = client.post("/api/v1/donors", data='{"name": "a\\udc00", "kind": "person"}', headers=headers)
    assert_problem(r, 400, "validation-error", "body")
