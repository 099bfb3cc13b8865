"""Every list page a cadre, staff or volunteer uses exports as CSV and .xlsx:
every row matching the page's filters (not one page), headers in the user's
language, cells that could be formulas written as text, each export audited."""
import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord
from app.services.clock import local_today
from app.services.goods.writeoffs import write_off
from app.services.people.households import create_household
from tests.checkout_helpers import give_points, stocked
from tests.factories import login
from tests.points_helpers import award, make_rule


def csv_rows(r) -> list[list[str]]:
    assert r.status_code == 200 and r.mimetype == "text/csv", r.status_code
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")                   # Excel opens UTF-8 with a BOM
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_rows(r) -> list[list]:
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(r.get_data())).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.fixture
def many(app, world):
    """60 households in 东坪村 (more than a page), one of them named like a formula."""
    admin = world.users["admin"]
    for i in range(59):
        create_household(admin, {"village_id": world.v1.id, "head_name": f"户主{i:02d}"})
    create_household(admin, {"village_id": world.v1.id, "head_name": "=HYPERLINK(\"x\")"})
    db.session.commit()


def test_households_register_exports_every_row_matching_the_filters(client, world, many):
    login(client, "staff")                                   # staff of 东坪村
    page = client.get("/households/").get_data(as_text=True)
    assert "format=csv" in page and "format=xlsx" in page
    rows = csv_rows(client.get("/households/", query_string={"format": "csv", "page": 2}))
    assert rows[0][:3] == ["户号", "户主", "村"]
    assert len(rows) - 1 == 62                               # 60 + v1a + v1b: all pages, not page 2
    assert ["'=HYPERLINK(\"x\")"] == [r[1] for r in rows if "HYPERLINK" in r[1]]
    found = csv_rows(client.get("/households/", query_string={"format": "csv", "q": "户主0"}))
    assert len(found) - 1 == 10
    sheet = xlsx_rows(client.get("/households/", query_string={"format": "xlsx"}))
    assert len(sheet) - 1 == 62
    assert "'=HYPERLINK(\"x\")" in [r[1] for r in sheet]      # text, never a live formula
    audits = [a for a in db.session.scalars(select(AuditRecord).where(AuditRecord.action == "export"))]
    assert len(audits) == 3 and all(a.user_id == world.users["staff"].id for a in audits)
    # What was searched for (a name) is never recorded; the format and row count are.
    assert all("q" not in a.details.get("filters", {}) for a in audits)
    assert sorted(a.details["rows"] for a in audits) == [10, 62, 62]


def test_headers_follow_the_users_language(client, world):
    login(client, "staff")
    client.get("/lang/en")
    assert csv_rows(client.get("/households/", query_string={"format": "csv"}))[0][:2] == [
        "Code", "Head of household"]


def test_a_households_ledger_exports_all_its_entries(client, world):
    make_rule("EX-1", 5)
    for _ in range(3):
        award(world, "staff", ["v1a"], "EX-1")
    login(client, "staff")
    hid = world.households["v1a"].id
    rows = csv_rows(client.get(f"/points/households/{hid}", query_string={"format": "csv"}))
    assert rows[0][:4] == ["日期", "类型", "积分细则", "积分"]
    assert [r[3] for r in rows[1:]] == ["5", "5", "5"] and rows[1][1] == "加分"
    client.post("/logout")
    login(client, "staff_west")
    assert client.get(f"/points/households/{hid}", query_string={"format": "csv"}).status_code == 404


def test_checkouts_donations_stock_and_writeoffs_export(client, world):
    products = stocked(world)
    give_points(world, world.households["v1a"], 200)
    login(client, "volunteer")
    r = client.post("/counter/api/checkouts", json={
        "supermarket_id": world.sm_east.id, "household_id": world.households["v1a"].id,
        "lines": [{"product_id": products["香皂"].id, "quantity": 2}]})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    write_off(world.users["volunteer"], world.sm_east.id,
              {"product_id": products["食盐 400g"].id, "quantity": 3, "reason": "damaged", "note": "+受潮"})
    db.session.commit()
    day = local_today().isoformat()
    rows = csv_rows(client.get("/counter/checkouts", query_string={"day": day, "format": "csv"}))
    assert len(rows) == 2 and "香皂×2" in rows[1][2]
    rows = csv_rows(client.get("/goods/donations", query_string={"format": "csv"}))
    assert len(rows) == 2 and rows[1][2] == "青山农商银行"
    sm = world.sm_east.id
    rows = csv_rows(client.get(f"/goods/stock/{sm}", query_string={"format": "csv"}))
    assert {r[0]: r[3] for r in rows[1:]} == {"大米 5kg": "10", "香皂": "18", "食盐 400g": "27"}
    rows = csv_rows(client.get(f"/goods/stock/{sm}/writeoffs", query_string={"format": "csv"}))
    assert rows[1][1:5] == ["食盐 400g", "3", "损坏", "'+受潮"]
    xlsx = xlsx_rows(client.get(f"/goods/stock/{sm}/writeoffs", query_string={"format": "xlsx"}))
    assert xlsx[1][2] == 3                                   # numbers stay numbers
    client.post("/logout")
    login(client, "cadre")                                   # reads stock and write-offs, keeps none
    page = client.get(f"/goods/stock/{sm}/writeoffs").get_data(as_text=True)
    assert "受潮" in page and "format=xlsx" in page
    client.post("/logout")
    login(client, "volunteer_west")
    assert client.get(f"/goods/stock/{sm}/writeoffs", query_string={"format": "csv"}).status_code == 404
