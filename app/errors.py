"""One error negotiation for the whole app: every refusal and failure is
answered as problem+json (RFC 9457) to a client that wants JSON, and as a
page in the user's language to a browser (as microblog does). A client wants
JSON when it calls the API (/api/...), calls a view that only speaks JSON
(`json_view`: the counter's and the awarding page's fetches), or prefers
application/json to text/html in its Accept header. Every handler rolls the
request's unit of work back before it answers.

While the database is unreachable or stays locked past DATABASE_LOCK_TIMEOUT,
every request answers 503 `unavailable` (api.md, Health), never 500: what it
wrote is rolled back, and the page is drawn for an anonymous visitor, as the
logged-in user cannot be read."""
import math
import sqlite3
import time

from flask import Flask, current_app, flash, g, jsonify, redirect, render_template, request
from flask_login import login_url
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import exc as sa_exc
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db, limiter, login_manager
from app.services.errors import DomainError

SLUGS = {400: "validation-error", 401: "unauthorized", 403: "forbidden", 404: "not-found",
         405: "method-not-allowed", 409: "conflict", 413: "validation-error",
         415: "validation-error", 429: "rate-limited"}


def problem(status: int, slug: str, title, detail=None, errors: dict | None = None, **extra):
    body = {"type": slug, "title": str(title), "status": status, "detail": str(detail or title)}
    if errors:
        body["errors"] = {k: [str(m) for m in v] for k, v in errors.items()}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def json_view(view):
    """Mark a view that only answers JSON (a page's fetch): its errors are problem+json."""
    view.aixin_json = True  # functools.wraps carries it out through other decorators
    return view


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "aixin_json", False):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def http_titles() -> dict:
    return {
        400: _("The request is malformed."),
        401: _("Please log in."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The upload is too large."),
        415: _("Send JSON (Content-Type: application/json)."),
        429: _("Too many attempts. Please wait and try again later."),
        500: _("Something went wrong on our side."),
    }


def answer(status: int, slug: str, title, detail=None, errors=None, **extra):
    """The request's unit of work rolled back, then the answer in the client's dialect."""
    db.session.rollback()
    if wants_json():
        return problem(status, slug, title, detail, errors, **extra)
    return render_template("error.html", status=status, message=str(detail or title)), status


# SQLite's words for a lock it could not get, or a file it cannot open.
SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "database is busy",
                      "unable to open database", "disk i/o error")


def database_unavailable(err: BaseException | None) -> bool:
    """The database refused or lost the connection, or a lock stayed held past
    its timeout: not a fault in the request, so 503 rather than 500."""
    while err is not None:
        if isinstance(err, sa_exc.TimeoutError):  # no pooled connection came free
            return True
        orig = err.orig if isinstance(err, sa_exc.DBAPIError) else err
        if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
            return True
        if isinstance(orig, sqlite3.OperationalError):
            return any(words in str(orig).lower() for words in SQLITE_UNAVAILABLE)
        if type(orig).__module__.startswith("psycopg"):
            # psycopg's OperationalError: refused or lost connection, lock_timeout
            # (55P03), a server shutting down; never a fault in our SQL.
            import psycopg

            return isinstance(orig, psycopg.OperationalError)
        err = getattr(err, "original_exception", None)  # an InternalServerError's cause
    return False


def unavailable():
    """503: nothing was written, and the page does not read the user from the database."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: drop it
        db.session.close()
    current_app.logger.warning("database unavailable: %s %s", request.method, request.path)
    g._login_user = login_manager.anonymous_user()  # what flask-login's current_user reads
    title = _("The database is busy or cannot be reached.")
    detail = _("Nothing was saved. Please try again in a minute.")
    if wants_json():
        response = problem(503, "unavailable", title, detail)
    else:
        response = current_app.make_response(
            (render_template("error.html", status=503, heading=title, message=detail), 503))
    response.headers["Retry-After"] = str(max(1, round(float(current_app.config["DATABASE_LOCK_TIMEOUT"]))))
    return response


def retry_after_seconds() -> int:
    """How long until the limits this request broke let it through again."""
    now = time.time()
    try:
        ends = [limit.window.reset_time for limit in limiter.current_limits if limit.breached]
    except Exception:  # the limiter's storage is unreachable: no figure to give
        ends = []
    return max(1, math.ceil(max(ends) - now)) if ends else 60


def limited():
    """429 saying how long to wait, in the user's language, with Retry-After."""
    seconds = retry_after_seconds()
    minutes = math.ceil(seconds / 60)
    wait = ngettext("Please try again in %(num)d minute.", "Please try again in %(num)d minutes.", minutes)
    if request.endpoint == "public.passbook":
        title = _("Too many wrong card numbers or PINs.")
    else:
        title = _("Too many attempts.")
    detail = f"{title} {wait}"
    db.session.rollback()
    if wants_json():
        response = problem(429, "rate-limited", title, detail, retry_after=seconds)
    else:
        back = request.path if request.endpoint == "public.passbook" else None
        response = current_app.make_response(
            (render_template("error.html", status=429, heading=title, message=wait, back=back), 429))
    response.headers["Retry-After"] = str(seconds)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return answer(err.status, err.slug, err.title, err.detail, err.field_errors(), **err.extra)

    @app.errorhandler(RateLimitExceeded)
    def _limited(err):
        return limited()

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(sqlite3.OperationalError)
    def _database(err):
        if database_unavailable(err):
            return unavailable()
        return _unexpected(err)

    @app.errorhandler(CSRFError)
    def _csrf(err):
        return answer(400, "csrf-failed", _("The form has expired or was not sent from this site. "
                                            "Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        if status == 500 and database_unavailable(err):  # e.g. a commit after the request failed
            return unavailable()
        if status == 500 and getattr(err, "original_exception", None) is not None:
            app.logger.error("unhandled error", exc_info=err.original_exception)
        return answer(status, SLUGS.get(status, "internal-error" if status == 500 else "error"),
                      http_titles().get(status, err.name))

    @app.errorhandler(Exception)
    def _unexpected(err):
        app.logger.exception("unhandled error")
        return answer(500, "internal-error", http_titles()[500])

    @login_manager.unauthorized_handler
    def _unauthorized():
        """Not logged in: JSON clients get 401, browsers the login page."""
        if wants_json():
            return answer(401, "unauthorized", http_titles()[401])
        flash(str(login_manager.login_message), login_manager.login_message_category)
        return redirect(login_url(login_manager.login_view, next_url=request.url))
