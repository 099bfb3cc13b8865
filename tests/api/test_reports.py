"""/api/v1/reports/* and visits, as a cadre's program reads them: the same
figures as the services (tests/services/test_reports.py checks them by hand),
the contract's shapes (API_CHECK_RESPONSES), refusals and scopes."""
from datetime import timedelta

import pytest

from app.models import AuditRecord, Visit
from app.services import clock
from tests.api.problems import assert_problem
from tests.factories import count
from tests.reports_helpers import Data, args, build_report_data


@pytest.fixture
def data(app, world) -> Data:
    return build_report_data(world)


def visit_audits() -> int:
    from sqlalchemy import func, select
    from app.extensions import db
    return db.session.scalar(select(func.count()).where(AuditRecord.action == "household.visit"))


def get(client, world, user, path, **query):
    return client.get(f"/api/v1/reports/{path}", query_string=query, headers=world.headers(user))


def test_summary_and_lists(client, world, data):
    body = get(client, world, "cadre", "summary", **args(data)).get_json()
    assert (body["households"], body["participating_households"], body["participation_rate"],
            body["points_awarded"], body["points_deducted"], body["checkouts"]) == (5, 3, 0.6, 40, 3, 2)
    assert body["since_start"] == {"checkouts": 2, "households_redeeming": 2}

    page = get(client, world, "cadre", "engagement", **args(data), per_page=2).get_json()
    assert (page["total"], page["page"], page["per_page"]) == (5, 1, 2)
    first = page["items"][0]
    assert (first["household_id"], first["earned"], first["by_category"]) == (
        world.households["v1a"].id, 25, {"勤劳致富": 20, "环境卫生": 5, "扣分项": -3})
    assert first["last_award_on"] == (data.m2 + timedelta(days=15)).isoformat()
    assert sum(r["earned"] for r in get(client, world, "cadre", "engagement", **args(data),
                                        sort="earned").get_json()["items"]) == 40

    villages = get(client, world, "cadre", "villages", **args(data)).get_json()["items"]
    assert [(v["name"], v["rank"]) for v in villages] == [("石门村", 1), ("东坪村", 2), ("西沟村", 3)]
    trends = get(client, world, "cadre", "trends", **args(data)).get_json()["items"]
    assert [t["month"] for t in trends] == [m.strftime("%Y-%m") for m in (data.m0, data.m1, data.m2)]
    assert [t["points_awarded"] for t in trends] == [20, 10, 10]


def test_default_ranges(client, world, data):
    trends = get(client, world, "admin", "trends").get_json()["items"]
    assert len(trends) == 12 and trends[-1]["month"] == clock.local_today().strftime("%Y-%m")
    # The last 30 days: v1new, registered today, counts; v3x exited before them.
    body = get(client, world, "admin", "summary").get_json()
    assert body["households"] == 5


def test_refusals(client, world, data):
    for user in ("volunteer", "donor"):
        for path in ("summary", "engagement", "villages", "trends", "inactive"):
            assert_problem(get(client, world, user, path), 403, "forbidden")
    assert_problem(get(client, world, "cadre_west", "summary", region_id=world.v1.id), 404, "not-found")
    assert_problem(get(client, world, "staff", "engagement", village_id=world.v2.id), 404, "not-found")
    assert_problem(get(client, world, "cadre", "summary", **{"from": "2026-03-02", "to": "2026-03-01"}),
                   422, "validation-error", "from")
    assert_problem(get(client, world, "cadre", "summary", **{"from": "2020-01-01", "to": "2026-01-01"}),
                   422, "validation-error", "from")
    assert_problem(get(client, world, "cadre", "villages", to="3月1日"), 422, "validation-error", "to")
    assert_problem(get(client, world, "cadre", "engagement", sort="name"), 422, "validation-error", "sort")
    assert_problem(get(client, world, "cadre", "engagement", tag="富户"), 422, "validation-error", "tag")
    assert_problem(get(client, world, "cadre", "inactive", months="0"), 422, "validation-error", "months")
    assert client.get("/api/v1/reports/summary").status_code == 401


def test_staff_see_their_villages(client, world, data):
    body = get(client, world, "staff", "summary", **args(data)).get_json()
    assert (body["households"], body["points_awarded"]) == (2, 25)
    assert {v["name"] for v in get(client, world, "staff", "villages", **args(data)).get_json()["items"]} \
        == {"东坪村"}


def test_visits_take_a_household_off_the_list(client, world, data):
    today = clock.local_today()
    before = get(client, world, "staff", "inactive", months=1).get_json()
    listed = {r["household_id"] for r in before["items"]}
    v1b = world.households["v1b"].id
    assert v1b in listed and before["total"] == len(listed)
    audits = visit_audits()
    r = client.post(f"/api/v1/households/{v1b}/visits", headers=world.headers("staff"),
                    json={"visited_on": today.isoformat(), "note": "了解近况"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["visited_on"] == today.isoformat() and r.get_json()["created_by"] == "staff"
    assert visit_audits() == audits + 1
    after = get(client, world, "staff", "inactive", months=1).get_json()
    assert v1b not in {r["household_id"] for r in after["items"]}
    assert after["items"][0]["last_visit_on"] is None

    visits = count(Visit)
    for body, status, slug in (({"visited_on": (today + timedelta(days=1)).isoformat()}, 422,
                                "validation-error"),
                               ({"note": "无日期"}, 422, "validation-error")):
        assert_problem(client.post(f"/api/v1/households/{v1b}/visits", headers=world.headers("staff"),
                                   json=body), status, slug, "visited_on")
    assert_problem(client.post(f"/api/v1/households/{world.households['v3a'].id}/visits",
                               headers=world.headers("staff"), json={"visited_on": today.isoformat()}),
                   404, "not-found")
    assert_problem(client.post(f"/api/v1/households/{v1b}/visits", headers=world.headers("volunteer"),
                               json={"visited_on": today.isoformat()}), 403, "forbidden")
    assert count(Visit) == visits


def test_fairness_flags_and_explanations(client, world, app):
    from tests.checkout_helpers import more_households
    from tests.points_helpers import make_rule
    from app.services.points.awards import award_points
    from app.extensions import db

    make_rule("QL-01", 2, category="勤劳致富")
    [hh] = more_households(world, 1)
    for _ in range(20):
        award_points(world.users["staff"], {"household_ids": [hh.id], "rule_code": "QL-01",
                                            "occurred_on": clock.local_today().isoformat()})
    db.session.commit()
    items = get(client, world, "cadre", "fairness").get_json()["items"]
    assert [(f["kind"], f["subject"]["type"], f["entry_count"], f["explained"]) for f in items] == [
        ("concentration", "user", 20, None)]
    assert_problem(get(client, world, "staff", "fairness"), 403, "forbidden")
    r = client.post("/api/v1/reports/fairness/explanations", headers=world.headers("cadre"), json={
        "kind": "concentration", "subject_type": "user", "subject_id": items[0]["subject"]["id"],
        "note": "帮扶对象，集中帮扶属实"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["to"] == clock.local_today().isoformat()
    again = get(client, world, "cadre", "fairness").get_json()["items"]
    assert again[0]["explained"]["note"] == "帮扶对象，集中帮扶属实"
    assert_problem(client.post("/api/v1/reports/fairness/explanations", headers=world.headers("cadre"),
                               json={"kind": "concentration", "subject_type": "user",
                                     "subject_id": items[0]["subject"]["id"], "note": ""}),
                   422, "validation-error", "note")


def test_exports_carry_the_json_figures(client, world, data):
    import csv
    import io

    from openpyxl import load_workbook
    from sqlalchemy import select
    from app.extensions import db
    from app.models import Household

    # A head's name that Excel would run as a formula.
    db.session.execute(Household.__table__.update().where(Household.id == world.households["v2a"].id)
                       .values(head_name="=HYPERLINK(\"http://x\")"))
    db.session.commit()
    query = {**args(data), "sort": "-earned"}
    as_json = get(client, world, "cadre", "engagement", **query, per_page=100).get_json()["items"]
    exports_before = db.session.scalar(select(db.func.count()).where(AuditRecord.action == "export"))
    r = get(client, world, "cadre", "engagement", **query, format="csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data().startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["户号", "户主", "村", "状态", "获得积分"]
    assert [int(r[4]) for r in rows[1:]] == [j["earned"] for j in as_json]
    assert rows[2][1] == "'=HYPERLINK(\"http://x\")"
    r = get(client, world, "cadre", "engagement", **query, format="xlsx")
    sheet = load_workbook(io.BytesIO(r.get_data())).active
    cells = list(sheet.iter_rows(values_only=True))
    assert [c[4] for c in cells[1:]] == [j["earned"] for j in as_json]
    assert cells[2][1] == "'=HYPERLINK(\"http://x\")"
    assert sheet.cell(row=3, column=2).data_type == "s"
    assert db.session.scalar(select(db.func.count()).where(AuditRecord.action == "export")) == \
        exports_before + 2
    villages = get(client, world, "cadre", "villages", **args(data), format="csv").get_data(as_text=True)
    assert "石门村" in villages and villages.splitlines()[1].startswith("1,石门村,1,1,1.0,10")


def test_imports_strip_the_exporters_quote(app):
    from app.services.spreadsheets import read_table

    raw = "\ufeff名称,积分\n'=1+1,5\n'-3,2\n'plain,1\n".encode()
    assert read_table(raw, "x.csv", max_rows=10)[1:] == [["=1+1", "5"], ["-3", "2"], ["'plain", "1"]]


def test_engagement_export_streams_in_chunks_with_every_category(client, world, data, monkeypatch):
    """A county's export is made a chunk of households at a time (two here): the rows,
    their order and their points by category are the JSON's, with a column for every
    category in the catalogue."""
    import csv
    import io

    from sqlalchemy import select

    from app.extensions import db
    from app.services.reports import figures

    monkeypatch.setattr(figures, "EXPORT_CHUNK", 2)
    query = {**args(data), "sort": "-earned"}
    as_json = get(client, world, "cadre", "engagement", **query, per_page=100).get_json()["items"]
    r = get(client, world, "cadre", "engagement", **query, format="csv")
    assert r.is_streamed
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    categories = rows[0][11:]
    assert categories == ["勤劳致富", "扣分项", "环境卫生"]
    assert len(rows) - 1 == len(as_json) == 5
    for row, item in zip(rows[1:], as_json):
        assert row[0] == item["code"] and int(row[4]) == item["earned"]
        assert {c: int(v) for c, v in zip(categories, row[11:]) if int(v)} == item["by_category"]
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "export")
                               .order_by(AuditRecord.id.desc())).first()
    assert audit.details["rows"] == 5
