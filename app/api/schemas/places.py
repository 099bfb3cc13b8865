"""Regions, supermarkets and user accounts."""
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import ConfigDict, Field

from app.api.fields import (WHOLE_NOTE, WHOLE_ONLY, Anything, Check, Choice, Id, OptionalText,
                            Text, configured, refused_when)
from app.api.schemas.auth import Role
from app.api.schemas.common import list_of
from app.api.spec import Body, Schema
from app.models import LEVELS, ROLES
from app.services import validate
from app.services.people import accounts, policy, regions
from app.services.validate import MAX_ID

Level = Literal[tuple(LEVELS)]


class RegionIn(Schema):
    """A new region: a root at any level, or under a parent one level up."""
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another region under the same parent already has this name")]
    level: Annotated[Choice(LEVELS), refused_when(
        "a parent is given and the level is not the one just below the parent's")]
    parent_id: Annotated[Id(optional=True, invalid=_l("Unknown parent region.")), refused_when(
        "no region has this id")] = None


class RegionOut(Body):
    id: int
    name: str
    level: Level
    parent_id: int | None


RegionList = list_of(RegionOut, "RegionList")


class SupermarketIn(Schema):
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another supermarket already has this name")]
    region_id: Annotated[Id(missing=_l("Choose the region this supermarket serves."),
                            invalid=_l("Choose the region this supermarket serves.")),
                         refused_when("no region has this id")]


class SupermarketOut(Body):
    id: int
    name: str
    region_id: int


SupermarketList = list_of(SupermarketOut, "SupermarketList")


def _username(errors, data, field):
    name = validate.text(errors, data, field, required=True, max_len=accounts.USERNAME_MAX,
                         min_len=accounts.USERNAME_MIN)
    if name is not None and not accounts.USERNAME_RE.fullmatch(name):
        errors.add(field, _l("Use letters, digits and . _ - @ only."))
    return name


# accounts.USERNAME_RE allows any letter (\w); the document names the ASCII
# ones and the common Chinese characters.
USERNAME_PATTERN = (rf"^[A-Za-z0-9_.@\-\u4e00-\u9fff]"
                    rf"{{{accounts.USERNAME_MIN},{accounts.USERNAME_MAX}}}$")
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": WHOLE_NOTE, **WHOLE_ONLY}
# What each reach needs on a new account (accounts.create_user), and which roles have it.
NEEDS = {"region": "region_id", "supermarkets": "supermarket_ids", "donor_record": "donor_id"}
assert set(NEEDS) == set(policy.REACH.values()) - {"all"}, "a reach accounts.create_user reads"
ROLES_NEEDING = {field: [role for role in ROLES if NEEDS.get(policy.REACH[role]) == field]
                 for field in NEEDS.values()}
UNKNOWN = "{what} is needed by the role and no {what} has this id"


class UserIn(Schema):
    """A new account. A staff or cadre account needs `region_id`, a volunteer
    `supermarket_ids`, a donor `donor_id`; other roles ignore them."""
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"role": {"enum": roles}}, "required": ["role"]},
         "then": {"required": [field]}} for field, roles in ROLES_NEEDING.items()]})

    username: Annotated[str, Field(min_length=accounts.USERNAME_MIN,
                                   max_length=accounts.USERNAME_MAX, pattern=USERNAME_PATTERN),
                        refused_when("another account has this username"), Check(_username)]
    password: Annotated[str, Field(max_length=accounts.PASSWORD_MAX),
                        configured(minLength="PASSWORD_MIN_LENGTH"),
                        Check(accounts.password_field)]
    role: Choice(ROLES)
    region_id: Annotated[Anything(ID), refused_when(UNKNOWN.format(what="a region"))] = None
    supermarket_ids: Annotated[Anything({"type": "array", "items": ID, "minItems": 1}),
                               refused_when(UNKNOWN.format(what="a supermarket"))] = None
    donor_id: Annotated[Anything(ID), refused_when(UNKNOWN.format(what="a donor"))] = None
    display_name: OptionalText(accounts.DISPLAY_NAME_MAX) = None

    @classmethod
    def cross_errors(cls, data: dict) -> dict[str, list]:
        """What the role needs (accounts.create_user); whether the ids name
        anything is the service's to say."""
        role = data.get("role")
        needed = NEEDS.get(policy.REACH.get(role)) if isinstance(role, str) else None
        value = data.get(needed) if needed else None
        if needed == "region_id" and validate.as_id(value) is None:
            return {needed: [_l("Choose the region this account works in.")]}
        if needed == "supermarket_ids":
            if not isinstance(value, list) or not value:
                return {needed: [_l("Choose at least one supermarket.")]}
            if any(validate.as_id(i) is None for i in value):
                return {needed: [_l("Unknown supermarket.")]}
        if needed == "donor_id" and validate.as_id(value) is None:
            return {needed: [_l("Choose the donor this account belongs to.")]}
        return {}


class UserOut(Body):
    """An account; `region_id`, `supermarket_ids` and `donor_id` as its role has them."""
    id: int
    username: str
    role: Role
    region_id: int = None
    supermarket_ids: list[int] = None
    donor_id: int = None
