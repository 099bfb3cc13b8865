"""POST/DELETE /api/v1/auth/token."""
from flask import current_app, g, request

from app.api import bp
from app.api.common import json_body
from app.api.schemas.auth import Credentials, TokenOut
from app.api.spec import endpoint
from app.extensions import limiter
from app.services.people.accounts import authenticate, issue_token, revoke_token
from app.services.errors import DomainError
from flask_babel import lazy_gettext as _l


class BadCredentials(DomainError):
    slug = "unauthorized"
    status = 401
    title = _l("Wrong username or password.")


def login_username() -> str:
    """The username a login attempt names, for per-username throttling."""
    if request.blueprint == "api":
        try:  # the same parse as the view, whatever the Content-Type says
            name = json_body().get("username")
        except DomainError:  # the view answers it
            name = None
    else:
        name = request.form.get("username")
    return "user:" + (name if isinstance(name, str) else "")[:64]


def failed(response) -> bool:
    return response.status_code == 401 or getattr(g, "login_failed", False)


def per_username():
    return current_app.config["LOGIN_FAILURES_PER_USERNAME"]


def per_client():
    return current_app.config["LOGIN_FAILURES_PER_CLIENT"]


# The login page and the API's token door share their counters: ten failures for a
# username (or fifty from a client) lock it out whichever door they came through.
def username_limit():
    return limiter.shared_limit(per_username, scope="login-username", key_func=login_username,
                                deduct_when=failed, methods=["POST"])


def client_limit():
    return limiter.shared_limit(per_client, scope="login-client", deduct_when=failed,
                                methods=["POST"])


@bp.post("/auth/token")
@username_limit()
@client_limit()
@endpoint(None, tag="auth", public=True, json=Credentials, ok=201, body=TokenOut, problems={
    401: "unauthorized: wrong username or password.",
    429: "rate-limited: more than 10 failures for one username, or 50 from one client, "
         "in 15 minutes (only failures count)."})
def create_token():
    """Log in: a bearer token, valid 30 days."""
    data = json_body()
    user = authenticate(data.get("username"), data.get("password"))
    if user is None:
        raise BadCredentials()
    token, row = issue_token(user)
    body = {"id": user.id, "username": user.username, "role": user.role}
    if user.must_change_password:  # the token still works: API clients keep going
        body["must_change_password"] = True
    return {"token": token, "user": body, "expires_at": row.expires_at.isoformat()}, 201


@bp.delete("/auth/token")
@endpoint(None, tag="auth", ok=204)
def delete_token():
    """Log out: the token no longer works."""
    revoke_token(g.user, g.token_id)
    return "", 204
