"""The household register."""
from typing import Annotated, Literal

from pydantic import Field

from app.api.fields import (REQUIRED, WHOLE, WHOLE_NOTE, WHOLE_ONLY, Anything, Check, Choice,
                            OptionalText, OptionalWhole, Phone, QueryId, Tags, Text)
from app.api.schemas.common import Moment, PageQuery, page_of
from app.api.spec import Body, Schema
from app.models import HOUSEHOLD_STATUSES
from app.services.people import households
from app.services.validate import as_id

HouseholdStatus = Literal[tuple(HOUSEHOLD_STATUSES)]


def _village_id(errors, data, field):
    """As households.create_household reads it: any whole number; one that
    names no village the user keeps is a 404, not a validation error."""
    raw = data.get(field)
    value = as_id(raw)
    if raw in (None, ""):
        errors.add(field, REQUIRED)
    elif isinstance(raw, bool) or value is None and not isinstance(raw, int):
        errors.add(field, WHOLE)
    return value


HeadName = Text(households.HEAD_NAME_MAX)
Members = Annotated[OptionalWhole(households.MEMBERS_MIN, households.MEMBERS_MAX),
                    Field(description="Household size; 1 when left out.")]
Address = OptionalText(households.ADDRESS_MAX)


class HouseholdIn(Schema):
    """A household added to a village's register; `head_name` is stored as given."""
    village_id: Annotated[int, Field(description="A village whose register the user keeps "
                                                 f"(any other id: 404). {WHOLE_NOTE}",
                                     json_schema_extra=WHOLE_ONLY), Check(_village_id)]
    head_name: HeadName
    members: Members = None
    phone: Phone() = None
    address: Address = None
    tags: Tags() = None


class HouseholdPatch(Schema):
    """Any of the register's fields; never the points, the code or the village."""
    head_name: HeadName = None
    members: Members = None
    phone: Phone() = None
    address: Address = None
    tags: Tags() = None
    status: Choice(HOUSEHOLD_STATUSES) = None


class HouseholdQuery(PageQuery):
    village_id: Annotated[QueryId(), Field(
        description="A village in the user's reach (else 404).")] = None
    q: Annotated[Anything({"type": "string"}), Field(
        description="Part of the head's name or of the code; a volunteer must give one "
                    "(at least one character), else 422.")] = None
    status: Anything({"enum": list(HOUSEHOLD_STATUSES)}) = None


REGISTER_ONLY = ("The register's (staff, cadres, admins); a volunteer sees only id, code, "
                 "head_name, village_id, balance, pending and status.")


class HouseholdOut(Body):
    """A household. A volunteer sees only what the counter needs (api.md, "What a
    volunteer sees of a household"); the other fields are left out for them."""
    id: int
    code: str = Field(description="Generated, unique across the deployment.")
    village_id: int
    village: str = Field(None, description=REGISTER_ONLY)
    head_name: str
    members: int = Field(None, description=REGISTER_ONLY)
    phone: str | None = Field(None, description=REGISTER_ONLY)
    address: str | None = Field(None, description=REGISTER_ONLY)
    tags: list[str] = Field(None, description=REGISTER_ONLY)
    status: HouseholdStatus
    balance: int = Field(description="Posted points only.")
    pending: int = Field(description="The signed sum of pending and disputed entries.")
    created_at: Moment = Field(None, description=REGISTER_ONLY)


HouseholdPage = page_of(HouseholdOut, "HouseholdPage")
