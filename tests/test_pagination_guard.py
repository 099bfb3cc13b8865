"""Huge ?page= values (past any 64-bit offset) give an empty page or 422, never a 500."""
import pytest

from tests.factories import login

HUGE = str(10 ** 23)


@pytest.mark.parametrize("page", ["1000000000000", HUGE])
def test_huge_pages_on_the_household_passbooks_are_empty(client, world, page):
    """Staff's view of a household's passbook, and the household's own, past their end."""
    hh = world.households["v1a"]
    login(client, "staff")
    assert client.get(f"/points/households/{hh.id}?page={page}").status_code == 200
    assert client.get(f"/households/?page={page}").status_code == 200
    client.post("/logout")
    with client.session_transaction() as session:
        session["passbook"] = {"household_id": hh.id, "until": 2 ** 40}
    from app.extensions import db
    from app.models import Household
    db.session.get(Household, hh.id).passbook_pin_hash = "x"
    db.session.commit()
    assert client.get(f"/passbook?page={page}").status_code == 200


@pytest.mark.parametrize("page", ["1000000000000", HUGE])
def test_huge_pages_on_api_lists_are_empty(client, world, page):
    r = client.get(f"/api/v1/households?page={page}&per_page={page}", headers=world.headers("staff"))
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        assert r.get_json()["items"] == []
