"""Security headers on every response. Everything the browser loads comes
from this server (villages can be offline), so the policy can be strict.

Caching: every answer but the static files and the public notice is
`no-store`: the pages of a logged-in user, the household's passbook, the
login page and the API all carry personal data or a form's secret, and a
shared village tablet's back button or a proxy must not keep them. The
village public notice is public by law and shows masked names only: a
visitor without a session may keep it a minute.

Server banner: gunicorn (production) sends `Server: gunicorn`, no version;
Werkzeug's development server (`flask run`, and the threaded server the
tests run) would send `Werkzeug/3.x Python/3.y`: it says `Werkzeug` only."""
from flask import Flask, current_app, request, session
from werkzeug.serving import WSGIRequestHandler

CSP = "; ".join([
    "default-src 'self'",
    # The vendored QR decoder is WebAssembly.
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


PUBLIC_MAX_AGE = 60


def public_page() -> bool:
    """A page of the public blueprint that is the same for every visitor (the
    notices and their list), but for the language: not the passbook."""
    endpoint = request.endpoint or ""
    return request.blueprint == "public" and not endpoint.startswith("public.passbook")


def _hide_server_version() -> None:
    """BaseHTTPRequestHandler sends `Server: <server_version> <sys_version>`."""
    WSGIRequestHandler.version_string = lambda self: "Werkzeug"


def cache_control(response) -> None:
    if request.endpoint == "static":
        return
    logged_in = "_user_id" in session or "Authorization" in request.headers
    if (public_page() and request.method in ("GET", "HEAD")
            and response.status_code == 200 and not logged_in):
        response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
        response.vary.add("Cookie")  # the language
        return
    if "no-store" not in (response.headers.get("Cache-Control") or ""):
        response.headers["Cache-Control"] = "no-store"


def secure(response):
    """The headers every answer carries (also one made after the request, see app.boundary)."""
    cache_control(response)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config.get("HTTPS"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    _hide_server_version()
    app.after_request(secure)
