"""What every API handler needs: the bearer user, JSON bodies, pagination."""
import json
import re
from functools import wraps

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Unauthorized

from app.services.people.accounts import user_for_token
from app.services.errors import DomainError, ValidationError


class MalformedJSON(DomainError):
    slug = "validation-error"
    status = 400
    title = _l("The request body is not valid JSON.")

    def __init__(self):
        super().__init__(errors={"body": [self.title]})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticated(view):
    """Require a valid bearer token; the user is g.user, the token's id g.token_id."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        found = user_for_token(bearer_token() or "")
        if found is None:
            raise Unauthorized()
        g.user, g.token_id = found
        return view(*args, **kwargs)
    return wrapper


def json_body() -> dict:
    """The request's JSON object, or a clear 400/422. An empty body is an empty
    object. Parsed once per request (the schema gate reads it first)."""
    data = getattr(request, "aixin_json", None)
    if data is not None:
        return data
    raw = request.get_data(cache=True)
    if not raw.strip():
        data = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            raise MalformedJSON() from None
        if SURROGATE_ESCAPE.search(raw) and not _unicode(data):
            raise MalformedJSON()  # "\ud800" alone is no character: nothing could store it
        if not isinstance(data, dict):
            raise ValidationError({"body": [_l("The body must be a JSON object.")]})
    request.aixin_json = data
    return data


DIGITS = re.compile(r"[0-9]{1,18}")
# A \uD800-\uDFFF escape: half of a pair, valid only next to its other half.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _unicode(data) -> bool:
    """Whether every string in the parsed body is Unicode text (no lone surrogate)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def pagination() -> tuple[int, int]:
    """page and per_page from the query string; per_page is capped at PER_PAGE_MAX."""
    errors = {}
    page = request.args.get("page", "1")
    per_page = request.args.get("per_page", str(current_app.config["PER_PAGE_DEFAULT"]))
    if not DIGITS.fullmatch(page) or int(page) < 1:
        errors["page"] = [_l("Must be a whole number of at least 1.")]
    if not DIGITS.fullmatch(per_page) or int(per_page) < 1:
        errors["per_page"] = [_l("Must be a whole number of at least 1.")]
    if errors:
        raise ValidationError(errors)
    return int(page), min(int(per_page), current_app.config["PER_PAGE_MAX"])


def paginated(items, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}

