"""The pages: each role's home, admin and register access, scope, forms and login."""
from urllib.parse import urljoin, urlparse

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Household, Region, Supermarket, User
from tests.factories import PASSWORD, count, login


@pytest.fixture
def en_client(client):
    """A browser that chose English, so messages can be checked by their text."""
    client.set_cookie("lang", "en")
    return client


def page(r) -> str:
    return r.get_data(as_text=True)


def on_site(location: str) -> bool:
    """Where a browser would go for this Location (browsers read a backslash as a slash) stays on this host."""
    return urlparse(urljoin("http://localhost/", location.replace("\\", "/"))).netloc == "localhost"


HOME = {
    "admin": ["/admin/regions", "/admin/supermarkets", "/admin/users", "/households/"],
    "cadre": ["东坪村", "石门村", "西沟村", "/households/"],
    "staff": ["东坪村", "/households/new"],
    "volunteer": ["东岭镇爱心超市"],
    "donor": ["Donor"],
}
NOT_ON_HOME = {
    "staff": ["石门村", "西沟村", "/admin/"],
    "volunteer": ["西坡乡爱心超市", "/households/", "/admin/"],
    "donor": ["/households/", "/admin/", "爱心超市"],
    "cadre": ["/admin/", "/households/new"],
    "admin": [],
}


def test_each_role_logs_in_and_reaches_home(en_client, world):
    """Each role logs in on the login page and lands on its own home page, with what it needs and no more."""
    for role in HOME:
        r = login(en_client, role)
        assert r.status_code == 302 and r.headers["Location"] == "/"
        r = en_client.get("/")
        assert r.status_code == 200
        html = page(r)
        assert f"Hello, {role}" in html
        for text in HOME[role]:
            assert text in html, (role, text)
        for text in NOT_ON_HOME[role]:
            assert text not in html, (role, text)
        en_client.post("/logout")


def test_wrong_password_stays_on_login_page(en_client, world):
    """A wrong password shows the login page again with a clear message and no session."""
    r = login(en_client, "staff", "wrong password!")
    assert r.status_code == 200 and "Wrong username or password." in page(r)
    assert en_client.get("/").status_code == 302


def test_disabled_account_cannot_log_in(en_client, world):
    """A disabled account is refused at the login page."""
    world.users["staff"].active = False
    db.session.commit()
    r = login(en_client, "staff")
    assert r.status_code == 200 and "Wrong username or password." in page(r)


def test_login_with_odd_username_is_a_clear_refusal(en_client, world):
    """A username with a NUL byte or of 200 characters is refused like a wrong password, not a server error."""
    for username in ("sta\x00ff", "x" * 200, ""):
        r = login(en_client, username)
        assert r.status_code == 200
    assert en_client.get("/").status_code == 302


def test_login_required_pages_redirect_to_login(client, world):
    """A page that needs a login sends an anonymous visitor to /login, remembering where they were going."""
    for path in ("/", "/households/", "/households/new", "/admin/users", "/password"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next="), path


def test_login_returns_to_next_page(client, world):
    """After logging in, the user goes on to the page they asked for."""
    r = client.post("/login?next=/households/", data={"username": "staff", "password": PASSWORD})
    assert r.headers["Location"] == "/households/"


OFF_SITE = ["//evil.example/", "/\\evil.example", "https://evil.example/", "/\\/evil.example",
            "javascript:alert(1)", "\\\\evil.example"]


def test_login_never_redirects_off_site(client, world):
    """A next= pointing off the site (including the /\\host trick browsers follow) never leaves the site."""
    assert not on_site("//evil.example/") and not on_site("/\\evil.example")
    for target in OFF_SITE:
        r = client.post("/login", query_string={"next": target}, data={"username": "staff", "password": PASSWORD})
        assert r.status_code == 302 and on_site(r.headers["Location"]), target
        client.post("/logout")


def test_language_switch_never_redirects_off_site(client, world):
    """The language switch goes back only to pages of this site."""
    for target in OFF_SITE:
        r = client.get("/lang/en", query_string={"next": target})
        assert r.status_code == 302 and on_site(r.headers["Location"]), target
    r = client.get("/lang/en", query_string={"next": "/households/?q=x"})
    assert r.headers["Location"] == "/households/?q=x"
    r = client.get("/lang/en", headers={"Referer": "http://localhost/households/?page=2"})
    assert r.headers["Location"] == "/households/?page=2"
    r = client.get("/lang/en", headers={"Referer": "http://evil.example/phish"})
    assert r.headers["Location"] == "/"


def test_logout_requires_post(client, world):
    """GET /logout is refused (405) and leaves the user logged in; POST logs out."""
    login(client, "staff")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    r = client.post("/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_login_page_throttles_failures_per_username(en_client, world):
    """After 10 failed logins for one username the 11th attempt, even with the right password, is a 429 page."""
    for _ in range(10):
        r = login(en_client, "staff", "wrong password!")
        assert r.status_code == 200
    r = login(en_client, "staff")
    assert r.status_code == 429
    assert "Too many attempts" in page(r)
    assert en_client.get("/").status_code == 302
    r = login(en_client, "cadre")
    assert r.status_code == 302


def test_login_page_successes_do_not_count(client, world):
    """Successful logins never lock an account out."""
    for _ in range(12):
        assert login(client, "staff").status_code == 302
        client.post("/logout")


ADMIN_PAGES = ["/admin/regions", "/admin/supermarkets", "/admin/users"]


def test_admin_pages_forbidden_for_others(client, world):
    """Admin pages answer 403 to every other role, for reading and for posting; nothing is written."""
    for role in ("cadre", "staff", "volunteer", "donor"):
        admin_refuses(client, world, role)


def admin_refuses(client, world, role):
    login(client, role)
    before = (count(Region), count(Supermarket), count(User))
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/regions", data={"name": "新村", "level": "village",
                                               "parent_id": str(world.east.id)}).status_code == 403
    assert client.post("/admin/supermarkets", data={"name": "新超市", "region_id": str(world.east.id)}).status_code == 403
    assert client.post("/admin/users", data={"username": "eve", "password": PASSWORD, "role": "admin"}).status_code == 403
    assert client.post(f"/admin/users/{world.users['admin'].id}/active/0").status_code == 403
    assert (count(Region), count(Supermarket), count(User)) == before
    assert db.session.get(User, world.users["admin"].id).active
    client.post("/logout")


def test_admin_pages_for_admin(client, world):
    """An admin sees the region tree, the supermarkets and the accounts."""
    login(client, "admin")
    assert "西沟村" in page(client.get("/admin/regions"))
    assert "西坡乡爱心超市" in page(client.get("/admin/supermarkets"))
    assert "volunteer_west" in page(client.get("/admin/users"))


def test_admin_creates_region_supermarket_and_user_by_page(client, world):
    """The admin forms create a region, a supermarket and an account, each audited."""
    login(client, "admin")
    r = client.post("/admin/regions", data={"name": "新村", "level": "village", "parent_id": str(world.west.id)})
    assert r.status_code == 302
    village = db.session.scalars(select(Region).where(Region.name == "新村")).one()
    assert village.parent_id == world.west.id
    r = client.post("/admin/supermarkets", data={"name": "新村爱心超市", "region_id": str(village.id)})
    assert r.status_code == 302
    r = client.post("/admin/users", data={"username": "newstaff", "password": PASSWORD, "role": "staff",
                                          "region_id": str(village.id), "donor_id": ""})
    assert r.status_code == 302
    user = db.session.scalars(select(User).where(User.username == "newstaff")).one()
    assert user.region_id == village.id
    actions = db.session.scalars(select(AuditRecord.action).where(
        AuditRecord.user_id == world.users["admin"].id)).all()
    assert {"region.create", "supermarket.create", "user.create"} <= set(actions)


def test_admin_forms_bad_input_show_errors(en_client, world):
    """Bad admin form input shows the error on the page and writes nothing."""
    login(en_client, "admin")
    before = (count(Region), count(Supermarket), count(User))
    r = en_client.post("/admin/regions", data={"name": "", "level": "village", "parent_id": str(world.east.id)})
    assert r.status_code == 200 and "This field is required." in page(r)
    r = en_client.post("/admin/regions", data={"name": "新镇", "level": "township", "parent_id": str(world.east.id)})
    assert r.status_code == 200 and "can only contain" in page(r)
    r = en_client.post("/admin/supermarkets", data={"name": "东岭镇爱心超市", "region_id": str(world.east.id)})
    assert r.status_code == 200 and "already exists" in page(r)
    r = en_client.post("/admin/users", data={"username": "shorty", "password": "x" * 9, "role": "admin",
                                             "region_id": "", "donor_id": ""})
    assert r.status_code == 200 and "at least 10 characters" in page(r)
    r = en_client.post("/admin/users", data={"username": "lost", "password": PASSWORD, "role": "staff",
                                             "region_id": "", "donor_id": ""})
    assert r.status_code == 200 and "Choose the region" in page(r)
    assert (count(Region), count(Supermarket), count(User)) == before


def test_register_pages_forbidden_for_volunteers_and_donors(client, world):
    """Volunteers and donors get 403 on the household register pages."""
    hh = world.households["v1a"].id
    for role in ("volunteer", "donor"):
        login(client, role)
        for path in ("/households/", f"/households/{hh}", "/households/new", f"/households/{hh}/edit"):
            assert client.get(path).status_code == 403, (role, path)
        client.post("/logout")


def test_household_list_shows_only_scope(client, world):
    """The register page lists the households in the user's scope and no others."""
    everyone = {"杜玉梅", "王喆", "钟秀英", "李堃"}
    for role, shown in (("staff", {"杜玉梅", "王喆"}), ("staff_east", {"杜玉梅", "王喆", "钟秀英"}),
                        ("cadre_west", {"李堃"}), ("cadre", everyone)):
        login(client, role)
        html = page(client.get("/households/"))
        assert {name for name in everyone if name in html} == shown, role
        client.post("/logout")


def test_household_list_search_and_village_filter(client, world):
    """The register page searches by name and filters by village."""
    login(client, "staff_east")
    html = page(client.get("/households/?q=喆"))
    assert "王喆" in html and "杜玉梅" not in html
    html = page(client.get(f"/households/?village_id={world.v2.id}"))
    assert "钟秀英" in html and "王喆" not in html
    assert client.get(f"/households/?village_id={world.v3.id}").status_code == 404
    assert client.get("/households/?page=99999999999999999999").status_code == 200


def test_household_outside_scope_is_404(client, world):
    """Opening or editing a household outside the user's scope is a 404 page, as if it did not exist."""
    for role, key, edit_status in (("staff", "v2a", 404), ("staff", "v3a", 404), ("staff_west", "v1a", 404),
                                   ("cadre_west", "v1a", 403)):
        login(client, role)
        hh_id, name = world.households[key].id, world.households[key].head_name
        r = client.get(f"/households/{hh_id}")
        assert r.status_code == 404 and name not in page(r), (role, key)
        assert client.get(f"/households/{hh_id}/edit").status_code == edit_status
        r = client.post(f"/households/{hh_id}/edit", data={"head_name": "改名", "members": "2", "status": "active"})
        assert r.status_code == edit_status
        client.post("/logout")
    db.session.expire_all()
    assert "改名" not in db.session.scalars(select(Household.head_name)).all()


def test_household_detail_in_scope(client, world):
    """Staff open a household of their village and see its details."""
    login(client, "staff")
    hh = world.households["v1b"]
    r = client.get(f"/households/{hh.id}")
    assert r.status_code == 200 and "王喆" in page(r) and hh.code in page(r)
    assert client.get("/households/987654").status_code == 404


def test_cadre_reads_but_does_not_edit(client, world):
    """A cadre reads the register but may not add or edit households (403)."""
    login(client, "cadre")
    hh = world.households["v1a"].id
    assert client.get(f"/households/{hh}").status_code == 200
    assert client.get("/households/new").status_code == 403
    assert client.post("/households/new", data={"village_id": str(world.v1.id), "head_name": "甲"}).status_code == 403
    assert client.get(f"/households/{hh}/edit").status_code == 403
    assert count(Household) == 4


def test_add_household_by_page(client, world):
    """Staff add a household with the form; it is saved and the detail page shown."""
    login(client, "staff")
    r = client.post("/households/new", data={"village_id": str(world.v1.id), "head_name": "赵犇", "members": "3",
                                             "phone": "13812345678", "address": "1组", "tags": ["低保", "五保"]})
    assert r.status_code == 302
    hh = db.session.scalars(select(Household).where(Household.head_name == "赵犇")).one()
    assert r.headers["Location"] == f"/households/{hh.id}"
    assert (hh.members, hh.phone, hh.tags, hh.village_id) == (3, "13812345678", ["低保", "五保"], world.v1.id)
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.create",
                                                       AuditRecord.object_id == hh.id)).one()
    assert rec.user_id == world.users["staff"].id


FORM_CASES = [
    ({"head_name": ""}, "This field is required."),
    ({"head_name": "   "}, "This field is required."),
    ({"head_name": "名" * 51}, "At most 50 characters."),
    ({"members": "abc"}, "Not a valid integer value."),
    ({"members": "0"}, "Must be between 1 and 30."),
    ({"members": "31"}, "Must be between 1 and 30."),
    ({"members": "3.5"}, "Not a valid integer value."),
    ({"phone": "12345"}, "Not a mainland mobile number"),
    ({"tags": ["不存在"]}, "not a valid choice"),
    ({"address": "路" * 201}, "At most 200 characters."),
]


def test_add_household_bad_input_shows_errors(en_client, world):
    """Each bad field on the add form is shown back with its error, and nothing is written."""
    login(en_client, "staff")
    before = (count(Household), count(AuditRecord))
    good = {"village_id": str(world.v1.id), "head_name": "赵犇", "members": "3", "phone": "", "address": ""}
    for change, message in FORM_CASES:
        r = en_client.post("/households/new", data={**good, **change})
        assert r.status_code == 200, change
        assert message in page(r), (change, message)
        assert (count(Household), count(AuditRecord)) == before, change
    for village_id in (str(world.v3.id), str(world.east.id), "abc", ""):
        r = en_client.post("/households/new", data={**good, "village_id": village_id})
        assert r.status_code in (200, 404), village_id
        assert (count(Household), count(AuditRecord)) == before, village_id


def test_edit_household_by_page(client, world):
    """Staff edit a household with the form; the change is saved and audited."""
    login(client, "staff")
    hh = world.households["v1a"]
    r = client.get(f"/households/{hh.id}/edit")
    assert r.status_code == 200 and "杜玉梅" in page(r)
    r = client.post(f"/households/{hh.id}/edit", data={"head_name": "杜玉梅", "members": "5", "phone": "",
                                                       "address": "", "status": "active"})
    assert r.status_code == 302 and r.headers["Location"] == f"/households/{hh.id}"
    db.session.expire_all()
    assert db.session.get(Household, hh.id).members == 5
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.update")).one().user_id \
        == world.users["staff"].id


def test_edit_household_bad_input_shows_errors(en_client, world):
    """Each bad field on the edit form is shown back with its error, and the household is unchanged."""
    login(en_client, "staff")
    hh = world.households["v1a"]
    before = count(AuditRecord)
    good = {"head_name": "杜玉梅", "members": "4", "phone": "", "address": "", "status": "active"}
    for change, message in FORM_CASES + [({"status": "gone"}, "Not a valid choice")]:
        r = en_client.post(f"/households/{hh.id}/edit", data={**good, **change})
        assert r.status_code == 200, change
        assert message in page(r), (change, message)
    assert count(AuditRecord) == before
    db.session.expire_all()
    got = db.session.get(Household, hh.id)
    assert (got.head_name, got.members, got.status) == ("杜玉梅", 4, "active")


def test_change_password_page(en_client, world):
    """A wrong current password or a short new one is shown back and changes nothing; a good change works and is audited."""
    login(en_client, "staff")
    new = "a brand new passphrase"
    r = en_client.post("/password", data={"current_password": "wrong password!", "new_password": new})
    assert r.status_code == 200 and "The current password is wrong." in page(r)
    r = en_client.post("/password", data={"current_password": PASSWORD, "new_password": "x" * 9})
    assert r.status_code == 200 and "at least 10 characters" in page(r)
    r = en_client.post("/password", data={"current_password": PASSWORD, "new_password": ""})
    assert r.status_code == 200
    db.session.rollback()
    assert not db.session.scalars(select(AuditRecord).where(AuditRecord.action == "user.password")).all()
    r = en_client.post("/password", data={"current_password": PASSWORD, "new_password": new})
    assert r.status_code == 302
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "user.password")).one()
    assert rec.user_id == world.users["staff"].id
    en_client.post("/logout")
    assert login(en_client, "staff").status_code == 200
    assert login(en_client, "staff", new).status_code == 302


def test_admin_disables_and_enables_an_account(client, world):
    """The admin disables an account (it can no longer log in) and enables it again, but cannot disable itself."""
    login(client, "admin")
    staff_id, admin_id = world.users["staff"].id, world.users["admin"].id
    assert client.post(f"/admin/users/{staff_id}/active/0").status_code == 302
    assert client.post(f"/admin/users/{admin_id}/active/0").status_code == 302
    assert client.post("/admin/users/987654/active/0").status_code == 404
    db.session.expire_all()
    assert not db.session.get(User, staff_id).active and db.session.get(User, admin_id).active
    client.post(f"/admin/users/{staff_id}/active/1")
    client.post(f"/admin/users/{staff_id}/active/0")
    client.post("/logout")
    assert login(client, "staff").status_code == 200
    login(client, "admin")
    client.post(f"/admin/users/{staff_id}/active/1")
    client.post("/logout")
    assert login(client, "staff").status_code == 302
    actions = db.session.scalars(select(AuditRecord.action).where(AuditRecord.object_id == staff_id,
                                                                  AuditRecord.object_type == "users")).all()
    assert {"user.deactivate", "user.activate"} <= set(actions)
