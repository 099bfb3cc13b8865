"""Bearer tokens: POST and DELETE /auth/token."""
from typing import Literal

from pydantic import ConfigDict, Field

from app.api.fields import Anything
from app.api.schemas.common import Moment
from app.api.spec import Body, Schema
from app.models import ROLES
from app.services.people.accounts import USERNAME_MAX

Role = Literal[tuple(ROLES)]


class Credentials(Schema):
    """A login. Never refused as malformed: a missing field, a wrong type or a
    username past its length is simply a wrong login (401), as the API contract says."""
    model_config = ConfigDict(json_schema_extra={"required": ["username", "password"]})

    username: Anything({"type": "string", "maxLength": USERNAME_MAX}) = None
    password: Anything({"type": "string"}) = None


class TokenUser(Body):
    id: int
    username: str
    role: Role
    must_change_password: bool = Field(
        default=None, description="Present (true) after an admin's password reset: the token "
                                  "works, and the pages ask the user for a new password first.")


class TokenOut(Body):
    token: str = Field(description="The bearer token: send it as `Authorization: Bearer <token>`.")
    user: TokenUser
    expires_at: Moment
