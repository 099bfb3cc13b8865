"""The audit trail pages: a page write and an API write each leave the client's
address and the household and village they concern; the trail page is for
cadres (their region) and admins, filters by ids and codes, exports every
matching record as CSV and Excel, and the export is itself recorded."""
import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord
from tests.factories import login
from tests.points_helpers import make_rule, today


def last(action: str) -> AuditRecord:
    db.session.rollback()
    return db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id.desc())).first()


def table(page: str) -> str:
    """The rows of the trail's table (not the filter form's choices)."""
    return page[page.index("<tbody>"):page.index("</tbody>")]


@pytest.fixture
def en_client(app):
    c = app.test_client()
    c.set_cookie("lang", "en")
    return c


def test_a_page_write_records_address_household_and_village(client, world):
    """Issuing a card from the household's page records the client's address, the household and its village."""
    hh = world.households["v2a"]
    login(client, "staff_east")
    r = client.post(f"/households/{hh.id}/card", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 302
    rec = last("card.issue")
    assert (rec.address, rec.household_id, rec.village_id) == ("10.1.2.3", hh.id, world.v2.id)
    assert rec.user_id == world.users["staff_east"].id


def test_an_api_write_records_address_household_and_village(client, world):
    """An award through the JSON API records the client's address, the household and its village."""
    make_rule("T-A", 5)
    hh = world.households["v3a"]
    r = client.post("/api/v1/awards", headers=world.headers("staff_west"),
                    json={"household_ids": [hh.id], "rule_code": "T-A", "occurred_on": today()})
    assert r.status_code == 201, r.get_json()
    rec = last("points.award")
    assert (rec.address, rec.household_id, rec.village_id) == ("127.0.0.1", hh.id, world.v3.id)


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(make_app, world):
    """With TRUSTED_PROXIES=1 the address is the one the proxy forwarded, not the proxy's."""
    app = make_app(TRUSTED_PROXIES=1)
    with app.app_context():
        client = app.test_client()
        login(client, "staff")
        hh_id = world.households["v1a"].id
        client.post(f"/households/{hh_id}/card", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                    headers={"X-Forwarded-For": "192.168.8.23"})
        assert last("card.issue").address == "192.168.8.23"


def test_only_cadres_and_admins_open_the_trail(client, world):
    """Anonymous users are sent to log in; staff, volunteers and donors get 403; cadres and admins see it, with a nav link."""
    r = client.get("/audit/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    for name in ("staff", "volunteer", "donor"):
        login(client, name)
        assert client.get("/audit/").status_code == 403, name
        assert client.get("/audit/", query_string={"format": "csv"}).status_code == 403, name
        assert 'href="/audit/"' not in client.get("/").get_data(as_text=True)
        client.post("/logout")
    for name in ("cadre", "admin"):
        login(client, name)
        r = client.get("/audit/")
        assert r.status_code == 200 and 'href="/audit/"' in r.get_data(as_text=True), name
        client.post("/logout")


def test_a_cadre_of_one_township_never_sees_anothers_records(client, world):
    """The west cadre's trail shows 西沟村's household and not 东坪村's; asking for an east household by code is refused on the page."""
    login(client, "cadre_west")
    page = client.get("/audit/").get_data(as_text=True)
    assert world.households["v3a"].code in page
    assert world.households["v1a"].code not in page and "东坪村" not in page
    r = client.get("/audit/", query_string={"household": world.households["v1a"].code})
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "您的辖区内没有这个户号的农户。" in text or "No household with this code in your area." in text
    assert "<tbody>" not in text


def test_the_page_filters_and_never_shows_names(en_client, world):
    """Filtering by household code shows that household's records only; no household head's name appears, in the page or its links."""
    hh = world.households["v1b"]
    login(en_client, "admin")
    page = en_client.get("/audit/", query_string={"household": hh.code}).get_data(as_text=True)
    rows = table(page)
    assert "Household added" in rows and hh.code in rows
    assert world.households["v1a"].code not in page
    for key in world.households:
        assert world.households[key].head_name not in page
    kinds = table(en_client.get("/audit/", query_string={"kind": "user"}).get_data(as_text=True))
    assert "User added" in kinds and "Household added" not in kinds


def test_a_households_page_links_to_its_trail_for_those_who_may_read_it(client, world):
    """A cadre sees the household's "audit trail" link (by its code); staff, who may not read the trail, do not."""
    hh = world.households["v1a"]
    login(client, "cadre")
    assert f"/audit/?household={hh.code}" in client.get(f"/households/{hh.id}").get_data(as_text=True)
    client.post("/logout")
    login(client, "staff")
    assert "/audit/" not in client.get(f"/households/{hh.id}").get_data(as_text=True)


def test_the_export_holds_the_filtered_rows_and_is_itself_recorded(client, world):
    """CSV and Excel hold every matching record (and only those), in Chinese headers; each export is recorded with its filters."""
    login(client, "admin")
    query = {"village_id": str(world.v1.id), "kind": "household"}
    r = client.get("/audit/", query_string={**query, "format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "时间"
    codes = sorted(row[5] for row in rows[1:])
    assert codes == sorted([world.households["v1a"].code, world.households["v1b"].code])
    r = client.get("/audit/", query_string={**query, "format": "xlsx"})
    sheet = [[c.value for c in row] for row in openpyxl.load_workbook(io.BytesIO(r.get_data())).active.iter_rows()]
    assert len(sheet) == 3
    rec = last("export")
    assert rec.object_type == "audit" and rec.details["format"] == "xlsx" and rec.details["rows"] == 2
    assert rec.details["filters"] == {"village_id": world.v1.id, "kind": "household"}
    assert rec.user_id == world.users["admin"].id and rec.address == "127.0.0.1"
    # The export shows in the trail it came from.
    assert "audit" in client.get("/audit/", query_string={"kind": "export"}).get_data(as_text=True)


def test_bad_filters_show_a_clear_error_and_no_file(en_client, world):
    """A malformed date or id gets a message in the user's language; an export with bad filters writes no file and no record."""
    login(en_client, "admin")
    r = en_client.get("/audit/", query_string={"from": "yesterday", "user_id": "abc"})
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "Use a date like 2026-03-01." in text and "Must be a whole number." in text
    before = db.session.scalar(select(db.func.count()).select_from(AuditRecord))
    r = en_client.get("/audit/", query_string={"from": "yesterday", "format": "csv"})
    assert r.mimetype == "text/html"
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(AuditRecord)) == before


def test_exporting_a_households_ledger_shows_in_its_trail(client, world):
    """A file of one household's ledger is recorded against that household (and its village)."""
    hh = world.households["v1a"]
    login(client, "staff")
    assert client.get(f"/points/households/{hh.id}", query_string={"format": "csv"}).status_code == 200
    rec = last("export")
    assert (rec.household_id, rec.village_id) == (hh.id, world.v1.id)
