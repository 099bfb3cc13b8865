"""The household register."""
from flask import g, request

from app.api import bp, serializers
from app.api.common import json_body, paginated, pagination
from app.api.schemas.households import (HouseholdIn, HouseholdOut, HouseholdPage, HouseholdPatch,
                                        HouseholdQuery)
from app.api.spec import endpoint
from app.services.people import households
from app.services.people import scope


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
    """Search the register (paginated); `q` is never logged."""
    page, per_page = pagination()
    items, total = households.search_households(
        g.user, village_id=request.args.get("village_id"), q=request.args.get("q"),
        status=request.args.get("status"), page=page, per_page=per_page,
    )
    return paginated(serializers.households(items), page, per_page, total)


@bp.get("/households/<int:household_id>")
@endpoint("households.read", tag="households", body=HouseholdOut, problems=(404,))
def get_household(household_id: int):
    """One household."""
    return serializers.household(scope.get_household(g.user, household_id))


@bp.patch("/households/<int:household_id>")
@endpoint("households.write", tag="households", json=HouseholdPatch, body=HouseholdOut,
          problems=(404,))
def update_household(household_id: int):
    """Edit a household's register fields; never its points."""
    hh = households.update_household(g.user, household_id, json_body())
    return serializers.household(hh)
