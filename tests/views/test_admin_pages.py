"""The admin's edit pages (issue 10): accounts, regions and supermarkets changed on the
pages through the same services as the API, the confirmations, the temporary password
shown once, and the forced password change at the next login."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, AuditRecord, Region, Supermarket, User
from tests.factories import login


@pytest.fixture
def en_client(client):
    """A browser that chose English, so messages can be checked by their text."""
    client.set_cookie("lang", "en")
    return client


def page(r) -> str:
    return r.get_data(as_text=True)


def other_browser(make_app):
    """A second browser: an app of its own on the same database (the test's app
    context would otherwise share the logged-in user between the two clients)."""
    client = make_app().test_client()
    client.set_cookie("lang", "en")
    return client


NEW = "a new password of mine"


def test_edit_pages_forbidden_for_others(client, world):
    """Every new admin page and action is 403 for any other role, and changes nothing."""
    uid, rid, sid = world.users["staff"].id, world.v1.id, world.sm_east.id
    for role in ("cadre", "staff", "volunteer", "donor"):
        login(client, role)
        for path in (f"/admin/users/{uid}", f"/admin/regions/{rid}", f"/admin/supermarkets/{sid}"):
            assert client.get(path).status_code == 403, (role, path)
        assert client.post(f"/admin/users/{uid}", data={"role": "admin"}).status_code == 403
        assert client.post(f"/admin/users/{uid}/password-reset").status_code == 403
        assert client.post(f"/admin/regions/{rid}", data={"name": "改名村"}).status_code == 403
        assert client.post(f"/admin/regions/{rid}/active/0").status_code == 403
        assert client.post(f"/admin/supermarkets/{sid}/active/0").status_code == 403
        client.post("/logout")
    db.session.expire_all()
    assert db.session.get(User, uid).role == "staff" and not db.session.get(User, uid).must_change_password
    assert db.session.get(Region, rid).name == "东坪村"
    assert db.session.get(Supermarket, sid).active


def test_lists_link_to_edit_pages(client, world):
    """The users, regions and supermarkets lists link each row to its edit page."""
    login(client, "admin")
    assert f'/admin/users/{world.users["staff"].id}"' in page(client.get("/admin/users"))
    assert f'/admin/regions/{world.v2.id}"' in page(client.get("/admin/regions"))
    assert f'/admin/supermarkets/{world.sm_west.id}"' in page(client.get("/admin/supermarkets"))


def test_admin_changes_role_and_scope_by_page(en_client, world):
    """The account page turns a staff account into a volunteer (the region it had is dropped, the
    supermarket kept), and shows a missing scope as an error on the form."""
    login(en_client, "admin")
    uid = world.users["staff"].id
    r = en_client.post(f"/admin/users/{uid}", data={
        "role": "volunteer", "display_name": "周晓梅", "region_id": str(world.v1.id),
        "supermarket_ids": [str(world.sm_west.id)], "donor_id": ""})
    assert r.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, uid)
    assert (user.role, user.region_id, [s.id for s in user.supermarkets], user.display_name) == \
        ("volunteer", None, [world.sm_west.id], "周晓梅")
    r = en_client.post(f"/admin/users/{uid}", data={"role": "staff", "display_name": "", "region_id": ""})
    assert r.status_code == 200 and "Choose the region this account works in." in page(r)
    db.session.expire_all()
    assert db.session.get(User, uid).role == "volunteer"


def test_user_page_confirms_reset_and_disable(client, world):
    """Password reset and disable ask before they act (data-confirm on the button); the admin's own
    page offers no disable and no role change."""
    login(client, "admin")
    html = page(client.get(f"/admin/users/{world.users['staff'].id}"))
    assert re.search(r'<button type="submit" data-confirm="[^"]+">[^<]*重置密码', html)
    assert re.search(r'<button type="submit" data-confirm="[^"]+">[^<]*停用', html)
    own = page(client.get(f"/admin/users/{world.users['admin'].id}"))
    assert "/active/0" not in own and re.search(r'<select disabled[^>]*name="role"', own)


def test_temporary_password_is_shown_once(en_client, world):
    """The reset page shows the temporary password once; the account page shown again never does;
    the reset is audited."""
    login(en_client, "admin")
    uid = world.users["staff"].id
    r = en_client.post(f"/admin/users/{uid}/password-reset")
    assert r.status_code == 200
    shown = re.search(r"<code>([^<]+)</code>", page(r)).group(1)
    assert len(shown) >= 10
    again = page(en_client.get(f"/admin/users/{uid}"))
    assert shown not in again and "must choose a new password at the next login" in again
    assert db.session.scalars(select(AuditRecord).where(
        AuditRecord.action == "user.password_reset", AuditRecord.object_id == uid)).one()


def test_forced_password_change_at_next_login(make_app, en_client, world):
    """After a reset the user logs in with the temporary password and is sent to choose a new one;
    every page leads back there until done; the temporary password cannot be kept; afterwards the
    pages open and the new password logs in."""
    login(en_client, "admin")
    uid = world.users["staff"].id
    r = en_client.post(f"/admin/users/{uid}/password-reset")
    temporary = re.search(r"<code>([^<]+)</code>", page(r)).group(1)
    user = other_browser(make_app)
    assert login(user, "staff").status_code == 200  # the old password no longer works
    r = login(user, "staff", temporary)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    for path in ("/", "/households/", f"/households/{world.households['v1a'].id}", "/points/"):
        r = user.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/password"), path
    form = page(user.get("/password"))
    assert "An administrator has reset your password" in form and "Temporary password" in form
    r = user.post("/password", data={"current_password": temporary, "new_password": temporary})
    assert r.status_code == 200 and "not the temporary one" in page(r)
    r = user.post("/password", data={"current_password": "wrong password!", "new_password": NEW})
    assert r.status_code == 200 and "The current password is wrong." in page(r)
    r = user.post("/password", data={"current_password": temporary, "new_password": NEW})
    assert r.status_code == 302
    assert user.get("/").status_code == 200
    db.session.rollback()  # read what the other browser's app wrote
    assert not db.session.get(User, uid).must_change_password
    user.post("/logout")
    assert login(user, "staff", temporary).status_code == 200
    assert login(user, "staff", NEW).status_code == 302


def test_deactivated_user_is_logged_out_on_next_request(make_app, client, world):
    """A user with an open page is logged out on the very next request after the admin disables the
    account (confirmed on the button), and their API tokens stop at once."""
    login(client, "admin")
    user = other_browser(make_app)
    login(user, "staff")
    assert user.get("/").status_code == 200
    world.token("staff")
    uid = world.users["staff"].id
    r = client.post(f"/admin/users/{uid}/active/0", data={"next": f"/admin/users/{uid}"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/users/{uid}")
    r = user.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    db.session.rollback()
    assert all(t.revoked_at is not None for t in db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == uid)))


def test_admin_edits_region_by_page(en_client, world):
    """The region page renames and moves a village (its path follows), and shows a wrong move and a
    refused retirement plainly."""
    login(en_client, "admin")
    v2 = world.v2.id
    r = en_client.post(f"/admin/regions/{v2}", data={"name": "石门新村", "parent_id": str(world.west.id)})
    assert r.status_code == 302
    db.session.expire_all()
    region = db.session.get(Region, v2)
    assert (region.name, region.parent_id, region.path) == ("石门新村", world.west.id, f"{world.west.path}{v2}/")
    html = page(en_client.get(f"/admin/regions/{v2}"))
    # the move offers townships only
    assert f'value="{world.east.id}"' in html and f'value="{world.county.id}"' not in html
    assert re.search(r'<button type="submit" data-confirm="[^"]+">\s*Retire', html)
    r = en_client.post(f"/admin/regions/{v2}/active/0", follow_redirects=True)
    assert "still holds active households (1)" in page(r)
    db.session.expire_all()
    assert db.session.get(Region, v2).active


def test_admin_retires_and_reactivates_region_by_page(en_client, world):
    """An empty village is retired on its page (then marked in the tree) and reactivated."""
    login(en_client, "admin")
    en_client.post("/admin/regions", data={"name": "空村", "level": "village", "parent_id": str(world.west.id)})
    rid = db.session.scalars(select(Region.id).where(Region.name == "空村")).one()
    r = en_client.post(f"/admin/regions/{rid}/active/0", follow_redirects=True)
    assert "Region 空村 retired." in page(r)
    assert "Retired" in page(en_client.get("/admin/regions"))
    en_client.post(f"/admin/regions/{rid}/active/1")
    db.session.expire_all()
    assert db.session.get(Region, rid).active


def test_admin_edits_supermarket_by_page(en_client, world):
    """The supermarket page renames it, changes its region, refuses a taken name, and retires it
    (confirmed on the button) and brings it back."""
    login(en_client, "admin")
    sid = world.sm_east.id
    r = en_client.post(f"/admin/supermarkets/{sid}", data={"name": "西坡乡爱心超市", "region_id": str(world.east.id)})
    assert r.status_code == 200 and "A supermarket with this name already exists." in page(r)
    r = en_client.post(f"/admin/supermarkets/{sid}", data={"name": "东岭镇中心超市", "region_id": str(world.v1.id)})
    assert r.status_code == 302
    db.session.expire_all()
    sm = db.session.get(Supermarket, sid)
    assert (sm.name, sm.region_id) == ("东岭镇中心超市", world.v1.id)
    assert re.search(r'<button type="submit" data-confirm="[^"]+">\s*Retire',
                     page(en_client.get(f"/admin/supermarkets/{sid}")))
    r = en_client.post(f"/admin/supermarkets/{sid}/active/0", follow_redirects=True)
    assert "retired" in page(r)
    db.session.expire_all()
    assert not db.session.get(Supermarket, sid).active
    assert "Retired" in page(en_client.get("/admin/supermarkets"))
    en_client.post(f"/admin/supermarkets/{sid}/active/1")
    db.session.expire_all()
    assert db.session.get(Supermarket, sid).active
