"""Bad input to POST /api/v1/auth/token: a clear refusal, never a server error."""
from tests.api.problems import assert_problem
from tests.factories import PASSWORD


def test_odd_credentials_are_401(client, world):
    """Usernames or passwords of the wrong type, too long or holding a NUL byte are a plain 401."""
    for creds in ({"username": "sta\x00ff", "password": PASSWORD}, {"username": "staff", "password": "x\x00y"},
                  {"username": 5, "password": PASSWORD}, {"username": "staff", "password": ["x"]},
                  {"username": "s" * 5000, "password": PASSWORD}, {"username": None}, {}):
        assert_problem(client.post("/api/v1/auth/token", json=creds), 401, "unauthorized")


def test_missing_body_is_401_and_deep_json_400(client, world):
    """An empty body is treated as no credentials (401); JSON nested too deep is a 400 naming the body."""
    assert_problem(client.post("/api/v1/auth/token"), 401, "unauthorized")
    assert_problem(client.post("/api/v1/auth/token", data="[" * 50_000, content_type="application/json"),
                   400, "validation-error", "body")


def test_throttle_counts_failures_whatever_the_content_type(client, world):
    """Failures sent as text/plain JSON still count against that username: the 11th attempt is 429."""
    for _ in range(10):
        r = client.post("/api/v1/auth/token", data='{"username": "staff", "password": "wrong password"}',
                        content_type="text/plain")
        assert r.status_code == 401
    assert_problem(client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD}),
                   429, "rate-limited")
