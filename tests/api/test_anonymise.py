"""POST /api/v1/households/{id}/anonymise (our extension of api.md, issue 12):
admin only, an exited household past its retention period, problems as elsewhere."""

import pytest

from app.extensions import db
from app.models import Household
from tests.api.problems import assert_problem, snapshot
from tests.factories import exit_household


def url(hh) -> str:
    return f"/api/v1/households/{hh.id}/anonymise"


def test_admin_anonymises_an_eligible_household(client, world):
    """200 with the household: the code and balance stay, name and phone are gone."""
    hh = exit_household(world, "v1a", 4 * 365)
    r = client.post(url(hh), headers=world.headers("admin"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["id"], body["code"], body["balance"], body["status"]) == (hh.id, hh.code, 0, "exited")
    assert (body["head_name"], body["phone"], body["address"], body["tags"]) == ("已匿名", None, None, [])
    r = client.post(url(hh), headers=world.headers("admin"))
    assert_problem(r, 409, "conflict")


@pytest.mark.parametrize("role", ["cadre", "staff", "volunteer", "donor"])
def test_others_are_forbidden(client, world, role):
    """Any other role: 403, nothing written."""
    hh = exit_household(world, "v1a", 4 * 365)
    headers = world.headers(role)
    before = snapshot()
    assert_problem(client.post(url(hh), headers=headers), 403, "forbidden")
    db.session.expire_all()
    assert snapshot() == before and db.session.get(Household, hh.id).head_name == "杜玉梅"


def test_not_yet_eligible_is_a_validation_error(client, world):
    """Active, or exited a year ago: 422 naming household_id; unknown: 404; no token: 401."""
    recent = exit_household(world, "v2a", 365)
    headers = world.headers("admin")
    for hh in (recent, world.households["v1b"]):
        before = snapshot()
        assert_problem(client.post(url(hh), headers=headers), 422, "validation-error", "household_id")
        assert snapshot() == before
    assert_problem(client.post("/api/v1/households/999999/anonymise", headers=headers), 404, "not-found")
    assert client.post(url(recent)).status_code == 401
