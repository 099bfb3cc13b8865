"""Accounts: users, passwords and API tokens."""
import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ROLES, ApiToken, Donor, Region, Supermarket, User, utcnow
from app.services import audit
from app.services.errors import Errors, NotFound
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

    region, supermarkets, donor = _scope(errors, data, role, None)
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


# What each reach is given, by field; a role takes its own and nothing else.
SCOPE_FIELDS = {"region": "region_id", "supermarkets": "supermarket_ids",
                "donor_record": "donor_id"}
NOT_FOR_ROLE = {
    "region_id": _l("This role does not work in a region: leave it empty."),
    "supermarket_ids": _l("Only a supermarket volunteer works at supermarkets: leave them empty."),
    "donor_id": _l("Only a donor account belongs to a donor: leave it empty."),
}


def scope_field(role) -> str | None:
    """The one scope field an account of `role` takes (region_id, supermarket_ids,
    donor_id), or None (an admin)."""
    return SCOPE_FIELDS.get(policy.REACH.get(role))


def _given(value) -> bool:
    return value not in (None, "", [])


def _scope(errors: Errors, data: dict, role: str | None, user: User | None):
    """The region, supermarkets and donor an account of `role` has: the one
    its reach needs (from `data`, else kept from `user`), the others none. A
    field given to a role that has no use for it is refused; a retired
    region or supermarket takes no new accounts."""
    region = supermarkets = donor = None
    reach = policy.REACH.get(role)
    needed = SCOPE_FIELDS.get(reach)
    keeps = user is not None and policy.REACH.get(user.role) == reach
    for field in SCOPE_FIELDS.values():
        if field != needed and role is not None and _given(data.get(field)):
            errors.add(field, NOT_FOR_ROLE[field])
    if needed == "region_id":
        if "region_id" in data or not keeps:
            region = _lookup(Region, data.get("region_id"))
            if region is None:
                errors.add("region_id", _l("Choose the region this account works in."))
            elif (user is None or region.id != user.region_id) and _retired(region):
                errors.add("region_id", _retired_message())
        else:
            region = user.region
    if needed == "supermarket_ids":
        if "supermarket_ids" in data or not keeps:
            ids = data.get("supermarket_ids")
            if not isinstance(ids, list) or not ids:
                errors.add("supermarket_ids", _l("Choose at least one supermarket."))
            else:
                supermarkets = [_lookup(Supermarket, i) for i in ids]
                had = {s.id for s in user.supermarkets} if user is not None else set()
                if any(s is None for s in supermarkets):
                    errors.add("supermarket_ids", _l("Unknown supermarket."))
                elif any(not s.active and s.id not in had for s in supermarkets):
                    errors.add("supermarket_ids", _l("A retired supermarket takes no new volunteers."))
        else:
            supermarkets = list(user.supermarkets)
    if needed == "donor_id":
        if "donor_id" in data or not keeps:
            donor = _lookup(Donor, data.get("donor_id"))
            if donor is None:
                errors.add("donor_id", _l("Choose the donor this account belongs to."))
        else:
            donor = user.donor
    return region, supermarkets, donor


def _retired(region: Region) -> bool:
    from app.services.people.regions import retired
    return retired(region)


def _retired_message():
    from app.services.people.regions import RETIRED
    return RETIRED


USER_FIELDS = ("role", "region_id", "supermarket_ids", "donor_id", "display_name", "active")


def update_user(actor: User, user_id, data: dict) -> User:
    """Change an account's role and scope, its name shown, or deactivate
    (its API tokens are revoked at once, its pages log it out) and
    reactivate it; fields left out stay as they are. Nobody demotes or
    deactivates themselves: an admin always remains."""
    policy.require(actor, "users.manage")
    user = _lookup(User, user_id)
    if user is None:
        raise NotFound()
    errors = Errors()
    role = user.role
    if "role" in data:
        role = choice(errors, data, "role", ROLES)
    display_name = user.display_name
    if "display_name" in data:
        display_name = text(errors, data, "display_name", required=False, max_len=DISPLAY_NAME_MAX)
    active = user.active
    if "active" in data:
        from app.services.people.regions import active_flag
        active = active_flag(errors, data)
    if user.id == actor.id:
        if role is not None and role != user.role:
            errors.add("role", _l("You cannot take away your own administrator role."))
        if active is False:
            errors.add("active", _l("You cannot disable your own account."))
    scoped = any(f in data for f in ("role", "region_id", "supermarket_ids", "donor_id"))
    if scoped:
        region, supermarkets, donor = _scope(errors, data, role, user)
    errors.raise_if_any()

    changed = []
    if role != user.role:
        changed.append("role")
    if display_name != user.display_name:
        user.display_name = display_name
        changed.append("display_name")
    if scoped:
        new_ids = sorted({s.id for s in supermarkets or []})
        if (region.id if region else None) != user.region_id:
            changed.append("region_id")
        if new_ids != sorted(s.id for s in user.supermarkets):
            changed.append("supermarket_ids")
        if (donor.id if donor else None) != user.donor_id:
            changed.append("donor_id")
        user.role = role
        user.region = region
        user.region_id = region.id if region else None
        user.supermarkets = list(dict.fromkeys(supermarkets or []))
        user.donor_id = donor.id if donor else None
    if changed:
        audit.record(actor, "user.update", user, fields=changed, role=user.role)
    if active != user.active:
        user.active = active
        if active:
            audit.record(actor, "user.activate", user)
        else:
            revoked = revoke_all_tokens(user)
            audit.record(actor, "user.deactivate", user, tokens_revoked=revoked)
    return user


def set_user_active(actor: User, user_id, active: bool) -> User:
    return update_user(actor, user_id, {"active": active})


def revoke_all_tokens(user: User) -> int:
    """Revoke every live API token of `user` now; how many there were."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0


# Letters and digits nobody misreads when the password is read out or copied by hand.
TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def temporary_password() -> str:
    """Twelve random characters in groups of four (about 59 bits)."""
    chars = "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(12))
    return "-".join(chars[i:i + 4] for i in range(0, 12, 4))


def reset_password(actor: User, user_id) -> tuple[User, str]:
    """Give an account a random temporary password, which it must replace at
    its next login. The password is returned to be shown once; it is never
    stored or logged (only its hash)."""
    policy.require(actor, "users.manage")
    user = _lookup(User, user_id)
    if user is None:
        raise NotFound()
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    audit.record(actor, "user.password_reset", user)
    return user, password


def change_password(actor: User, data: dict) -> None:
    errors = Errors()
    current = data.get("current_password")
    if not isinstance(current, str) or not check_password_hash(actor.password_hash, current):
        errors.add("current_password", _l("The current password is wrong."))
    new = password_field(errors, data, "new_password")
    if new is not None and new == current and actor.must_change_password:
        errors.add("new_password", _l("Choose a password of your own, not the temporary one."))
    errors.raise_if_any()
    actor.password_hash = hash_password(new)
    actor.must_change_password = False
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


# Built once: every API request asks. The user, and only the token's id: the
# token's own row is read again only to revoke it.
_USER_FOR_TOKEN = (select(User, ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at)
                   .join(ApiToken, ApiToken.user_id == User.id)
                   .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(token: str) -> tuple[User, int] | None:
    """The active user a live bearer token names, and the token's id; None for
    an unknown, revoked or expired token or a deactivated user."""
    if not token or len(token) > 200:
        return None
    found = db.session.execute(_USER_FOR_TOKEN, {"token_hash": _token_hash(token)}).first()
    if found is None:
        return None
    user, token_id, revoked_at, expires_at = found
    if revoked_at is not None or expires_at <= utcnow() or not user.active:
        return None
    return user, token_id


def revoke_token(user: User, row: ApiToken | int) -> None:
    """The token (its row, or its id as `user_for_token` gives it) no longer works."""
    if not isinstance(row, ApiToken):
        row = db.session.get(ApiToken, row)
    row.revoked_at = utcnow()
    audit.record(user, "token.revoke", row)
