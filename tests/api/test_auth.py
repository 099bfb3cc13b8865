"""POST/DELETE /api/v1/auth/token and bearer authentication."""
import hashlib

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken
from tests.factories import PASSWORD


def test_token_login_and_use(client, world):
    """A good login returns a token that opens the API; the token is stored only as a hash."""
    r = client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD})
    assert r.status_code == 201
    body = r.get_json()
    assert body["user"] == {"id": world.users["staff"].id, "username": "staff", "role": "staff"}
    assert len(body["token"]) >= 43 and body["expires_at"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert hashlib.sha256(body["token"].encode()).hexdigest() in stored
    assert body["token"] not in stored
    r = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {body['token']}"})
    assert r.status_code == 200


def test_bad_credentials_are_401_problem(client, world):
    """A wrong password or unknown user is a 401 problem+json, in Chinese by default."""
    for creds in ({"username": "staff", "password": "wrong password!"},
                  {"username": "nobody", "password": PASSWORD}):
        r = client.post("/api/v1/auth/token", json=creds)
        assert r.status_code == 401
        assert r.content_type == "application/problem+json"
        assert r.get_json()["type"] == "unauthorized"


def test_no_or_bad_token_is_401(client, world):
    """Every API route but the token endpoint needs a valid bearer token."""
    assert client.get("/api/v1/regions").status_code == 401
    assert client.get("/api/v1/regions", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/households", headers={"Authorization": "Basic abc"}).status_code == 401


def test_delete_token_revokes_it(client, world):
    """After DELETE /auth/token the token no longer works."""
    headers = world.headers("cadre")
    assert client.get("/api/v1/regions", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/regions", headers=headers).status_code == 401


def test_disabled_user_token_stops_working(client, world):
    """Disabling an account locks its existing tokens out."""
    headers = world.headers("volunteer")
    world.users["volunteer"].active = False
    db.session.commit()
    assert client.get("/api/v1/supermarkets", headers=headers).status_code == 401


def test_failed_logins_throttled_per_username(client, world):
    """More than 10 failures for one username in 15 minutes: 429, even with the right password."""
    for _ in range(10):
        assert client.post("/api/v1/auth/token", json={"username": "staff", "password": "x" * 12}).status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD})
    assert r.status_code == 429
    assert r.get_json()["type"] == "rate-limited"
    # Another username from the same client is not locked yet.
    assert client.post("/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD}).status_code == 201


def test_successful_logins_do_not_count(client, world):
    """Only failures count towards the limit."""
    for _ in range(15):
        assert client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD}).status_code == 201


def test_failed_logins_throttled_per_client(client, world):
    """More than 50 failures from one client, over many usernames, are refused with 429."""
    for i in range(50):
        r = client.post("/api/v1/auth/token", json={"username": f"ghost{i}", "password": "x" * 12})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD})
    assert r.status_code == 429


def test_malformed_json_is_clear_error(client, world):
    """A body that is not JSON gets a problem answer, not a crash."""
    r = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["type"] == "validation-error"
    r = client.post("/api/v1/auth/token", json=["a", "b"])
    assert r.status_code == 422


@pytest.mark.parametrize("trusted, separate", [(1, True), (0, False)])
def test_client_throttling_behind_a_proxy(make_app, world, trusted, separate):
    """Behind a trusted proxy each tablet (X-Forwarded-For) has its own failure count; without
    TRUSTED_PROXIES the header is ignored, so a client cannot dodge the limit by forging it."""
    app = make_app(TRUSTED_PROXIES=trusted, LOGIN_FAILURES_PER_CLIENT="3 per 15 minutes")
    client = app.test_client()

    def attempt(tablet, username, password="x" * 12):
        return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                           headers={"X-Forwarded-For": tablet}).status_code

    for i in range(3):
        assert attempt("192.168.1.21", f"ghost{i}") == 401
    assert attempt("192.168.1.21", "cadre", PASSWORD) == 429
    assert attempt("192.168.1.22", "cadre", PASSWORD) == (201 if separate else 429)


def test_web_and_api_failures_share_one_counter(client, world):
    """Ten failures for a username lock it out at both doors, whichever door they came
    through (before: ten on the login page and ten more on the API)."""
    for i in range(10):
        if i % 2:
            r = client.post("/login", data={"username": "staff", "password": "wrong password!"})
            assert r.status_code == 200
        else:
            r = client.post("/api/v1/auth/token", json={"username": "staff", "password": "x" * 12})
            assert r.status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD}).status_code == 429
    assert client.post("/login", data={"username": "staff", "password": PASSWORD}).status_code == 429
    assert client.post("/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD}).status_code == 201


# -- deactivation and password resets (issue 10) -------------------------------------------

def test_deactivating_revokes_tokens_at_once(client, world):
    """PATCH active false: the user's tokens are revoked in the same request (revoked_at set), so the
    very next request with one is 401; a new login is refused; reactivated, a new login works while
    the old token stays dead; both changes are audited."""
    from app.models import AuditRecord
    volunteer = world.users["volunteer"]
    headers = world.headers("volunteer")
    other = world.headers("volunteer")
    assert client.get("/api/v1/supermarkets", headers=headers).status_code == 200
    r = client.patch(f"/api/v1/users/{volunteer.id}", headers=world.headers("admin"), json={"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert client.get("/api/v1/supermarkets", headers=headers).status_code == 401
    assert client.get("/api/v1/supermarkets", headers=other).status_code == 401
    db.session.expire_all()
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == volunteer.id)).all()
    assert rows and all(row.revoked_at is not None for row in rows)
    assert client.post("/api/v1/auth/token", json={"username": "volunteer", "password": PASSWORD}).status_code == 401
    r = client.patch(f"/api/v1/users/{volunteer.id}", headers=world.headers("admin"), json={"active": True})
    assert r.status_code == 200 and r.get_json()["active"] is True
    login = client.post("/api/v1/auth/token", json={"username": "volunteer", "password": PASSWORD})
    assert login.status_code == 201
    assert client.get("/api/v1/supermarkets", headers=headers).status_code == 401
    assert client.get("/api/v1/supermarkets", headers={
        "Authorization": f"Bearer {login.get_json()['token']}"}).status_code == 200
    actions = db.session.scalars(select(AuditRecord.action).where(
        AuditRecord.object_type == "users", AuditRecord.object_id == volunteer.id)).all()
    assert {"user.deactivate", "user.activate"} <= set(actions)


def test_password_reset_gives_a_temporary_password(client, world, caplog):
    """POST /users/{id}/password-reset: 200 {temporary_password}; the old password stops working, the
    temporary one logs in through the API (the token works, the user JSON says must_change_password);
    the reset is audited without the password, which no log line carries."""
    import logging
    from app.models import AuditRecord, User
    caplog.set_level(logging.DEBUG)
    staff = world.users["staff"]
    r = client.post(f"/api/v1/users/{staff.id}/password-reset", headers=world.headers("admin"))
    assert r.status_code == 200
    temporary = r.get_json()["temporary_password"]
    assert len(temporary) >= 10 and set(r.get_json()) == {"temporary_password"}
    again = client.post(f"/api/v1/users/{staff.id}/password-reset", headers=world.headers("admin"))
    assert again.get_json()["temporary_password"] != temporary
    temporary = again.get_json()["temporary_password"]
    assert client.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD}).status_code == 401
    login = client.post("/api/v1/auth/token", json={"username": "staff", "password": temporary})
    assert login.status_code == 201
    assert login.get_json()["user"]["must_change_password"] is True
    token = login.get_json()["token"]
    assert client.get("/api/v1/households", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, staff.id).must_change_password
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "user.password_reset")).first()
    assert rec.user_id == world.users["admin"].id and rec.object_id == staff.id
    assert temporary not in str(rec.details)
    assert temporary not in caplog.text
    # other users' logins say nothing of it
    plain = client.post("/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD})
    assert "must_change_password" not in plain.get_json()["user"]
