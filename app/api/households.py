"""The household register."""
from flask import g, request

from app.api import bp, serializers
from app.api.common import authenticated, json_body, paginated, pagination
from app.services.people import households
from app.services.people import policy, scope


@bp.post("/households")
@authenticated
def create_household():
    policy.require(g.user, "households.write")
    hh = households.create_household(g.user, json_body())
    return serializers.household(hh), 201


@bp.get("/households")
@authenticated
def list_households():
    page, per_page = pagination()
    items, total = households.search_households(
        g.user, village_id=request.args.get("village_id"), q=request.args.get("q"),
        status=request.args.get("status"), page=page, per_page=per_page,
    )
    return paginated(serializers.households(items), page, per_page, total)


@bp.get("/households/<int:household_id>")
@authenticated
def get_household(household_id: int):
    return serializers.household(scope.get_household(g.user, household_id))


@bp.patch("/households/<int:household_id>")
@authenticated
def update_household(household_id: int):
    policy.require(g.user, "households.write")
    hh = households.update_household(g.user, household_id, json_body())
    return serializers.household(hh)
