"""Regions, supermarkets and users over the API: roles, scope and bad input."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Region, User
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
    """Each region item carries id, name, level, parent_id and whether it is active."""
    items = client.get("/api/v1/regions", headers=world.headers("admin")).get_json()["items"]
    v1 = next(i for i in items if i["id"] == world.v1.id)
    assert v1 == {"id": world.v1.id, "name": "东坪村", "level": "village", "parent_id": world.east.id,
                  "active": True}
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
    """Short password, duplicate username, bad role, a role's missing scope field or a scope field the
    role has no use for (a staff account given a supermarket): 422 naming it, nothing written."""
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
        case("supermarket_ids", role="staff", region_id=world.v1.id, supermarket_ids=[world.sm_east.id]),
        case("region_id", role="volunteer", supermarket_ids=[world.sm_east.id], region_id=world.v1.id),
        case("donor_id", role="admin", donor_id=world.donor.id),
    ])


def test_create_user_password_of_exactly_ten(client, world):
    """A password of exactly 10 characters is long enough."""
    r = client.post("/api/v1/users", headers=world.headers("admin"),
                    json={"username": "ten", "password": "0123456789", "role": "admin"})
    assert r.status_code == 201
    assert db.session.scalars(select(User).where(User.username == "ten")).one().role == "admin"


# -- changing accounts, regions and supermarkets (issue 10) --------------------------------

def patch(client, world, path, body, user="admin"):
    return client.patch(path, headers=world.headers(user), json=body)


def audit_actions(object_type, object_id) -> list[str]:
    return db.session.scalars(select(AuditRecord.action).where(
        AuditRecord.object_type == object_type, AuditRecord.object_id == object_id)
        .order_by(AuditRecord.id)).all()


def test_patch_user_changes_role_scope_and_name(client, world):
    """A staff account becomes a volunteer at the west supermarket: its region goes, its API
    view follows the new scope at once, the change is audited; the name shown is set."""
    staff = world.users["staff"]
    headers = world.headers("staff")
    r = patch(client, world, f"/api/v1/users/{staff.id}",
              {"role": "volunteer", "supermarket_ids": [world.sm_west.id], "display_name": "周晓梅"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["role"], body["supermarket_ids"], body["display_name"], body["active"]) == \
        ("volunteer", [world.sm_west.id], "周晓梅", True)
    assert "region_id" not in body
    db.session.expire_all()
    assert db.session.get(User, staff.id).region_id is None
    assert names(client, world, "staff", "/api/v1/supermarkets") == {"西坡乡爱心超市"}
    assert client.get("/api/v1/supermarkets", headers=headers).status_code == 200
    assert "user.update" in audit_actions("users", staff.id)
    # and back to staff of a village, with a region again
    r = patch(client, world, f"/api/v1/users/{staff.id}", {"role": "staff", "region_id": world.v3.id})
    assert r.status_code == 200 and r.get_json()["region_id"] == world.v3.id
    assert "supermarket_ids" not in r.get_json()
    assert [h["head_name"] for h in client.get("/api/v1/households", headers=headers)
            .get_json()["items"]] == ["李堃"]


def test_patch_user_keeps_what_is_left_out(client, world):
    """A PATCH of the name shown alone leaves the role and scope as they were; a cadre moved to
    another region keeps the role."""
    cadre = world.users["cadre_west"]
    r = patch(client, world, f"/api/v1/users/{cadre.id}", {"display_name": "西坡乡干部"})
    assert r.status_code == 200
    assert (r.get_json()["role"], r.get_json()["region_id"]) == ("cadre", world.west.id)
    r = patch(client, world, f"/api/v1/users/{cadre.id}", {"region_id": world.east.id})
    assert (r.get_json()["role"], r.get_json()["region_id"]) == ("cadre", world.east.id)
    assert names(client, world, "cadre_west", "/api/v1/supermarkets") == {"东岭镇爱心超市"}


def test_patch_user_bad_input(client, world):
    """The rules of creating hold: a staff account cannot be given a supermarket, a role needs its
    scope, ids must name something, active is true or false; each 422 names its field and nothing changes."""
    uid = world.users["staff"].id
    retired = client.post("/api/v1/regions", headers=world.headers("admin"),
                          json={"name": "旧村", "level": "village", "parent_id": world.west.id}).get_json()
    assert patch(client, world, f"/api/v1/regions/{retired['id']}", {"active": False}).status_code == 200
    cases = [
        ({"supermarket_ids": [world.sm_east.id]}, "supermarket_ids"),
        ({"donor_id": world.donor.id}, "donor_id"),
        ({"region_id": None}, "region_id"),
        ({"region_id": 987654}, "region_id"),
        ({"region_id": "东坪村"}, "region_id"),
        ({"region_id": retired["id"]}, "region_id"),
        ({"role": "volunteer"}, "supermarket_ids"),
        ({"role": "volunteer", "supermarket_ids": [987654]}, "supermarket_ids"),
        ({"role": "volunteer", "supermarket_ids": []}, "supermarket_ids"),
        ({"role": "volunteer", "supermarket_ids": [world.sm_east.id], "region_id": world.v1.id}, "region_id"),
        ({"role": "donor"}, "donor_id"),
        ({"role": "admin", "region_id": world.v1.id}, "region_id"),
        ({"role": "superuser"}, "role"),
        ({"role": None}, "role"),
        ({"active": "false"}, "active"),
        ({"active": 0}, "active"),
        ({"active": None}, "active"),
        ({"display_name": "名" * 101}, "display_name"),
    ]
    headers = world.headers("admin")
    before = snapshot()
    for body, field in cases:
        r = client.patch(f"/api/v1/users/{uid}", headers=headers, json=body)
        assert_problem(r, 422, "validation-error", field)
        assert snapshot() == before, body
        db.session.expire_all()
        user = db.session.get(User, uid)
        assert (user.role, user.region_id, user.supermarkets, user.active) == ("staff", world.v1.id, [], True), body


def test_admin_cannot_demote_or_disable_themselves(client, world):
    """An admin's own role and active flag are refused (422 naming the field): an admin always remains."""
    me = world.users["admin"].id
    assert_problem(patch(client, world, f"/api/v1/users/{me}", {"active": False}),
                   422, "validation-error", "active")
    assert_problem(patch(client, world, f"/api/v1/users/{me}", {"role": "cadre", "region_id": world.county.id}),
                   422, "validation-error", "role")
    db.session.expire_all()
    assert db.session.get(User, me).role == "admin" and db.session.get(User, me).active
    # another admin may
    other = client.post("/api/v1/users", headers=world.headers("admin"),
                        json={"username": "admin2", "password": PASSWORD, "role": "admin"}).get_json()
    r = patch(client, world, f"/api/v1/users/{other['id']}", {"role": "cadre", "region_id": world.county.id})
    assert r.status_code == 200 and r.get_json()["role"] == "cadre"


def test_changes_to_places_and_users_are_admin_only(client, world):
    """PATCH of a user, region or supermarket and a password reset are 403 for every other role, writing nothing;
    an unknown id is 404 for the admin."""
    before = snapshot()
    uid = world.users["staff"].id
    for role in NON_ADMINS:
        headers = world.headers(role)
        before = snapshot()
        for method, path, body in (
                ("patch", f"/api/v1/users/{uid}", {"display_name": "x"}),
                ("post", f"/api/v1/users/{uid}/password-reset", None),
                ("patch", f"/api/v1/regions/{world.v1.id}", {"name": "改名村"}),
                ("patch", f"/api/v1/supermarkets/{world.sm_east.id}", {"active": False})):
            assert_problem(getattr(client, method)(path, headers=headers, json=body), 403, "forbidden")
        assert snapshot() == before
    headers = world.headers("admin")
    for method, path, body in (("patch", "/api/v1/users/987654", {"display_name": "x"}),
                               ("post", "/api/v1/users/987654/password-reset", None),
                               ("patch", "/api/v1/regions/987654", {"name": "x"}),
                               ("patch", "/api/v1/supermarkets/987654", {"name": "x"})):
        assert_problem(getattr(client, method)(path, headers=headers, json=body), 404, "not-found")
    db.session.expire_all()
    assert db.session.get(User, uid).display_name is None
    assert db.session.get(Region, world.v1.id).name == "东坪村"


def test_rename_region(client, world):
    """A region is renamed (audited); a name its siblings already use is 422."""
    r = patch(client, world, f"/api/v1/regions/{world.v1.id}", {"name": "东坪新村"})
    assert r.status_code == 200 and r.get_json()["name"] == "东坪新村"
    assert "region.update" in audit_actions("regions", world.v1.id)
    assert_problem(patch(client, world, f"/api/v1/regions/{world.v1.id}", {"name": "石门村"}),
                   422, "validation-error", "name")
    assert_problem(patch(client, world, f"/api/v1/regions/{world.v1.id}", {"name": ""}),
                   422, "validation-error", "name")
    # the same name under another township is fine
    assert patch(client, world, f"/api/v1/regions/{world.v3.id}", {"name": "石门村"}).status_code == 200


def test_move_village_scopes_and_reports_follow(client, world):
    """石门村 moves from 东岭镇 to 西坡乡: the west cadre now sees it and its household, the east staff no
    longer does, the west township's report counts it, and its supermarket is now the west one."""
    v2 = world.v2.id
    assert "钟秀英" not in {h["head_name"] for h in client.get(
        "/api/v1/households", headers=world.headers("cadre_west")).get_json()["items"]}
    west_before = client.get(f"/api/v1/reports/summary?region_id={world.west.id}",
                             headers=world.headers("admin")).get_json()["households"]
    r = patch(client, world, f"/api/v1/regions/{v2}", {"parent_id": world.west.id})
    assert r.status_code == 200 and r.get_json()["parent_id"] == world.west.id
    db.session.expire_all()
    assert db.session.get(Region, v2).path == f"{world.west.path}{v2}/"
    assert "石门村" in names(client, world, "cadre_west", "/api/v1/regions")
    assert "石门村" not in names(client, world, "staff_east", "/api/v1/regions")
    assert "钟秀英" in {h["head_name"] for h in client.get(
        "/api/v1/households", headers=world.headers("cadre_west")).get_json()["items"]}
    assert "钟秀英" not in {h["head_name"] for h in client.get(
        "/api/v1/households", headers=world.headers("staff_east")).get_json()["items"]}
    west_after = client.get(f"/api/v1/reports/summary?region_id={world.west.id}",
                            headers=world.headers("admin")).get_json()["households"]
    assert west_after == west_before + 1
    assert "region.update" in audit_actions("regions", v2)


def test_move_township_rewrites_the_whole_subtree(client, world):
    """A township moved under another county takes its villages with it: every path below is rewritten,
    and a cadre of the old county no longer reaches any of it."""
    other = client.post("/api/v1/regions", headers=world.headers("admin"),
                        json={"name": "白水县", "level": "county"}).get_json()
    r = patch(client, world, f"/api/v1/regions/{world.east.id}", {"parent_id": other["id"]})
    assert r.status_code == 200
    db.session.expire_all()
    base = f"/{other['id']}/{world.east.id}/"
    assert db.session.get(Region, world.east.id).path == base
    assert db.session.get(Region, world.v1.id).path == f"{base}{world.v1.id}/"
    assert db.session.get(Region, world.v2.id).path == f"{base}{world.v2.id}/"
    assert db.session.get(Region, world.v3.id).path == f"{world.county.path}{world.west.id}/{world.v3.id}/"
    assert names(client, world, "cadre", "/api/v1/regions") == {"青山县", "西坡乡", "西沟村"}
    assert names(client, world, "staff", "/api/v1/regions") == {"东坪村"}


def test_move_region_bad_input(client, world):
    """A region moves only under a region of the level just above: another level, an unknown or a retired
    region, or no parent at all is 422 naming parent_id; nothing moves."""
    empty = client.post("/api/v1/regions", headers=world.headers("admin"),
                        json={"name": "空镇", "level": "township", "parent_id": world.county.id}).get_json()
    assert patch(client, world, f"/api/v1/regions/{empty['id']}", {"active": False}).status_code == 200
    for parent in (world.county.id, world.v3.id, world.v1.id, 987654, "西坡乡", None, empty["id"]):
        assert_problem(patch(client, world, f"/api/v1/regions/{world.v2.id}", {"parent_id": parent}),
                       422, "validation-error", "parent_id")
    db.session.expire_all()
    v2 = db.session.get(Region, world.v2.id)
    assert (v2.parent_id, v2.path) == (world.east.id, f"{world.east.path}{world.v2.id}/")


def test_retire_region_refused_while_it_holds_active_households_or_users(client, world):
    """A region (or one under it) with active households, active accounts or an open supermarket is
    409 conflict; nothing changes."""
    for region in (world.v1, world.east, world.county):
        assert_problem(patch(client, world, f"/api/v1/regions/{region.id}", {"active": False}), 409, "conflict")
    # a village whose only tie is an account
    village = client.post("/api/v1/regions", headers=world.headers("admin"),
                          json={"name": "新村", "level": "village", "parent_id": world.west.id}).get_json()
    client.post("/api/v1/users", headers=world.headers("admin"),
                json={"username": "newstaff", "password": PASSWORD, "role": "staff", "region_id": village["id"]})
    body = assert_problem(patch(client, world, f"/api/v1/regions/{village['id']}", {"active": False}),
                          409, "conflict")
    assert "新村" in body["detail"]
    db.session.expire_all()
    assert all(r.active for r in db.session.scalars(select(Region)))


def test_retired_region_takes_nothing_new_until_reactivated(client, world):
    """A retired village takes no household; a retired township no account, supermarket or region, nor
    do its villages; each is a 422 naming the field. Reactivated, the village takes households again."""
    admin = world.headers("admin")
    town = client.post("/api/v1/regions", headers=admin,
                       json={"name": "南山乡", "level": "township", "parent_id": world.county.id}).get_json()
    village = client.post("/api/v1/regions", headers=admin,
                          json={"name": "南山村", "level": "village", "parent_id": town["id"]}).get_json()
    r = patch(client, world, f"/api/v1/regions/{town['id']}", {"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert "region.retire" in audit_actions("regions", town["id"])
    before = snapshot()
    assert_problem(client.post("/api/v1/households", headers=admin,
                               json={"village_id": village["id"], "head_name": "张三"}),
                   422, "validation-error", "village_id")
    assert_problem(client.post("/api/v1/users", headers=admin, json={
        "username": "southstaff", "password": PASSWORD, "role": "staff", "region_id": village["id"]}),
        422, "validation-error", "region_id")
    assert_problem(client.post("/api/v1/supermarkets", headers=admin,
                               json={"name": "南山乡爱心超市", "region_id": town["id"]}),
                   422, "validation-error", "region_id")
    assert_problem(client.post("/api/v1/regions", headers=admin,
                               json={"name": "北村", "level": "village", "parent_id": town["id"]}),
                   422, "validation-error", "parent_id")
    assert_problem(client.patch(f"/api/v1/regions/{world.v2.id}", headers=admin,
                                json={"parent_id": town["id"]}), 422, "validation-error", "parent_id")
    assert snapshot() == before
    # the village cannot come back while its township is retired
    patch(client, world, f"/api/v1/regions/{village['id']}", {"active": False})
    assert_problem(patch(client, world, f"/api/v1/regions/{village['id']}", {"active": True}), 409, "conflict")
    assert patch(client, world, f"/api/v1/regions/{town['id']}", {"active": True}).status_code == 200
    assert patch(client, world, f"/api/v1/regions/{village['id']}", {"active": True}).status_code == 200
    assert "region.reactivate" in audit_actions("regions", town["id"])
    r = client.post("/api/v1/households", headers=admin, json={"village_id": village["id"], "head_name": "张三"})
    assert r.status_code == 201


def test_region_patch_bad_active(client, world):
    """active must be JSON true or false."""
    for value in ("no", 0, None, [False]):
        assert_problem(patch(client, world, f"/api/v1/regions/{world.v1.id}", {"active": value}),
                       422, "validation-error", "active")


def test_rename_and_move_supermarket(client, world):
    """A supermarket is renamed (unique) and serves another region: its volunteer then serves that
    region's households; both audited."""
    sm = world.sm_east.id
    r = patch(client, world, f"/api/v1/supermarkets/{sm}", {"name": "东岭镇中心爱心超市"})
    assert r.status_code == 200 and r.get_json()["name"] == "东岭镇中心爱心超市"
    assert_problem(patch(client, world, f"/api/v1/supermarkets/{sm}", {"name": "西坡乡爱心超市"}),
                   422, "validation-error", "name")
    for bad in (None, 987654, "东岭镇"):
        assert_problem(patch(client, world, f"/api/v1/supermarkets/{sm}", {"region_id": bad}),
                       422, "validation-error", "region_id")
    r = patch(client, world, f"/api/v1/supermarkets/{sm}", {"region_id": world.v2.id})
    assert r.status_code == 200 and r.get_json()["region_id"] == world.v2.id
    found = client.get("/api/v1/households?q=杜", headers=world.headers("volunteer")).get_json()["items"]
    assert found == []
    found = client.get("/api/v1/households?q=钟", headers=world.headers("volunteer")).get_json()["items"]
    assert [h["head_name"] for h in found] == ["钟秀英"]
    assert audit_actions("supermarkets", sm).count("supermarket.update") == 2


def test_retired_supermarket_takes_no_checkout_or_donation(client, world):
    """A retired supermarket answers 409 conflict, in the user's language, to a checkout and to a donation,
    writing nothing; it is still listed, with active false; reactivated, it serves again."""
    from tests.checkout_helpers import card_for, counts, give_points, stocked
    shop = stocked(world)
    give_points(world, world.households["v1a"], 100)
    payload = card_for(world, "v1a")
    sm = world.sm_east.id
    r = patch(client, world, f"/api/v1/supermarkets/{sm}", {"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert "supermarket.retire" in audit_actions("supermarkets", sm)
    listed = client.get("/api/v1/supermarkets", headers=world.headers("volunteer")).get_json()["items"]
    assert [(s["id"], s["active"]) for s in listed] == [(sm, False)]
    cart = {"supermarket_id": sm, "card_payload": payload,
            "lines": [{"product_id": shop["香皂"].id, "quantity": 1}]}
    before = counts()
    body = assert_problem(client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=cart),
                          409, "conflict")
    assert "东岭镇爱心超市" in body["detail"] and "停用" in body["detail"]
    donation = {"donor_id": world.donor.id, "supermarket_id": sm, "received_on": None,
                "lines": [{"product_id": shop["香皂"].id, "quantity": 5}]}
    assert_problem(client.post("/api/v1/donations", headers=world.headers("volunteer"), json=donation),
                   409, "conflict")
    assert counts() == before
    assert patch(client, world, f"/api/v1/supermarkets/{sm}", {"active": True}).status_code == 200
    assert client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=cart).status_code == 201
    assert client.post("/api/v1/donations", headers=world.headers("volunteer"), json=donation).status_code == 201
