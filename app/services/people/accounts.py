"""Accounts: users, passwords and API tokens."""
import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ROLES, ApiToken, Donor, Region, Supermarket, User, utcnow
from app.services import audit
from app.services.errors import Errors, ValidationError
from app.services.people import policy
from app.services.validate import as_id, choice, text

USERNAME_MIN = 3
USERNAME_MAX = 64
USERNAME_RE = re.compile(rf"[\w.@-]{{{USERNAME_MIN},{USERNAME_MAX}}}")
PASSWORD_MAX = 200
DISPLAY_NAME_MAX = 100
_DUMMY_HASH = None


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def password_field(errors: Errors, data: dict, field: str = "password") -> str | None:
    password = data.get(field)
    if password is None or password == "":
        errors.add(field, _l("This field is required."))
        return None
    if not isinstance(password, str):
        errors.add(field, _l("Must be text."))
        return None
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        errors.add(field, _l("The password needs at least %(n)d characters.", n=minimum))
        return None
    if len(password) > PASSWORD_MAX:
        errors.add(field, _l("At most %(n)d characters.", n=PASSWORD_MAX))
        return None
    return password


def authenticate(username, password) -> User | None:
    """The active user with these credentials, or None. Takes as long for an
    unknown username as for a wrong password."""
    global _DUMMY_HASH
    if (not isinstance(username, str) or not isinstance(password, str)
            or len(username) > USERNAME_MAX):
        return None
    # No username holds a NUL, and PostgreSQL refuses one in a query.
    user = None if "\x00" in username else db.session.scalars(
        select(User).where(User.username == username)).first()
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def create_user(actor: User | None, data: dict) -> User:
    """Create an account (admin; actor None is the command line)."""
    if actor is not None:
        policy.require(actor, "users.manage")
    errors = Errors()
    username = text(errors, data, "username", required=True, max_len=USERNAME_MAX,
                    min_len=USERNAME_MIN)
    if username is not None and not USERNAME_RE.fullmatch(username):
        errors.add("username", _l("Use letters, digits and . _ - @ only."))
        username = None
    if username and db.session.scalars(select(User.id).where(User.username == username)).first():
        errors.add("username", _l("This username is taken."))
    password = password_field(errors, data)
    role = choice(errors, data, "role", ROLES)
    display_name = text(errors, data, "display_name", required=False, max_len=DISPLAY_NAME_MAX)

    region = supermarkets = donor = None
    reach = policy.REACH.get(role)
    if reach == "region":
        region_id = data.get("region_id")
        region = _lookup(Region, region_id)
        if region is None:
            errors.add("region_id", _l("Choose the region this account works in."))
    if reach == "supermarkets":
        ids = data.get("supermarket_ids")
        if not isinstance(ids, list) or not ids:
            errors.add("supermarket_ids", _l("Choose at least one supermarket."))
        else:
            supermarkets = [_lookup(Supermarket, i) for i in ids]
            if any(s is None for s in supermarkets):
                errors.add("supermarket_ids", _l("Unknown supermarket."))
    if reach == "donor_record":
        donor = _lookup(Donor, data.get("donor_id"))
        if donor is None:
            errors.add("donor_id", _l("Choose the donor this account belongs to."))
    errors.raise_if_any()

    user = User(
        username=username, password_hash=hash_password(password), role=role,
        display_name=display_name, region=region, donor_id=donor.id if donor else None,
        supermarkets=list(dict.fromkeys(supermarkets or [])),
    )
    db.session.add(user)
    audit.record(actor, "user.create", user, role=role)
    return user


def _lookup(model, obj_id):
    obj_id = as_id(obj_id)
    return db.session.get(model, obj_id) if obj_id is not None else None


def set_user_active(actor: User, user_id, active: bool) -> User:
    policy.require(actor, "users.manage")
    user = _lookup(User, user_id)
    if user is None:
        from app.services.errors import NotFound
        raise NotFound()
    if user.id == actor.id and not active:
        raise ValidationError({"active": [_l("You cannot disable your own account.")]})
    user.active = active
    audit.record(actor, "user.activate" if active else "user.deactivate", user)
    return user


def change_password(actor: User, data: dict) -> None:
    errors = Errors()
    current = data.get("current_password")
    if not isinstance(current, str) or not check_password_hash(actor.password_hash, current):
        errors.add("current_password", _l("The current password is wrong."))
    new = password_field(errors, data, "new_password")
    errors.raise_if_any()
    actor.password_hash = hash_password(new)
    audit.record(actor, "user.password", actor)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new bearer token (256 random bits); only its hash is kept."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_DAYS"]
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token),
                   expires_at=utcnow() + timedelta(days=days))
    db.session.add(row)
    audit.record(user, "token.issue", row)
    return token, row


# Built once: every API request asks.
_USER_FOR_TOKEN = (select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
                   .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(token: str) -> tuple[User, ApiToken] | None:
    if not token or len(token) > 200:
        return None
    found = db.session.execute(_USER_FOR_TOKEN, {"token_hash": _token_hash(token)}).first()
    if found is None:
        return None
    user, row = found
    if row.revoked_at is not None or row.expires_at <= utcnow() or not user.active:
        return None
    return user, row


def revoke_token(user: User, row: ApiToken) -> None:
    row.revoked_at = utcnow()
    audit.record(user, "token.revoke", row)
