"""The report pages: a cadre's home is the dashboard; the figures, lists and
forms are those of app.services.reports."""
import json
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Visit
from app.services import clock
from tests.factories import count, login
from tests.reports_helpers import Data, args, build_report_data


@pytest.fixture
def data(app, world) -> Data:
    return build_report_data(world)


def page(client, path, **query) -> str:
    r = client.get(path, query_string=query)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def table(html: str) -> str:
    """The page's table body (the filters above it list every village too)."""
    return html[html.index("<tbody>"):]


def chart_data(html: str) -> dict:
    start = html.index('id="chart-data">') + len('id="chart-data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_cadre_home_is_the_dashboard(client, world, data):
    login(client, "cadre")
    home = page(client, "/")
    assert "帮扶干部" in home and 'data-chart="trend"' in home and "累计兑换" in home
    html = page(client, "/reports/", period="custom", **args(data))
    assert "累计兑换 2 户、2 次" in html
    assert "<b>5</b>" in html and "<b>40</b>" in html          # households, points awarded
    assert 'data-chart="trend"' in html and 'id="chart-data"' in html
    assert "vendor/echarts/echarts.min.js" in html


def test_report_lists(client, world, data):
    login(client, "cadre")
    html = table(page(client, "/reports/engagement", period="custom", **args(data)))
    assert html.index("杜玉梅") < html.index("钟秀英")          # 25 points before 10
    html = table(page(client, "/reports/engagement", period="custom", village_id=world.v2.id, **args(data)))
    assert "钟秀英" in html and "杜玉梅" not in html
    html = table(page(client, "/reports/villages", period="custom", **args(data)))
    assert html.index("石门村") < html.index("东坪村") < html.index("西沟村")
    html = page(client, "/reports/trends", **args(data))
    assert data.m1.strftime("%Y-%m") in table(html)
    top = html[html.index("最常用的细则"):]
    assert top.index("QL-01 规则 QL-01") < top.index("HJ-01") < top.index("KF-01")
    charts = chart_data(html)
    assert [s["name"] for s in charts["categories"]["series"]] == ["勤劳致富", "扣分项", "环境卫生"]
    assert charts["trend"]["series"][0]["data"] == [20, 10, 10]
    html = page(client, "/reports/fairness", **args(data))
    assert "本期没有需要关注的情况" in html


def test_refused_range_is_said_not_crashed(client, world, data):
    login(client, "cadre")
    r = client.get("/reports/", query_string={"period": "custom", "from": "2026-03-02", "to": "2026-03-01"},
                   follow_redirects=True)
    assert r.status_code == 200 and "开始日期晚于结束日期" in r.get_data(as_text=True)


def test_visit_from_the_list(client, world, data):
    login(client, "staff")
    html = page(client, "/reports/inactive", months=1)
    assert "王喆" in html                                         # v1b: quiet for a month
    today = clock.local_today()
    r = client.post(f"/reports/visits/{world.households['v1b'].id}",
                    data={"visited_on": today.isoformat(), "note": "家中老人身体好", "next": "/reports/inactive?months=1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/reports/inactive?months=1")
    assert "王喆" not in table(page(client, "/reports/inactive", months=1))
    passbook = page(client, f"/points/households/{world.households['v1b'].id}")
    assert "家中老人身体好" in passbook
    visits = count(Visit)
    r = client.post(f"/reports/visits/{world.households['v1b'].id}",
                    data={"visited_on": (today + timedelta(days=3)).isoformat()}, follow_redirects=True)
    assert "日期不能晚于今天" in r.get_data(as_text=True) and count(Visit) == visits
    home = page(client, "/")
    assert "需要走访" in home


def test_who_reaches_the_pages(client, world, data):
    login(client, "staff")
    assert client.get("/reports/").status_code == 200
    assert client.get("/reports/fairness").status_code == 403
    client.post("/logout")
    login(client, "volunteer")
    assert client.get("/reports/").status_code == 403
    client.post("/logout")
    assert client.get("/reports/").status_code in (302, 401)
    db.session.rollback()


def test_exports_are_offered_where_a_page_answers_them(client, world, data):
    login(client, "cadre")
    for path in ("/", "/reports/"):
        assert "format=csv" not in page(client, path)
    html = page(client, "/reports/villages", period="custom", **args(data))
    assert "format=csv" in html and "format=xlsx" in html


def test_supermarket_and_donation_pages(client, world, data):
    """A cadre sees checkouts, goods out and stock by supermarket, and donors' goods in
    and out, as figures, a chart and an export; staff see the figures without the
    stock pages they may not open."""
    login(client, "cadre")
    html = page(client, "/reports/supermarkets", period="custom", **args(data))
    assert "东岭镇爱心超市" in table(html) and f"/goods/stock/{world.sm_east.id}" in html
    days = chart_data(html)["days"]
    assert sorted(days["series"][0]["data"])[-3:] == [0, 1, 1] and sum(days["series"][0]["data"]) == 2
    assert "香皂" in html and "format=csv" in html
    r = client.get("/reports/supermarkets", query_string={"period": "custom", "format": "csv", **args(data)})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("超市,兑换记录") and "东岭镇爱心超市,2,2," in text
    html = page(client, "/reports/donations", period="custom", **args(data))
    assert "青山农商银行" in table(html) and f"/goods/donors/{world.donor.id}" in html
    client.post("/logout")
    login(client, "staff")
    html = page(client, "/reports/supermarkets", period="custom", **args(data))
    assert "东岭镇爱心超市" in table(html) and "/goods/stock/" not in html
    assert "/goods/donors/" not in page(client, "/reports/donations", period="custom", **args(data))


def _expire_soap(world, data, n: int = 3):
    from app.services.goods.writeoffs import write_off

    write_off(world.users["volunteer"], world.sm_east.id,
              {"product_id": data.products["香皂"].id, "quantity": n, "reason": "expired"})
    db.session.commit()


def test_donors_by_speed_and_writeoffs_on_the_page_and_in_the_export(client, world, data):
    """The donations report follows the range's gifts: redeemed and how fast, the
    write-offs by reason, and, where a tenth or more expired, the suggestion the
    cadre may pass on; the CSV carries the same figures."""
    _expire_soap(world, data)
    login(client, "cadre")
    html = page(client, "/reports/donations", period="custom", **args(data))
    gifts = html[html.index('id="donors-gifts"'):html.index('id="writeoffs"')]
    assert "青山农商银行" in gifts and "14" in gifts and "(3%)" in gifts    # 1 of 30 redeemed, in 14 days
    offs = html[html.index('id="donors-writeoffs"'):]
    assert "香皂 3" in offs and "10%" in offs
    assert "建议与捐赠方沟通：香皂等保质期短的物资可分批捐赠。" in html
    assert "sort=speed" in html
    r = client.get("/reports/donations", query_string={"period": "custom", "format": "csv", **args(data)})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    header, row = r.get_data().decode("utf-8-sig").splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(",")))
    assert cells["捐赠方"] == "青山农商银行" and cells["兑换用时中位数（天）"] == "14.0"
    assert cells["至今已兑换"] == "1" and cells["报损：过期"] == "3" and cells["报损比例（%）"] == "10.0"
    assert cells["给捐赠方的建议"].startswith("建议与捐赠方沟通")
    client.post("/logout")
    login(client, "cadre_west")                   # another township's cadre: nothing of this one
    html = page(client, "/reports/donations", period="custom", **args(data))
    assert "青山农商银行" not in html and "建议与捐赠方沟通" not in html
    db.session.rollback()


def test_a_volunteer_sees_the_donors_of_their_supermarket_under_goods(client, world, data):
    """The reports are the cadres'; a volunteer has the same donors' figures for
    their own supermarket under the goods pages, and nothing of another's."""
    _expire_soap(world, data)
    login(client, "volunteer")
    assert client.get("/reports/donations").status_code == 403
    assert "/goods/supermarket-donors" in page(client, f"/goods/stock/{world.sm_east.id}")
    html = page(client, "/goods/supermarket-donors", period="custom", **args(data))
    assert "青山农商银行" in html and "建议与捐赠方沟通" in html and "东岭镇爱心超市" in html
    r = client.get("/goods/supermarket-donors", query_string={"period": "custom", "format": "xlsx", **args(data)})
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    client.post("/logout")
    login(client, "volunteer_west")
    assert "青山农商银行" not in page(client, "/goods/supermarket-donors", period="custom", **args(data))
    assert client.get("/goods/supermarket-donors",
                      query_string={"supermarket_id": world.sm_east.id}).status_code == 404
    client.post("/logout")
    login(client, "donor")
    assert client.get("/goods/supermarket-donors").status_code == 403
    db.session.rollback()
