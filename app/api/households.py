"""The household register."""
from flask import g, request

from app.api import bp, serializers
from app.api.common import json_body, paginated, pagination
from app.api.schemas.households import (HouseholdIn, HouseholdOut, HouseholdPage, HouseholdPatch,
                                        HouseholdQuery)
from app.api.spec import PROBLEMS, endpoint
from app.services.people import households, policy, privacy
from app.services.people import scope

# What a volunteer sees of a household (api.md): what the counter needs, no more.
COUNTER_FIELDS = ("id", "code", "head_name", "village_id", "balance", "pending", "status")


def _shown(body: dict) -> dict:
    """A household's body as the user may see it: whole for those who keep or read
    the register, the counter's fields only for a volunteer."""
    if policy.can(g.user, "households.read_register"):
        return body
    return {key: body[key] for key in COUNTER_FIELDS}


@bp.post("/households")
@endpoint("households.write", tag="households", json=HouseholdIn, ok=201, body=HouseholdOut,
          problems={404: "not-found: the village is not one whose register the user keeps."})
def create_household():
    """Add a household to a village's register."""
    hh = households.create_household(g.user, json_body())
    return serializers.household(hh), 201


@bp.get("/households")
@endpoint("households.read", tag="households", query=HouseholdQuery, body=HouseholdPage,
          problems=(404,))
def list_households():
    """Search the register (paginated); `q` is never logged. A volunteer must give `q`
    and sees only the counter's fields."""
    page, per_page = pagination()
    items, total = households.search_households(
        g.user, village_id=request.args.get("village_id"), q=request.args.get("q"),
        status=request.args.get("status"), page=page, per_page=per_page,
    )
    return paginated([_shown(h) for h in serializers.households(items)], page, per_page, total)


@bp.get("/households/<int:household_id>")
@endpoint("households.read", tag="households", body=HouseholdOut, problems=(404,))
def get_household(household_id: int):
    """One household."""
    return _shown(serializers.household(scope.get_household(g.user, household_id)))


@bp.patch("/households/<int:household_id>")
@endpoint("households.write", tag="households", json=HouseholdPatch, body=HouseholdOut,
          problems=(404,))
def update_household(household_id: int):
    """Edit a household's register fields; never its points."""
    hh = households.update_household(g.user, household_id, json_body())
    return serializers.household(hh)


@bp.post("/households/<int:household_id>/anonymise")
@endpoint("households.anonymise", tag="households", body=HouseholdOut, problems={
    404: PROBLEMS[404],
    409: "conflict: the household's personal data has already been anonymised.",
    422: "validation-error: the household has not exited, or exited less than "
         "RETENTION_YEARS_AFTER_EXIT years ago."},
    refused_when={"household_id": "the household is active, exited too recently or already anonymised"})
def anonymise_household(household_id: int):
    """Anonymise an exited household's personal data once its retention period is over
    (admin; an extension beyond api.md): its name, contact, tags and the free text about
    it go, its code and points stay."""
    return serializers.household(privacy.anonymise_household(g.user, household_id))
