"""Regions, supermarkets and user accounts."""
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import ConfigDict, Field

from app.api.fields import (WHOLE_NOTE, WHOLE_ONLY, Anything, Check, Choice, Id, OptionalText,
                            Text, configured, refused_when)
from app.services.people.regions import active_flag
from app.api.schemas.auth import Role
from app.api.schemas.common import list_of
from app.api.spec import Body, Schema
from app.models import LEVELS, ROLES
from app.services import validate
from app.services.people import accounts, policy, regions
from app.services.validate import MAX_ID

Level = Literal[tuple(LEVELS)]
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": WHOLE_NOTE, **WHOLE_ONLY}


def YesNoStrict():
    """JSON true or false (regions.active_flag): null, 0 or "false" are refused."""
    return Annotated[bool, Check(active_flag)]


class RegionIn(Schema):
    """A new region: a root at any level, or under a parent one level up."""
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another region under the same parent already has this name")]
    level: Annotated[Choice(LEVELS), refused_when(
        "a parent is given and the level is not the one just below the parent's")]
    parent_id: Annotated[Id(optional=True, invalid=_l("Unknown parent region.")), refused_when(
        "no region has this id")] = None


class RegionPatch(Schema):
    """Any of a region's fields; those left out stay as they are."""
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another region under the same parent already has this name")] = None
    parent_id: Annotated[Anything(ID), refused_when(
        "no region has this id, it is not of the level just above, or it is retired; null for "
        "a region that has a parent"), Field(description=(
        "Move the region (and everything under it) under this region, which must be of the "
        "level just above. Refused (422) when no region has this id, it is not of the level "
        "just above, or it is retired."))] = None
    active: Annotated[YesNoStrict(), Field(description=(
        "false retires the region: it then takes no new households, accounts or supermarkets, "
        "nor do the regions under it. Refused (409 conflict) while the region or one under "
        "it holds active households, accounts or open supermarkets; true reactivates it "
        "(409 while the region above is retired)."))] = None


class RegionOut(Body):
    id: int
    name: str
    level: Level
    parent_id: int | None
    active: bool = Field(description="false: retired (by itself; a region under a retired one "
                                     "takes nothing new either).")


RegionList = list_of(RegionOut, "RegionList")


class SupermarketIn(Schema):
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another supermarket already has this name")]
    region_id: Annotated[Id(missing=_l("Choose the region this supermarket serves."),
                            invalid=_l("Choose the region this supermarket serves.")),
                         refused_when("no region has this id")]


class SupermarketPatch(Schema):
    """Any of a supermarket's fields; those left out stay as they are."""
    name: Annotated[Text(regions.NAME_MAX), refused_when(
        "another supermarket already has this name")] = None
    region_id: Annotated[Id(missing=_l("Choose the region this supermarket serves."),
                            invalid=_l("Choose the region this supermarket serves.")),
                         refused_when("no region has this id, or it is retired")] = None
    active: Annotated[YesNoStrict(), Field(description=(
        "false retires the supermarket: it then takes no checkouts, donations or purchases "
        "(409 conflict); true reactivates it (409 while its region is retired)."))] = None


class SupermarketOut(Body):
    id: int
    name: str
    region_id: int
    active: bool = Field(description="false: retired, it takes no checkouts or donations.")


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
# What each reach needs on a new account (accounts.create_user), and which roles have it.
NEEDS = {"region": "region_id", "supermarkets": "supermarket_ids", "donor_record": "donor_id"}
assert set(NEEDS) == set(policy.REACH.values()) - {"all"}, "a reach accounts.create_user reads"
ROLES_NEEDING = {field: [role for role in ROLES if NEEDS.get(policy.REACH[role]) == field]
                 for field in NEEDS.values()}
UNKNOWN = "{what} is given to a role that has none, or no {what} has this id"
RETIRED = ", or it is retired (newly given)"


class UserIn(Schema):
    """A new account. A staff or cadre account needs `region_id`, a volunteer
    `supermarket_ids`, a donor `donor_id`, and no other of the three: one the
    role has no use for, given a value, is refused (422 naming it)."""
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
    region_id: Annotated[Anything(ID), refused_when(UNKNOWN.format(what="a region") + RETIRED)] = None
    supermarket_ids: Annotated[Anything({"type": "array", "items": ID, "minItems": 1}),
                               refused_when(UNKNOWN.format(what="a supermarket") + RETIRED)] = None
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


class UserPatch(Schema):
    """Any of an account's fields; those left out stay as they are. The role's
    scope field is needed when the role changes to one with another reach
    (staff or cadre `region_id`, volunteer `supermarket_ids`, donor
    `donor_id`); a scope field the role has no use for is refused (422)."""
    role: Annotated[Choice(ROLES), refused_when(
        "the account is the admin's own (nobody takes away their own role)")] = None
    region_id: Annotated[Anything({"anyOf": [ID, {"type": "null"}]}), refused_when(
        "the role has no region, or no region has this id, or it is retired")] = None
    supermarket_ids: Annotated[Anything({"anyOf": [{"type": "array", "items": ID},
                                                   {"type": "null"}]}),
                               refused_when("the role is not volunteer, or a supermarket is "
                                            "unknown or newly given and retired")] = None
    donor_id: Annotated[Anything({"anyOf": [ID, {"type": "null"}]}), refused_when(
        "the role is not donor, or no donor has this id")] = None
    display_name: OptionalText(accounts.DISPLAY_NAME_MAX) = None
    active: Annotated[YesNoStrict(), refused_when("false for the admin's own account"),
                      Field(description=(
        "false deactivates the account: its API tokens are revoked at once and its pages "
        "log it out; true reactivates it. Refused (422) for the admin's own account."))] = None


class UserOut(Body):
    """An account; `region_id`, `supermarket_ids` and `donor_id` as its role has them."""
    id: int
    username: str
    role: Role
    region_id: int = None
    supermarket_ids: list[int] = None
    donor_id: int = None
    display_name: str = None
    active: bool = None
    must_change_password: bool = Field(
        default=None, description="Present (true) after a password reset, until the user has "
                                  "chosen a new password.")


class PasswordResetOut(Body):
    temporary_password: str = Field(description=(
        "Shown once, never stored in clear: the user logs in with it and must choose a new "
        "password on the pages before anything else."))
