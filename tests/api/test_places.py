"""Regions, supermarkets and users over the API: roles, scope and bad input."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, User
from tests.api.problems import assert_problem, snapshot
from tests.factories import PASSWORD

NON_ADMINS = ("cadre", "staff", "volunteer", "donor")


def names(client, world, user, path):
    r = client.get(path, headers=world.headers(user))
    assert r.status_code == 200
    return {item["name"] for item in r.get_json()["items"]}


def test_regions_list_per_role(client, world):
    """GET /regions shows each user only the part of the tree they work in."""
    everything = {"青山县", "东岭镇", "西坡乡", "东坪村", "石门村", "西沟村"}
    assert names(client, world, "admin", "/api/v1/regions") == everything
    assert names(client, world, "cadre", "/api/v1/regions") == everything
    assert names(client, world, "cadre_west", "/api/v1/regions") == {"西坡乡", "西沟村"}
    assert names(client, world, "staff", "/api/v1/regions") == {"东坪村"}
    assert names(client, world, "staff_east", "/api/v1/regions") == {"东岭镇", "东坪村", "石门村"}
    assert names(client, world, "volunteer", "/api/v1/regions") == {"东岭镇", "东坪村", "石门村"}
    assert names(client, world, "donor", "/api/v1/regions") == set()


def test_region_items_have_contract_fields(client, world):
    """Each region item carries id, name, level and parent_id."""
    items = client.get("/api/v1/regions", headers=world.headers("admin")).get_json()["items"]
    v1 = next(i for i in items if i["id"] == world.v1.id)
    assert v1 == {"id": world.v1.id, "name": "东坪村", "level": "village", "parent_id": world.east.id}
    county = next(i for i in items if i["id"] == world.county.id)
    assert county["parent_id"] is None and county["level"] == "county"


def test_supermarkets_list_per_role(client, world):
    """GET /supermarkets shows the supermarkets a user works at or whose area covers theirs."""
    both = {"东岭镇爱心超市", "西坡乡爱心超市"}
    assert names(client, world, "admin", "/api/v1/supermarkets") == both
    assert names(client, world, "cadre", "/api/v1/supermarkets") == both
    assert names(client, world, "cadre_west", "/api/v1/supermarkets") == {"西坡乡爱心超市"}
    assert names(client, world, "staff", "/api/v1/supermarkets") == {"东岭镇爱心超市"}
    assert names(client, world, "staff_west", "/api/v1/supermarkets") == {"西坡乡爱心超市"}
    assert names(client, world, "volunteer", "/api/v1/supermarkets") == {"东岭镇爱心超市"}
    assert names(client, world, "volunteer_west", "/api/v1/supermarkets") == {"西坡乡爱心超市"}
    assert names(client, world, "donor", "/api/v1/supermarkets") == set()


def test_no_token_is_401(client, world):
    """Without a bearer token every places endpoint answers a 401 problem."""
    for method, path in (("get", "/api/v1/regions"), ("post", "/api/v1/regions"), ("get", "/api/v1/supermarkets"),
                         ("post", "/api/v1/supermarkets"), ("post", "/api/v1/users")):
        assert_problem(getattr(client, method)(path, json={}), 401, "unauthorized")


def test_create_region(client, world):
    """An admin adds a village under a township: 201 with the region, listed afterwards, audited."""
    r = client.post("/api/v1/regions", headers=world.headers("admin"),
                    json={"name": "新村", "level": "village", "parent_id": world.west.id})
    assert r.status_code == 201
    body = r.get_json()
    assert {k: body[k] for k in ("name", "level", "parent_id")} == \
        {"name": "新村", "level": "village", "parent_id": world.west.id}
    assert "新村" in names(client, world, "cadre_west", "/api/v1/regions")
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "region.create")
                             .order_by(AuditRecord.id.desc())).first()
    assert (rec.user_id, rec.object_id) == (world.users["admin"].id, body["id"])


def test_create_root_region_at_any_level(client, world):
    """A region without a parent may sit at any level (a deployment may start anywhere)."""
    r = client.post("/api/v1/regions", headers=world.headers("admin"),
                    json={"name": "某省", "level": "province", "parent_id": None})
    assert r.status_code == 201 and r.get_json()["parent_id"] is None


def test_only_admin_creates_places_and_users(client, world):
    """Regions, supermarkets and users are admin-only: any other role gets 403 and nothing is written."""
    for user in NON_ADMINS:
        refused_for(client, world, user)


def refused_for(client, world, user):
    headers = world.headers(user)
    before = snapshot()
    assert_problem(client.post("/api/v1/regions", headers=headers,
                               json={"name": "新村", "level": "village", "parent_id": world.east.id}),
                   403, "forbidden")
    assert_problem(client.post("/api/v1/supermarkets", headers=headers,
                               json={"name": "新超市", "region_id": world.east.id}), 403, "forbidden")
    assert_problem(client.post("/api/v1/users", headers=headers,
                               json={"username": "eve", "password": PASSWORD, "role": "admin"}),
                   403, "forbidden")
    assert snapshot() == before


def post_cases(client, world, path, cases):
    """Each bad body is a 422 validation-error naming its field; nothing is written."""
    headers = world.headers("admin")
    before = snapshot()
    for body, field in cases:
        r = client.post(path, headers=headers, json=body)
        assert_problem(r, 422, "validation-error", field)
        assert snapshot() == before, body


def test_create_region_bad_input(client, world):
    """Missing, empty, too long, wrongly typed or misplaced region fields are 422 and write nothing."""
    east = world.east.id
    post_cases(client, world, "/api/v1/regions", [
        ({"level": "village", "parent_id": east}, "name"),
        ({"name": "", "level": "village", "parent_id": east}, "name"),
        ({"name": " \t", "level": "village", "parent_id": east}, "name"),
        ({"name": "村" * 101, "level": "village", "parent_id": east}, "name"),
        ({"name": ["新村"], "level": "village", "parent_id": east}, "name"),
        ({"name": "东坪村", "level": "village", "parent_id": east}, "name"),
        ({"name": "新村", "parent_id": east}, "level"),
        ({"name": "新村", "level": "", "parent_id": east}, "level"),
        ({"name": "新村", "level": "hamlet", "parent_id": east}, "level"),
        ({"name": "新村", "level": 5, "parent_id": east}, "level"),
        ({"name": "新村", "level": "township", "parent_id": east}, "level"),
        ({"name": "新村", "level": "village", "parent_id": 987654}, "parent_id"),
        ({"name": "新村", "level": "village", "parent_id": "东岭镇"}, "parent_id"),
        ({"name": "新村", "level": "village", "parent_id": 1.5}, "parent_id"),
        ({"name": "新村", "level": "village", "parent_id": 10**30}, "parent_id"),
    ])


def test_create_supermarket(client, world):
    """An admin adds a supermarket: 201 {id, name, region_id}; its volunteers' area follows the region."""
    r = client.post("/api/v1/supermarkets", headers=world.headers("admin"),
                    json={"name": "石门村爱心超市", "region_id": world.v2.id})
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) >= {"id", "name", "region_id"}
    assert (body["name"], body["region_id"]) == ("石门村爱心超市", world.v2.id)
    assert "石门村爱心超市" in names(client, world, "staff_east", "/api/v1/supermarkets")
    assert "石门村爱心超市" not in names(client, world, "staff", "/api/v1/supermarkets")


def test_create_supermarket_bad_input(client, world):
    """Missing, empty, too long, duplicate or wrongly typed supermarket fields are 422 and write nothing."""
    east = world.east.id
    post_cases(client, world, "/api/v1/supermarkets", [
        ({"region_id": east}, "name"),
        ({"name": "", "region_id": east}, "name"),
        ({"name": "   ", "region_id": east}, "name"),
        ({"name": "超" * 101, "region_id": east}, "name"),
        ({"name": 7, "region_id": east}, "name"),
        ({"name": "东岭镇爱心超市", "region_id": east}, "name"),
        ({"name": "新超市"}, "region_id"),
        ({"name": "新超市", "region_id": ""}, "region_id"),
        ({"name": "新超市", "region_id": 987654}, "region_id"),
        ({"name": "新超市", "region_id": "东岭镇"}, "region_id"),
        ({"name": "新超市", "region_id": True}, "region_id"),
        ({"name": "新超市", "region_id": [east]}, "region_id"),
    ])


@pytest.mark.parametrize("path", ["/api/v1/regions", "/api/v1/supermarkets", "/api/v1/users"])
def test_malformed_json_and_array_body(client, world, path):
    """A body that is not JSON is a 400 and a JSON array a 422, both naming the body; nothing is written."""
    headers = world.headers("admin")
    before = snapshot()
    for raw in ('{"name": "新村",', "[" * 100_000, "\xff\xfe", "null", "'single'"):
        r = client.post(path, headers=headers, data=raw.encode("utf-8", "surrogateescape")
                        if raw != "\xff\xfe" else b"\xff\xfe\x00", content_type="application/json")
        body = assert_problem(r, 400 if raw != "null" else 422, "validation-error", "body")
        assert body["status"] == r.status_code
    assert_problem(client.post(path, headers=headers, json=[{"name": "新村"}]), 422, "validation-error", "body")
    assert_problem(client.post(path, headers=headers, json="新村"), 422, "validation-error", "body")
    assert snapshot() == before


def test_create_users_of_every_role(client, world):
    """An admin creates an account per role with its scope; 201 {id, username, role}; each can log in."""
    specs = {
        "new_admin": {"role": "admin"},
        "new_cadre": {"role": "cadre", "region_id": world.west.id},
        "new_staff": {"role": "staff", "region_id": world.v2.id},
        "new_volunteer": {"role": "volunteer", "supermarket_ids": [world.sm_west.id]},
        "new_donor": {"role": "donor", "donor_id": world.donor.id},
    }
    headers = world.headers("admin")
    for username, spec in specs.items():
        r = client.post("/api/v1/users", headers=headers, json={"username": username, "password": PASSWORD, **spec})
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        assert (body["username"], body["role"]) == (username, spec["role"]) and isinstance(body["id"], int)
        assert "password" not in body and "password_hash" not in body
        login = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert login.status_code == 201 and login.get_json()["user"]["role"] == spec["role"]
    token = client.post("/api/v1/auth/token", json={"username": "new_staff", "password": PASSWORD}).get_json()["token"]
    r = client.get("/api/v1/households", headers={"Authorization": f"Bearer {token}"})
    assert [h["head_name"] for h in r.get_json()["items"]] == ["钟秀英"]


def test_create_user_bad_input(client, world):
    """Short password, duplicate username, bad role or a role's missing scope field: 422, nothing written."""
    def case(field, **overrides):
        return ({"username": "newbie", "password": PASSWORD, "role": "admin", **overrides}, field)
    post_cases(client, world, "/api/v1/users", [
        case("password", password="x" * 9),
        case("password", password=""),
        case("password", password=None),
        case("password", password=1234567890123),
        case("password", password="x" * 201),
        case("username", username="staff"),
        case("username", username=""),
        case("username", username="  "),
        case("username", username="ab"),
        case("username", username="u" * 65),
        case("username", username="bad name"),
        case("username", username=12345),
        case("role", role=""),
        case("role", role="superuser"),
        case("role", role=None),
        case("role", role=["admin"]),
        case("region_id", role="staff"),
        case("region_id", role="staff", region_id=987654),
        case("region_id", role="cadre"),
        case("region_id", role="cadre", region_id="县"),
        case("supermarket_ids", role="volunteer"),
        case("supermarket_ids", role="volunteer", supermarket_ids=[]),
        case("supermarket_ids", role="volunteer", supermarket_ids=world.sm_east.id),
        case("supermarket_ids", role="volunteer", supermarket_ids=[987654]),
        case("donor_id", role="donor"),
        case("donor_id", role="donor", donor_id=987654),
    ])


def test_create_user_password_of_exactly_ten(client, world):
    """A password of exactly 10 characters is long enough."""
    r = client.post("/api/v1/users", headers=world.headers("admin"),
                    json={"username": "ten", "password": "0123456789", "role": "admin"})
    assert r.status_code == 201
    assert db.session.scalars(select(User).where(User.username == "ten")).one().role == "admin"
