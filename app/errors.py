"""One error negotiation for the whole app: every refusal and failure is
answered as problem+json (RFC 9457) to a client that wants JSON, and as a
page in the user's language to a browser (as microblog does). A client wants
JSON when it calls the API (/api/...), calls a view that only speaks JSON
(`json_view`: the counter's and the awarding page's fetches), or prefers
application/json to text/html in its Accept header. Every handler rolls the
request's unit of work back before it answers."""
from flask import Flask, current_app, flash, jsonify, redirect, render_template, request
from flask_login import login_url
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db, login_manager
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


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return answer(err.status, err.slug, err.title, err.detail, err.field_errors(), **err.extra)

    @app.errorhandler(RateLimitExceeded)
    def _limited(err):
        return answer(429, "rate-limited", http_titles()[429])

    @app.errorhandler(CSRFError)
    def _csrf(err):
        return answer(400, "csrf-failed", _("The form has expired or was not sent from this site. "
                                            "Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
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
