"""Errors answered as problem+json on the API and as pages elsewhere."""
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
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


def wants_json() -> bool:
    return request.path.startswith("/api/")


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


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        db.session.rollback()
        if wants_json():
            return problem(err.status, err.slug, err.title, err.detail, err.errors)
        return render_template("error.html", status=err.status, message=str(err.detail)), err.status

    @app.errorhandler(RateLimitExceeded)
    def _limited(err):
        db.session.rollback()
        title = http_titles()[429]
        if wants_json():
            return problem(429, "rate-limited", title)
        return render_template("error.html", status=429, message=title), 429

    @app.errorhandler(CSRFError)
    def _csrf(err):
        db.session.rollback()
        message = _("The form has expired or was not sent from this site. Please reload the page and try again.")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        db.session.rollback()
        status = err.code or 500
        title = http_titles().get(status, err.name)
        if wants_json():
            return problem(status, SLUGS.get(status, "error"), title)
        return render_template("error.html", status=status, message=title), status

    @app.errorhandler(Exception)
    def _unexpected(err):
        db.session.rollback()
        app.logger.exception("unhandled error")
        title = http_titles()[500]
        if wants_json():
            return problem(500, "internal-error", title)
        return render_template("error.html", status=500, message=title), 500
