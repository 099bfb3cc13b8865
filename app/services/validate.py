"""Small checks shared by the services, each adding a translated message to an Errors."""
import re
from datetime import date

from sqlalchemy import or_

from flask_babel import lazy_gettext as _l

from app.services.errors import Errors

PHONE_RE = re.compile(r"1[3-9]\d{9}")
# NUL breaks PostgreSQL text and no control character belongs in a name or an address.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ID_RE = re.compile(r"[0-9]{1,18}")
MAX_ID = 2**63 - 1


def as_id(value) -> int | None:
    """An id given as an integer or a string of ASCII digits; None if it cannot
    be one (a bool, a float, "²", or too large for the database)."""
    if isinstance(value, str) and ID_RE.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        return None
    return value


def text(errors: Errors, data: dict, field: str, *, required: bool, max_len: int,
         min_len: int = 1) -> str | None:
    """A string field; whitespace-only counts as empty. Returned as given."""
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, _l("This field is required."))
        return None
    if not isinstance(value, str):
        errors.add(field, _l("Must be text."))
        return None
    if len(value) > max_len:
        errors.add(field, _l("At most %(n)d characters.", n=max_len))
        return None
    if CONTROL_RE.search(value):
        errors.add(field, _l("Contains characters that are not allowed."))
        return None
    if len(value) < min_len:
        errors.add(field, _l("At least %(n)d characters.", n=min_len))
        return None
    return value


def integer(errors: Errors, data: dict, field: str, *, required: bool,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer field. Strings of digits are accepted (forms and spreadsheets send text)."""
    value = data.get(field)
    if value is None or value == "":
        if required:
            errors.add(field, _l("This field is required."))
        return None
    if isinstance(value, bool):
        errors.add(field, _l("Must be a whole number."))
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        value = int(value)
    if not isinstance(value, int):
        errors.add(field, _l("Must be a whole number."))
        return None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        if maximum is None:
            errors.add(field, _l("Must be at least %(min)d.", min=minimum))
        else:
            errors.add(field, _l("Must be between %(min)d and %(max)d.", min=minimum, max=maximum))
        return None
    return value


def phone(errors: Errors, data: dict, field: str = "phone") -> str | None:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not PHONE_RE.fullmatch(value.strip()):
        errors.add(field, _l("Not a mainland mobile number (11 digits starting with 13-19)."))
        return None
    return value.strip()


def choice(errors: Errors, data: dict, field: str, choices, *, required: bool = True):
    value = data.get(field)
    if value is None or value == "":
        if required:
            errors.add(field, _l("This field is required."))
        return None
    if not isinstance(value, str) or value not in choices:
        errors.add(field, _l("Not one of the allowed values."))
        return None
    return value


def id_field(errors: Errors, data: dict, field: str) -> int | None:
    raw = data.get(field)
    if raw is None or raw == "":
        errors.add(field, _l("This field is required."))
        return None
    value = as_id(raw)
    if value is None:
        errors.add(field, _l("Must be a whole number."))
    return value


def contains(q: str, *columns):
    """A WHERE clause: one of `columns` contains the text `q`, with LIKE's
    wildcards in it taken literally."""
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*[column.like(like, escape="\\") for column in columns])


DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(errors: Errors, data: dict, field: str, *, required: bool = False) -> date | None:
    """A date written 2026-03-01 (surrounding spaces allowed); None when absent
    or wrong (with a message). Whether it may lie in the future or so far back
    is the caller's to say."""
    value = data.get(field)
    if value is None or value == "":
        if required:
            errors.add(field, _l("This field is required."))
        return None
    try:
        if not isinstance(value, str) or not DATE_RE.fullmatch(value.strip()):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.add(field, _l("Use a date like 2026-03-01."))
        return None
