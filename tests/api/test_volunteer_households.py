"""What a volunteer sees of a household (api.md): the counter's fields only, by
search (q required), never the register's details, ledger, card or evidence."""
import io

from app.extensions import db
from app.services.checkout import cards
from tests.api.problems import assert_problem
from tests.factories import login
from tests.points_helpers import make_rule, photo, today

BASE = "/api/v1/households"
COUNTER = {"id", "code", "head_name", "village_id", "balance", "pending", "status"}


def test_volunteer_sees_only_the_counters_fields(client, world):
    """A household of the volunteer's supermarket: exactly the seven fields, by id and by search;
    staff still see the whole record (phone, address, members, tags)."""
    hh = world.households["v1a"]
    client.patch(f"{BASE}/{hh.id}", headers=world.headers("staff"),
                 json={"phone": "13900001111", "address": "1组2号", "tags": ["低保"]})
    headers = world.headers("volunteer")
    body = client.get(f"{BASE}/{hh.id}", headers=headers).get_json()
    assert set(body) == COUNTER and body["head_name"] == "杜玉梅"
    page = client.get(f"{BASE}?q=杜玉", headers=headers).get_json()
    assert [set(item) for item in page["items"]] == [COUNTER] and page["total"] == 1
    page = client.get(f"{BASE}?q={hh.code}", headers=headers).get_json()
    assert [item["id"] for item in page["items"]] == [hh.id]
    full = client.get(f"{BASE}/{hh.id}", headers=world.headers("staff")).get_json()
    assert (full["phone"], full["address"], full["tags"], full["members"]) == ("13900001111", "1组2号", ["低保"], 4)


def test_volunteer_must_search(client, world):
    """Without q, or with a blank one, the list is 422 for a volunteer (not the whole register)."""
    headers = world.headers("volunteer")
    for query in ("", "?q=", "?q=%20%20", "?village_id=%d" % world.v1.id):
        assert_problem(client.get(BASE + query, headers=headers), 422, "validation-error", "q")
    assert client.get(BASE, headers=world.headers("cadre")).status_code == 200


def test_volunteer_outside_their_supermarkets_is_404(client, world):
    """A household of another township's villages is not found, by id or by search."""
    other = world.households["v3a"]
    headers = world.headers("volunteer")
    assert_problem(client.get(f"{BASE}/{other.id}", headers=headers), 404, "not-found")
    assert client.get(f"{BASE}?q={other.head_name}", headers=headers).get_json()["total"] == 0
    assert client.get(f"{BASE}?q={other.head_name}", headers=world.headers("volunteer_west")).get_json()["total"] == 1


def test_volunteer_gets_no_ledger_card_sheet_or_evidence(client, world):
    """The ledger, the card image (its QR holds the card's secret), the village's card sheet and
    evidence photos are 403 for a volunteer, while staff get them."""
    hh = world.households["v1a"]
    cards.issue_card(world.users["staff"], hh.id)
    db.session.commit()
    photo = _evidence(client, world, hh)
    paths = [f"{BASE}/{hh.id}/ledger", f"{BASE}/{hh.id}/card.png",
             f"/api/v1/cards/sheet.pdf?village_id={world.v1.id}", f"/api/v1/evidence/{photo}"]
    for path in paths:
        assert client.get(path, headers=world.headers("staff")).status_code == 200, path
        assert_problem(client.get(path, headers=world.headers("volunteer")), 403, "forbidden")


def test_volunteer_pages_refuse_the_register(client, world):
    """The pages obey the same: the register, a household's page, its card and the card sheet
    are refused to a volunteer."""
    hh = world.households["v1a"]
    cards.issue_card(world.users["staff"], hh.id)
    db.session.commit()
    login(client, "volunteer")
    for path in ("/households/", f"/households/{hh.id}", f"/households/{hh.id}/card.png",
                 f"/households/cards.pdf?village_id={world.v1.id}"):
        assert client.get(path).status_code == 403, path


def _evidence(client, world, hh) -> int:
    """An award with an evidence photo; the photo's id."""
    make_rule("T-PHOTO", 8, evidence=True)
    db.session.commit()
    r = client.post("/api/v1/awards", headers=world.headers("staff"), data={
        "household_ids": str(hh.id), "rule_code": "T-PHOTO", "occurred_on": today(),
        "evidence": (io.BytesIO(photo(800, 600)), "photo.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["items"][0]["evidence_id"]
