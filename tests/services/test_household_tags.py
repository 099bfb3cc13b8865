"""Household tags an admin manages (the household_tags table): the one list of
tags a household may be given, by the form, the API, the import and the reports."""
import pytest
from flask_babel import force_locale

from app.extensions import db
from app.models import HouseholdTag
from app.services.errors import Forbidden, ValidationError
from app.services.people import tags
from app.services.people.households import create_household, update_household
from tests.api.problems import assert_problem
from tests.factories import login
from tests.freshdb import KINDS, fresh_database

DEFAULTS = ["建档立卡", "监测户", "边缘户", "低保", "五保", "残疾", "独居老人", "脱贫户"]


def retire(world, name: str) -> HouseholdTag:
    tag = next(t for t in tags.all_tags() if t.name == name)
    return tags.set_active(world.users["admin"], tag.id, False)


def english(message) -> str:
    with force_locale("en"):
        return str(message)


def test_every_test_database_starts_with_the_default_tags(app):
    """The migrated database (and PostgreSQL, emptied between tests) holds the default tags."""
    assert tags.active_names() == DEFAULTS


def test_admin_adds_retires_and_reactivates(world):
    """An added tag can be given; a retired one cannot, until reactivated; each step is audited."""
    admin = world.users["admin"]
    tag = tags.add_tag(admin, {"name": " 易返贫户 "})
    assert tag.name == "易返贫户" and "易返贫户" in tags.active_names()
    tags.set_active(admin, tag.id, False)
    assert "易返贫户" not in tags.active_names() and "易返贫户" in tags.known_names()
    tags.set_active(admin, tag.id, True)
    assert "易返贫户" in tags.active_names()
    assert [t.name for t in tags.all_tags()][-1] == "易返贫户"


@pytest.mark.parametrize("name, message", [
    ("", "required"), ("低保", "exists already"), ("两个 词", "one word"), ("甲,乙", "one word"),
    ("长" * 21, "At most 20"),
])
def test_bad_tag_names_are_refused(world, name, message):
    """Blank, existing, several words or too long: refused with a clear message, nothing added."""
    before = len(tags.all_tags())
    with pytest.raises(ValidationError) as info:
        tags.add_tag(world.users["admin"], {"name": name})
    assert message in english(info.value.errors["name"][0])
    db.session.rollback()
    assert len(tags.all_tags()) == before


def test_a_retired_tag_is_named_when_added_again(world):
    """Adding a retired tag again says to reactivate it."""
    retire(world, "边缘户")
    with pytest.raises(ValidationError) as info:
        tags.add_tag(world.users["admin"], {"name": "边缘户"})
    assert "reactivate" in english(info.value.errors["name"][0])


@pytest.mark.parametrize("user", ["staff", "cadre", "volunteer", "donor"])
def test_only_admins_manage_tags(world, user):
    with pytest.raises(Forbidden):
        tags.add_tag(world.users[user], {"name": "新标签"})
    with pytest.raises(Forbidden):
        tags.set_active(world.users[user], tags.all_tags()[0].id, False)


def test_households_take_the_managed_tags(world):
    """A tag added by the admin can be given; a retired one cannot be given, but stays on
    the household that has it, also when that household is edited."""
    staff = world.users["staff"]
    tags.add_tag(world.users["admin"], {"name": "易返贫户"})
    hh = create_household(staff, {"village_id": world.v1.id, "head_name": "甲", "tags": ["易返贫户", "低保"]})
    assert hh.tags == ["易返贫户", "低保"]
    retire(world, "低保")
    with pytest.raises(ValidationError) as info:
        create_household(staff, {"village_id": world.v1.id, "head_name": "乙", "tags": ["低保"]})
    assert "no longer given" in english(info.value.errors["tags"][0])
    update_household(staff, hh.id, {"tags": ["低保", "残疾"], "members": 2})
    assert hh.tags == ["低保", "残疾"]
    other = world.households["v1b"]
    with pytest.raises(ValidationError):
        update_household(staff, other.id, {"tags": ["低保"]})


def test_api_takes_an_added_tag_and_refuses_a_retired_one(client, world):
    """POST /households accepts a tag the admin added (it was refused while it was not one)
    and refuses a retired tag on a new household (422); PATCH keeps a retired tag already there."""
    headers = world.headers("staff")
    body = {"village_id": world.v1.id, "head_name": "甲", "tags": ["易返贫户"]}
    assert_problem(client.post("/api/v1/households", headers=headers, json=body), 422, "validation-error", "tags")
    tags.add_tag(world.users["admin"], {"name": "易返贫户"})
    db.session.commit()
    r = client.post("/api/v1/households", headers=headers, json={**body, "tags": ["易返贫户", "五保"]})
    assert r.status_code == 201, r.get_json()
    hh_id = r.get_json()["id"]
    retire(world, "五保")
    db.session.commit()
    assert_problem(client.post("/api/v1/households", headers=headers, json={**body, "tags": ["五保"]}),
                   422, "validation-error", "tags")
    r = client.patch(f"/api/v1/households/{hh_id}", headers=headers, json={"tags": ["五保"]})
    assert r.status_code == 200 and r.get_json()["tags"] == ["五保"]


def test_reports_filter_on_an_added_tag(client, world):
    """The reports' tag filter knows the tags the admin added (and still the retired ones)."""
    headers = world.headers("cadre")
    path = "/api/v1/reports/engagement?tag="
    assert_problem(client.get(path + "易返贫户", headers=headers), 422, "validation-error", "tag")
    tags.add_tag(world.users["admin"], {"name": "易返贫户"})
    retire(world, "五保")
    db.session.commit()
    assert client.get(path + "易返贫户", headers=headers).status_code == 200
    assert client.get(path + "五保", headers=headers).status_code == 200


def test_household_form_offers_the_active_tags(client, world):
    """The add form lists the active tags only; the edit form of a household with a retired
    tag shows it too, marked, so saving the form keeps it."""
    tags.add_tag(world.users["admin"], {"name": "易返贫户"})
    hh = world.households["v1a"]
    hh.tags = ["边缘户"]
    retire(world, "边缘户")
    db.session.commit()
    client.set_cookie("lang", "en")
    login(client, "staff")
    html = client.get("/households/new").get_data(as_text=True)
    assert 'value="易返贫户"' in html and 'value="边缘户"' not in html
    html = client.get(f"/households/{hh.id}/edit").get_data(as_text=True)
    assert 'value="边缘户"' in html and "边缘户 (retired)" in html


def test_admin_tags_page(client, world):
    """The admin's page lists the tags, adds one, retires and reactivates; others get 403."""
    client.set_cookie("lang", "en")
    login(client, "admin")
    html = client.get("/admin/tags").get_data(as_text=True)
    assert all(name in html for name in DEFAULTS)
    r = client.post("/admin/tags", data={"name": "易返贫户"}, follow_redirects=True)
    assert "Tag 易返贫户 added." in r.get_data(as_text=True)
    tag = next(t for t in tags.all_tags() if t.name == "易返贫户")
    r = client.post(f"/admin/tags/{tag.id}/active/0", follow_redirects=True)
    assert "retired" in r.get_data(as_text=True)
    db.session.refresh(tag)
    assert tag.active is False
    r = client.post("/admin/tags", data={"name": "易返贫户"})
    assert r.status_code == 200 and "reactivate it instead" in r.get_data(as_text=True)
    client.post(f"/admin/tags/{tag.id}/active/1")
    db.session.refresh(tag)
    assert tag.active is True
    for user in ("staff", "cadre"):
        client.post("/logout")
        login(client, user)
        assert client.get("/admin/tags").status_code == 403
        assert client.post(f"/admin/tags/{tag.id}/active/0").status_code == 403


@pytest.mark.parametrize("kind", KINDS)
def test_a_fresh_upgrade_has_the_configured_default_tags(kind, tmp_path):
    """`flask db upgrade` on an empty database (as `flask demo` runs it) inserts the default
    tags, the same list as config HOUSEHOLD_TAGS."""
    from app import create_app
    from app.config import HOUSEHOLD_TAGS
    from tests.conftest import base_config

    with fresh_database(kind, tmp_path) as url:
        fresh = create_app(base_config(url), instance_path=str(tmp_path / "instance"))
        result = fresh.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with fresh.app_context():
            assert tags.active_names() == HOUSEHOLD_TAGS == DEFAULTS
            db.session.remove()
            db.engine.dispose()
