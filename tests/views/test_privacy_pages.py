"""The admin's privacy page (issue 12): the eligible households, anonymising
one or all of them behind a confirmation and CSRF, and the household page's
anonymised state."""

import pytest

from app.extensions import db
from app.models import AuditRecord, Household
from tests.factories import count, exit_household, login
from tests.views.test_csrf import csrf_token, log_in


@pytest.fixture
def en_client(client):
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def old(world):
    """v1a exited four years ago (eligible), v2a a year ago (not yet)."""
    return exit_household(world, "v1a", 4 * 365), exit_household(world, "v2a", 365)


def page(r) -> str:
    return r.get_data(as_text=True)


def test_the_page_lists_the_eligible_households_only(en_client, world, old):
    """The admin sees the household past its retention period, with a confirmation on its button."""
    eligible, recent = old
    login(en_client, "admin")
    body = page(en_client.get("/admin/privacy"))
    assert eligible.code in body and "杜玉梅" in body
    assert recent.code not in body
    assert "1 households eligible" in body and 'data-confirm="Anonymise household' in body
    assert 'href="/admin/privacy"' in body  # the menu links it


@pytest.mark.parametrize("role", ["cadre", "staff", "volunteer", "donor"])
def test_others_may_not_see_or_act(en_client, world, old, role):
    """Every other role gets 403 on the page and both acts, and nothing changes."""
    login(en_client, role)
    assert en_client.get("/admin/privacy").status_code == 403
    assert en_client.post(f"/admin/privacy/{old[0].id}").status_code == 403
    assert en_client.post("/admin/privacy/all").status_code == 403
    db.session.expire_all()
    assert db.session.get(Household, old[0].id).head_name == "杜玉梅"
    assert 'href="/admin/privacy"' not in page(en_client.get("/"))


def test_anonymous_is_sent_to_the_login(client, world, old):
    """Not logged in: the page redirects to the login."""
    assert client.get("/admin/privacy").status_code == 302


def test_anonymising_one_household(en_client, world, old):
    """The button anonymises it; its page then says so and offers no edit."""
    eligible = old[0]
    login(en_client, "admin")
    r = en_client.post(f"/admin/privacy/{eligible.id}", follow_redirects=True)
    assert f"Household {eligible.code} anonymised" in page(r)
    assert "No household is eligible now." in page(r)
    body = page(en_client.get(f"/households/{eligible.id}"))
    assert "Anonymised" in body and "杜玉梅" not in body and "13912345678" not in body
    assert f"/households/{eligible.id}/edit" not in body
    r = en_client.post(f"/households/{eligible.id}/edit", data={"head_name": "杜玉梅", "members": "4"})
    assert r.status_code == 409
    db.session.expire_all()
    assert db.session.get(Household, eligible.id).head_name == "已匿名"


def test_a_household_not_yet_eligible_is_refused_on_the_page(en_client, world, old):
    """Posted for a recent exit: a flash says until when, and nothing changes."""
    recent = old[1]
    login(en_client, "admin")
    before = count(AuditRecord)
    r = en_client.post(f"/admin/privacy/{recent.id}", follow_redirects=True)
    assert "its data is kept for 3 years" in page(r)
    db.session.expire_all()
    assert db.session.get(Household, recent.id).head_name == "钟秀英"
    assert count(AuditRecord) == before


def test_from_the_household_page(en_client, world, old):
    """An eligible household's page offers the admin the act, and comes back to it."""
    eligible, recent = old
    login(en_client, "admin")
    assert "Anonymise personal data" in page(en_client.get(f"/households/{eligible.id}"))
    assert "Anonymise personal data" not in page(en_client.get(f"/households/{recent.id}"))
    r = en_client.post(f"/admin/privacy/{eligible.id}", data={"back": "household"})
    assert r.headers["Location"].endswith(f"/households/{eligible.id}")


def test_all_eligible_at_once(en_client, world, old):
    """The bulk button anonymises every eligible household and says how many."""
    login(en_client, "admin")
    r = en_client.post("/admin/privacy/all", follow_redirects=True)
    assert "1 households anonymised." in page(r)
    db.session.expire_all()
    assert db.session.get(Household, old[0].id).anonymised_at is not None
    assert db.session.get(Household, old[1].id).anonymised_at is None


def test_without_the_csrf_token_nothing_happens(make_app, world, old):
    """With CSRF on, a post without the page's token is a 400; with it, the act is done."""
    browser = make_app(WTF_CSRF_ENABLED=True).test_client()
    browser.set_cookie("lang", "en")
    log_in(browser, "admin")
    assert browser.post(f"/admin/privacy/{old[0].id}").status_code == 400
    assert browser.post("/admin/privacy/all").status_code == 400
    db.session.rollback()
    assert db.session.get(Household, old[0].id).anonymised_at is None
    token = csrf_token(page(browser.get("/admin/privacy")))
    assert browser.post(f"/admin/privacy/{old[0].id}", data={"csrf_token": token}).status_code == 302
    db.session.rollback()
    assert db.session.get(Household, old[0].id).anonymised_at is not None
