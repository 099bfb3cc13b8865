"""The household register over the API: roles, scope, pagination, search and bad input."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Household
from app.services.people.households import create_household
from tests.api.problems import assert_problem, snapshot

BASE = "/api/v1/households"
NEW = {"head_name": "赵犇", "members": 3, "phone": "13812345678", "address": "3组12号", "tags": ["低保", "监测户"]}


def get_names(client, headers, query=""):
    r = client.get(BASE + query, headers=headers)
    assert r.status_code == 200, r.get_json()
    return [h["head_name"] for h in r.get_json()["items"]]


def test_create_household(client, world):
    """Staff (in their villages) and admins add a household: 201 with a generated code, balance 0, active."""
    for user, village in (("staff", "v1"), ("staff_east", "v2"), ("admin", "v3")):
        village_id = getattr(world, village).id
        r = client.post(BASE, headers=world.headers(user), json={"village_id": village_id, **NEW})
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        assert {k: body[k] for k in ("village_id", "head_name", "balance", "pending", "status")} == \
            {"village_id": village_id, "head_name": "赵犇", "balance": 0, "pending": 0, "status": "active"}
        assert isinstance(body["id"], int) and body["code"]
        assert (body["members"], body["phone"], body["tags"]) == (3, "13812345678", ["低保", "监测户"])
        hh = db.session.get(Household, body["id"])
        assert hh.code == body["code"] and hh.village_id == village_id
        rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.create",
                                                           AuditRecord.object_id == hh.id)).one()
        assert rec.user_id == world.users[user].id


def test_create_household_minimal(client, world):
    """Only village_id and head_name are needed; head_name is stored as given (spaces and rare characters kept)."""
    r = client.post(BASE, headers=world.headers("staff"), json={"village_id": world.v1.id, "head_name": " 王喆 "})
    assert r.status_code == 201
    body = r.get_json()
    assert body["head_name"] == " 王喆 " and body["members"] == 1 and body["tags"] == [] and body["phone"] is None


def test_codes_are_unique(client, world):
    """Each new household gets a code no other household has, in any village."""
    headers = world.headers("admin")
    for village in (world.v1, world.v2, world.v3, world.v1):
        assert client.post(BASE, headers=headers, json={"village_id": village.id, "head_name": "甲"}).status_code == 201
    codes = db.session.scalars(select(Household.code)).all()
    assert len(codes) == 8 and len(set(codes)) == 8


def test_create_household_out_of_scope(client, world):
    """A village outside the user's scope (or not a village) is 404; a role that may not add is 403; nothing written."""
    cases = [("staff", "v2", 404, "not-found"), ("staff", "v3", 404, "not-found"),
             ("staff_west", "v1", 404, "not-found"), ("staff_east", "v3", 404, "not-found"),
             ("staff", "east", 404, "not-found"), ("admin", "county", 404, "not-found"),
             ("cadre", "v1", 403, "forbidden"), ("volunteer", "v1", 403, "forbidden"),
             ("donor", "v1", 403, "forbidden")]
    headers = {user: world.headers(user) for user, *_ in cases}
    before = snapshot()
    for user, village, status, slug in cases:
        r = client.post(BASE, headers=headers[user], json={"village_id": getattr(world, village).id, **NEW})
        assert_problem(r, status, slug)
        assert snapshot() == before, (user, village)


def test_create_household_unknown_village_is_404(client, world):
    """A village id that does not exist (or cannot) is 404, like one outside scope."""
    headers = world.headers("admin")
    for village_id in (987654, 0, -3, 10**30):
        assert_problem(client.post(BASE, headers=headers, json={"village_id": village_id, "head_name": "甲"}),
                       404, "not-found")


BAD_FIELDS = [
    ("head_name", None), ("head_name", ""), ("head_name", "   "), ("head_name", "\t\n"),
    ("head_name", "名" * 51), ("head_name", 42), ("head_name", ["甲"]), ("head_name", "甲\x00乙"),
    ("members", "abc"), ("members", True), ("members", 3.5), ("members", 0), ("members", 31),
    ("members", -1), ("members", [2]), ("members", "3.5"),
    ("phone", "12345"), ("phone", "1381234567"), ("phone", "138123456789"), ("phone", "12812345678"),
    ("phone", "1381234567a"), ("phone", True), ("phone", ["13812345678"]),
    ("tags", 5), ("tags", {"低保": True}), ("tags", ["不存在的标签"]), ("tags", [1, 2]), ("tags", True),
    ("address", "路" * 201), ("address", 12),
]


def test_create_household_bad_input(client, world):
    """Every bad field (missing, empty, blank, too long, wrong type) is a 422 naming it; nothing written."""
    headers = world.headers("staff")
    before = snapshot()
    for field, value in BAD_FIELDS:
        body = {"village_id": world.v1.id, **NEW, field: value}
        if value is None:
            del body[field]
        assert_problem(client.post(BASE, headers=headers, json=body), 422, "validation-error", field)
    for value in (None, "", "东坪村", "1a", 1.5, True, [world.v1.id], "²"):
        body = {**NEW, "village_id": value}
        if value is None:
            del body["village_id"]
        assert_problem(client.post(BASE, headers=headers, json=body), 422, "validation-error", "village_id")
    assert snapshot() == before


def test_create_household_several_errors_at_once(client, world):
    """All field errors of a request come back together."""
    r = client.post(BASE, headers=world.headers("staff"), json={"members": 0, "phone": "1"})
    body = assert_problem(r, 422, "validation-error")
    assert set(body["errors"]) >= {"village_id", "head_name", "members", "phone"}


def test_create_household_bad_bodies(client, world):
    """Malformed JSON is 400, an array or string body 422, an empty body names the required fields; nothing written."""
    headers = world.headers("staff")
    before = snapshot()
    assert_problem(client.post(BASE, headers=headers, data='{"village_id": 1, "head_name": "甲"',
                               content_type="application/json"), 400, "validation-error", "body")
    assert_problem(client.post(BASE, headers=headers, data="village_id=1&head_name=甲",
                               content_type="application/x-www-form-urlencoded"), 400, "validation-error", "body")
    assert_problem(client.post(BASE, headers=headers, json=[{"village_id": world.v1.id, "head_name": "甲"}]),
                   422, "validation-error", "body")
    assert_problem(client.post(BASE, headers=headers, json="甲"), 422, "validation-error", "body")
    body = assert_problem(client.post(BASE, headers=headers), 422, "validation-error")
    assert {"village_id", "head_name"} <= set(body["errors"])
    assert snapshot() == before


def test_no_token_is_401(client, world):
    """Every household endpoint needs a bearer token."""
    hh = world.households["v1a"].id
    for method, path in (("get", BASE), ("post", BASE), ("get", f"{BASE}/{hh}"), ("patch", f"{BASE}/{hh}")):
        assert_problem(getattr(client, method)(path, json={}), 401, "unauthorized")


READ_SCOPE = {
    "admin": ["v1a", "v1b", "v2a", "v3a"], "cadre": ["v1a", "v1b", "v2a", "v3a"],
    "cadre_west": ["v3a"], "staff": ["v1a", "v1b"], "staff_east": ["v1a", "v1b", "v2a"],
    "staff_west": ["v3a"], "volunteer": ["v1a", "v1b", "v2a"], "volunteer_west": ["v3a"],
}


def test_read_scope_per_role(client, world):
    """List and read show each role exactly its households; any other household is 404."""
    for user, visible in READ_SCOPE.items():
        headers = world.headers(user)
        # A volunteer searches (q is required for them): every code holds a 0.
        query = "?q=0" if user.startswith("volunteer") else ""
        body = client.get(BASE + query, headers=headers).get_json()
        assert sorted(h["id"] for h in body["items"]) == sorted(world.households[k].id for k in visible), user
        assert body["total"] == len(visible)
        for key, hh in world.households.items():
            r = client.get(f"{BASE}/{hh.id}", headers=headers)
            if key in visible:
                assert r.status_code == 200, (user, key)
                got = r.get_json()
                assert set(got) >= {"id", "code", "village_id", "head_name", "balance", "pending", "status"}
                assert (got["id"], got["code"], got["head_name"]) == (hh.id, hh.code, hh.head_name)
            else:
                assert_problem(r, 404, "not-found")


def test_donor_may_not_read_households(client, world):
    """A donor never sees a household: the list and a household are 403."""
    headers = world.headers("donor")
    assert_problem(client.get(BASE, headers=headers), 403, "forbidden")
    assert_problem(client.get(f"{BASE}/{world.households['v1a'].id}", headers=headers), 403, "forbidden")


def test_unknown_household_is_404(client, world):
    """A household id that does not exist, even an absurd one, is a 404 problem."""
    headers = world.headers("admin")
    for hh_id in (987654, 0, 10**30):
        assert_problem(client.get(f"{BASE}/{hh_id}", headers=headers), 404, "not-found")
        assert_problem(client.patch(f"{BASE}/{hh_id}", headers=headers, json={"members": 2}), 404, "not-found")


@pytest.fixture
def many(world):
    """Nine households in 东坪村 (two from the world and seven more)."""
    admin = world.users["admin"]
    for i in range(7):
        create_household(admin, {"village_id": world.v1.id, "head_name": f"村民{i}"})
    db.session.commit()
    return world


def test_pagination(client, many):
    """Pages hold per_page items in a stable order with the total; together they list everything once."""
    headers = many.headers("staff")
    seen = []
    for page, size in ((1, 4), (2, 4), (3, 1)):
        body = client.get(f"{BASE}?page={page}&per_page=4", headers=headers).get_json()
        assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (page, 4, 9, size)
        seen += [h["id"] for h in body["items"]]
    assert len(set(seen)) == 9
    body = client.get(f"{BASE}?page=4&per_page=4", headers=headers).get_json()
    assert body["items"] == [] and body["total"] == 9
    body = client.get(BASE, headers=headers).get_json()
    assert (body["page"], body["per_page"], len(body["items"])) == (1, 50, 9)


def test_per_page_is_capped_at_500(client, world):
    """per_page above 500 is served as 500."""
    body = client.get(f"{BASE}?per_page=501", headers=world.headers("admin")).get_json()
    assert body["per_page"] == 500 and body["total"] == 4
    body = client.get(f"{BASE}?per_page=500", headers=world.headers("admin")).get_json()
    assert body["per_page"] == 500


def test_bad_pagination_is_422(client, world):
    """page and per_page that are not whole numbers of at least 1 are a 422 naming them."""
    headers = world.headers("admin")
    for field, value in (("page", "0"), ("page", "abc"), ("page", "-1"), ("page", "1.5"), ("page", "²"),
                         ("page", ""), ("per_page", "0"), ("per_page", "x"), ("per_page", "٣")):
        assert_problem(client.get(f"{BASE}?{field}={value}", headers=headers), 422, "validation-error", field)


def test_absurd_page_number_is_empty_not_an_error(client, world):
    """A page number far beyond the end gives an empty page, not a server error."""
    r = client.get(f"{BASE}?page=999999999999999999&per_page=500", headers=world.headers("admin"))
    assert r.status_code == 200 and r.get_json()["items"] == [] and r.get_json()["total"] == 4


def test_search_by_name_and_code(client, world):
    """q finds households by part of the head's name or of the code, within the user's scope only."""
    admin = world.headers("admin")
    assert get_names(client, admin, "?q=喆") == ["王喆"]
    assert get_names(client, admin, "?q=" + world.households["v2a"].code) == ["钟秀英"]
    assert get_names(client, world.headers("staff"), "?q=钟秀英") == []
    assert get_names(client, admin, "?q=%25") == []
    assert get_names(client, admin, "?q=_") == []
    assert get_names(client, admin, "?q=") == get_names(client, admin)
    assert get_names(client, admin, "?q=a%00b") == []


def test_filter_by_village_and_status(client, world):
    """village_id narrows the list to one village in scope; outside scope it is 404, malformed 422."""
    staff_east = world.headers("staff_east")
    assert get_names(client, staff_east, f"?village_id={world.v2.id}") == ["钟秀英"]
    assert_problem(client.get(f"{BASE}?village_id={world.v3.id}", headers=staff_east), 404, "not-found")
    assert_problem(client.get(f"{BASE}?village_id=987654", headers=staff_east), 404, "not-found")
    assert_problem(client.get(f"{BASE}?village_id=abc", headers=staff_east), 422, "validation-error", "village_id")
    world.households["v1a"].status = "exited"
    db.session.commit()
    assert get_names(client, staff_east, "?status=exited") == ["杜玉梅"]
    assert sorted(get_names(client, staff_east, "?status=active")) == ["王喆", "钟秀英"]


def test_patch_household(client, world):
    """Staff edit a household of their village: 200 with the new values, audited with the field names only."""
    hh = world.households["v1a"]
    r = client.patch(f"{BASE}/{hh.id}", headers=world.headers("staff"),
                     json={"members": 6, "phone": "15912345678", "tags": ["五保"], "status": "exited"})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["members"], body["phone"], body["tags"], body["status"]) == (6, "15912345678", ["五保"], "exited")
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.update")).one()
    assert rec.user_id == world.users["staff"].id
    assert sorted(rec.details["fields"]) == ["members", "phone", "status", "tags"]


def test_patch_never_changes_points_code_or_village(client, world):
    """balance, code and village_id in a PATCH are ignored: points move only through the ledger."""
    hh = world.households["v1a"]
    r = client.patch(f"{BASE}/{hh.id}", headers=world.headers("admin"),
                     json={"balance": 1000, "code": "HACK", "village_id": world.v3.id, "id": 1})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["balance"], body["code"], body["village_id"], body["id"]) == (0, hh.code, world.v1.id, hh.id)


def test_patch_out_of_scope(client, world):
    """Editing a household outside scope is 404; by a role that may not edit, 403; nothing changes."""
    cases = [("staff", "v2a", 404, "not-found"), ("staff", "v3a", 404, "not-found"),
             ("staff_west", "v1a", 404, "not-found"), ("staff_east", "v3a", 404, "not-found"),
             ("cadre", "v1a", 403, "forbidden"), ("volunteer", "v1a", 403, "forbidden"),
             ("donor", "v1a", 403, "forbidden")]
    headers = {user: world.headers(user) for user, *_ in cases}
    before = snapshot()
    for user, key, status, slug in cases:
        hh_id = world.households[key].id
        assert_problem(client.patch(f"{BASE}/{hh_id}", headers=headers[user], json={"head_name": "改名"}),
                       status, slug)
        assert snapshot() == before, (user, key)
    db.session.expire_all()
    assert "改名" not in db.session.scalars(select(Household.head_name)).all()


def test_patch_bad_input(client, world):
    """Each bad field in a PATCH is a 422 naming it, and the household is unchanged."""
    hh = world.households["v1a"]
    headers = world.headers("staff")
    before = snapshot()
    cases = [(f, v) for f, v in BAD_FIELDS if v is not None] + [("status", "gone"), ("status", ""), ("status", 1)]
    for field, value in cases:
        assert_problem(client.patch(f"{BASE}/{hh.id}", headers=headers, json={field: value}),
                       422, "validation-error", field)
    assert_problem(client.patch(f"{BASE}/{hh.id}", headers=headers, data="{", content_type="application/json"),
                   400, "validation-error", "body")
    assert_problem(client.patch(f"{BASE}/{hh.id}", headers=headers, json=[1]), 422, "validation-error", "body")
    assert snapshot() == before
    db.session.expire_all()
    got = db.session.get(Household, hh.id)
    assert (got.head_name, got.members, got.phone, got.status) == ("杜玉梅", 4, None, "active")
