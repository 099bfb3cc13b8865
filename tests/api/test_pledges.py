"""Needs and pledges over the JSON API: the public needs list, pledge create,
list and cancel with their codes, and filling by the pledging donor's donations."""
import pytest

from app.extensions import db
from app.models import Donor
from app.models.pledges import Pledge, PledgeLine
from app.services.people.accounts import create_user
from tests.api.problems import assert_problem
from tests.factories import PASSWORD, count
from tests.goods_helpers import load_products, receive, redeem


@pytest.fixture
def products(world):
    p = load_products()
    for name in ("大米 5kg", "食用油 5L", "香皂", "毛巾"):
        p[name].low_stock_threshold = 5
    db.session.commit()
    return p


@pytest.fixture
def other_donor(world):
    """A second donor with a login."""
    d = Donor(name="爱心人士 王建华", kind="person")
    db.session.add(d)
    db.session.flush()
    world.users["donor2"] = create_user(None, {"username": "donor2", "password": PASSWORD,
                                               "role": "donor", "donor_id": d.id})
    db.session.commit()
    return d


def pledge(client, world, lines, *, user="donor", sm=None, note=None):
    body = {"supermarket_id": (sm or world.sm_east).id,
            "lines": [{"product_id": p.id, "quantity": n} for p, n in lines]}
    if note:
        body["note"] = note
    return client.post("/api/v1/pledges", json=body, headers=world.headers(user))


def lines_of(pledge_id) -> dict:
    db.session.expire_all()
    p = db.session.get(Pledge, pledge_id)
    return p.status, {line.product.name: line.received for line in p.lines}


# -- needs ----------------------------------------------------------------------------

def test_needs_lists_out_and_low_most_redeemed_first(client, world, products):
    """GET /supermarkets/{id}/needs (no login): out and low products only, the most redeemed first."""
    rice, oil, soap, towel = (products[n] for n in ("大米 5kg", "食用油 5L", "香皂", "毛巾"))
    receive(world, [(rice, 10), (oil, 3), (soap, 20), (towel, 2)])
    hh = world.households["v1a"]
    redeem(world.users["volunteer"], world.sm_east.id, rice.id, 10, household=hh)  # rice: out, 10 redeemed
    redeem(world.users["volunteer"], world.sm_east.id, towel.id, 1, household=hh)  # towel: low, 1 redeemed
    db.session.commit()
    r = client.get(f"/api/v1/supermarkets/{world.sm_east.id}/needs")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(i["name"], i["quantity"], i["redeemed_90_days"], i["status"]) for i in items] == [
        ("大米 5kg", 0, 10, "out"), ("毛巾", 1, 1, "low"),
        ("食用油 5L", 3, 0, "low")]
    assert set(items[0]) >= {"product_id", "name", "unit", "quantity", "redeemed_90_days", "status"}
    assert "香皂" not in {i["name"] for i in items}  # 20 left: not short


def test_needs_leaves_out_retired_products_and_404s_retired_supermarket(client, world, products):
    """A retired product is not asked for; an unknown or retired supermarket is 404."""
    oil = products["食用油 5L"]
    receive(world, [(oil, 1)])
    oil.active = False
    db.session.commit()
    assert client.get(f"/api/v1/supermarkets/{world.sm_east.id}/needs").get_json()["items"] == []
    assert_problem(client.get("/api/v1/supermarkets/99999/needs"), 404, "not-found")
    world.sm_west.active = False
    db.session.commit()
    assert_problem(client.get(f"/api/v1/supermarkets/{world.sm_west.id}/needs"), 404, "not-found")


# -- create, list, cancel ---------------------------------------------------------------

def test_create_pledge(client, world, products):
    """POST /pledges (donor): 201 open, each line with received 0; the same product twice is summed."""
    rice, oil = products["大米 5kg"], products["食用油 5L"]
    r = pledge(client, world, [(rice, 20), (oil, 5), (rice, 10)], note="下周送到")
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "open" and isinstance(body["id"], int)
    assert sorted((l["product_id"], l["quantity"], l["received"]) for l in body["lines"]) == \
        sorted([(rice.id, 30, 0), (oil.id, 5, 0)])
    assert body["note"] == "下周送到"


def test_create_pledge_refusals(client, world, products):
    """Only donors pledge (403); unknown product or bad quantity 422; unknown supermarket 404; nothing written."""
    rice = products["大米 5kg"]
    for user in ("volunteer", "cadre", "staff", "admin"):
        assert_problem(pledge(client, world, [(rice, 1)], user=user), 403, "forbidden")
    before = count(Pledge), count(PledgeLine)
    body = {"supermarket_id": world.sm_east.id, "lines": [{"product_id": 99999, "quantity": 1}]}
    assert_problem(client.post("/api/v1/pledges", json=body, headers=world.headers("donor")),
                   422, "validation-error", "lines.0.product_id")
    body = {"supermarket_id": world.sm_east.id, "lines": [{"product_id": rice.id, "quantity": 0}]}
    assert_problem(client.post("/api/v1/pledges", json=body, headers=world.headers("donor")),
                   422, "validation-error", "lines.0.quantity")
    assert_problem(client.post("/api/v1/pledges", json={"supermarket_id": world.sm_east.id, "lines": []},
                               headers=world.headers("donor")), 422, "validation-error", "lines")
    body = {"supermarket_id": 99999, "lines": [{"product_id": rice.id, "quantity": 1}]}
    assert_problem(client.post("/api/v1/pledges", json=body, headers=world.headers("donor")),
                   404, "not-found")
    assert_problem(client.post("/api/v1/pledges", json=body), 401, "unauthorized")
    assert (count(Pledge), count(PledgeLine)) == before


def test_list_pledges_by_scope(client, world, products, other_donor):
    """GET /pledges: a donor sees their own; a volunteer and cadre those at their supermarkets; staff 403."""
    rice = products["大米 5kg"]
    mine = pledge(client, world, [(rice, 5)]).get_json()["id"]
    theirs = pledge(client, world, [(rice, 5)], user="donor2", sm=world.sm_west).get_json()["id"]

    def ids(user, query=""):
        r = client.get(f"/api/v1/pledges{query}", headers=world.headers(user))
        assert r.status_code == 200
        body = r.get_json()
        assert body["page"] == 1 and body["total"] == len(body["items"])
        return [p["id"] for p in body["items"]]

    assert ids("donor") == [mine] and ids("donor2") == [theirs]
    assert ids("volunteer") == [mine] and ids("volunteer_west") == [theirs]
    assert ids("cadre_west") == [theirs] and sorted(ids("cadre")) == sorted([mine, theirs])
    assert sorted(ids("admin")) == sorted([mine, theirs])
    assert ids("admin", f"?supermarket_id={world.sm_west.id}") == [theirs]
    assert ids("admin", "?status=fulfilled") == []
    assert_problem(client.get("/api/v1/pledges", headers=world.headers("staff")), 403, "forbidden")


def test_cancel_pledge(client, world, products, other_donor):
    """POST /pledges/{id}/cancel: 200 cancelled; again 409; another donor's 404; a volunteer 403."""
    rice = products["大米 5kg"]
    pid = pledge(client, world, [(rice, 5)]).get_json()["id"]
    assert_problem(client.post(f"/api/v1/pledges/{pid}/cancel", headers=world.headers("donor2")),
                   404, "not-found")
    assert_problem(client.post(f"/api/v1/pledges/{pid}/cancel", headers=world.headers("volunteer")),
                   403, "forbidden")
    r = client.post(f"/api/v1/pledges/{pid}/cancel", headers=world.headers("donor"))
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert_problem(client.post(f"/api/v1/pledges/{pid}/cancel", headers=world.headers("donor")),
                   409, "conflict")
    receive(world, [(rice, 5)])  # a cancelled pledge is filled by nothing
    assert lines_of(pid) == ("cancelled", {"大米 5kg": 0})


def test_cancel_fulfilled_is_conflict_and_partial_cancels(client, world, products):
    """A fulfilled pledge cannot be cancelled (409); a partial one can, keeping what came."""
    rice, oil = products["大米 5kg"], products["食用油 5L"]
    done = pledge(client, world, [(rice, 5)]).get_json()["id"]
    part = pledge(client, world, [(oil, 5)]).get_json()["id"]
    receive(world, [(rice, 5), (oil, 2)])
    assert lines_of(done)[0] == "fulfilled" and lines_of(part) == ("partial", {"食用油 5L": 2})
    assert_problem(client.post(f"/api/v1/pledges/{done}/cancel", headers=world.headers("donor")),
                   409, "conflict")
    r = client.post(f"/api/v1/pledges/{part}/cancel", headers=world.headers("donor"))
    assert r.status_code == 200 and r.get_json()["lines"][0]["received"] == 2


# -- filling -----------------------------------------------------------------------------

def test_matching_donation_fills_oldest_first_then_fulfils(client, world, products):
    """The donor's donation here fills their pledges oldest first, up to each line; partial, then fulfilled."""
    rice, oil = products["大米 5kg"], products["食用油 5L"]
    first = pledge(client, world, [(rice, 10), (oil, 4)]).get_json()["id"]
    second = pledge(client, world, [(rice, 10)]).get_json()["id"]
    receive(world, [(rice, 15)])
    assert lines_of(first) == ("partial", {"大米 5kg": 10, "食用油 5L": 0})
    assert lines_of(second) == ("partial", {"大米 5kg": 5})
    receive(world, [(oil, 9), (rice, 30)])  # more than promised: the lines stop at their quantity
    assert lines_of(first) == ("fulfilled", {"大米 5kg": 10, "食用油 5L": 4})
    assert lines_of(second) == ("fulfilled", {"大米 5kg": 10})
    p = db.session.get(Pledge, first)
    assert p.fulfilled_at is not None
    r = client.get("/api/v1/pledges?status=fulfilled", headers=world.headers("donor"))
    assert r.get_json()["total"] == 2


def test_other_donor_or_supermarket_fills_nothing(client, world, products, other_donor):
    """Another donor's donation, or the donor's own at another supermarket, fills nothing."""
    rice = products["大米 5kg"]
    pid = pledge(client, world, [(rice, 10)]).get_json()["id"]
    receive(world, [(rice, 10)], donor=other_donor)
    receive(world, [(rice, 10)], supermarket=world.sm_west, user="volunteer_west")
    assert lines_of(pid) == ("open", {"大米 5kg": 0})
    receive(world, [(rice, 3)])
    assert lines_of(pid) == ("partial", {"大米 5kg": 3})


def test_donation_over_api_fills_and_needs_show_pledged(client, world, products):
    """POST /donations by a volunteer fills the donor's pledge; needs show what open pledges still promise."""
    rice = products["大米 5kg"]
    receive(world, [(rice, 2)])
    pid = pledge(client, world, [(rice, 10)]).get_json()["id"]
    needs = client.get(f"/api/v1/supermarkets/{world.sm_east.id}/needs").get_json()["items"]
    assert [(i["name"], i["pledged"]) for i in needs] == [("大米 5kg", 10)]
    r = client.post("/api/v1/donations", headers=world.headers("volunteer"), json={
        "donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
        "lines": [{"product_id": rice.id, "quantity": 2}]})
    assert r.status_code == 201
    assert lines_of(pid) == ("partial", {"大米 5kg": 2})
    needs = client.get(f"/api/v1/supermarkets/{world.sm_east.id}/needs").get_json()["items"]
    assert [(i["name"], i["pledged"]) for i in needs] == [("大米 5kg", 8)]
