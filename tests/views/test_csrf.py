"""CSRF: with protection on (as in production), a form posted without the page's token is refused."""
import re

import pytest

from app.extensions import db
from app.models import AuditRecord, Household
from tests.factories import PASSWORD, count


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on the page."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


@pytest.fixture
def browser(make_app, world):
    """A client of an app with CSRF protection on, over the world's database."""
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


def log_in(browser, username="staff"):
    token = csrf_token(browser.get("/login").get_data(as_text=True))
    r = browser.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    return r


def rows():
    db.session.rollback()  # see what the other app committed
    return count(Household), count(AuditRecord)


def test_login_without_token_is_refused(browser, world):
    """Posting the login form without its CSRF token is a 400 page that says why; no session starts."""
    r = browser.post("/login", data={"username": "staff", "password": PASSWORD})
    assert r.status_code == 400
    assert "reload the page" in r.get_data(as_text=True)
    assert browser.get("/").status_code == 302
    r = browser.post("/login", data={"username": "staff", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400


def test_login_with_token_from_page_works(browser, world):
    """With the token from the rendered login page the login goes through."""
    log_in(browser)
    assert browser.get("/").status_code == 200


def test_household_form_without_token_writes_nothing(browser, world):
    """Posting the add-household form without the token is a 400 and no household is written."""
    log_in(browser)
    before = rows()
    r = browser.post("/households/new", data={"village_id": str(world.v1.id), "head_name": "赵犇"})
    assert r.status_code == 400
    assert rows() == before


def test_household_form_with_token_works(browser, world):
    """With the token from the rendered form the household is added."""
    log_in(browser)
    before = rows()
    token = csrf_token(browser.get("/households/new").get_data(as_text=True))
    r = browser.post("/households/new", data={"village_id": str(world.v1.id), "head_name": "赵犇",
                                              "csrf_token": token})
    assert r.status_code == 302
    assert rows()[0] == before[0] + 1


def test_edit_form_without_token_changes_nothing(browser, world):
    """Posting the edit form without the token is a 400 and the household keeps its values."""
    log_in(browser)
    hh = world.households["v1a"]
    r = browser.post(f"/households/{hh.id}/edit", data={"head_name": "改名", "members": "2", "status": "active"})
    assert r.status_code == 400
    db.session.rollback()
    assert db.session.get(Household, hh.id).head_name == "杜玉梅"


def test_logout_without_token_is_refused(browser, world):
    """A forged logout (POST without the token) is a 400 and the user stays logged in; with the token it logs out."""
    log_in(browser)
    assert browser.post("/logout").status_code == 400
    home = browser.get("/")
    assert home.status_code == 200
    r = browser.post("/logout", data={"csrf_token": csrf_token(home.get_data(as_text=True))})
    assert r.status_code == 302
    assert browser.get("/").status_code == 302


def test_api_needs_no_csrf_token(browser, world):
    """The JSON API authenticates by bearer token, so it takes no CSRF token."""
    r = browser.post("/api/v1/households", headers=world.headers("staff"),
                     json={"village_id": world.v1.id, "head_name": "赵犇"})
    assert r.status_code == 201
