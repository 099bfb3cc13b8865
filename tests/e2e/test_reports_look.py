"""The report pages in headless Chromium, as a cadre and as village staff, in
both languages, at phone and desktop width: the charts are drawn (a canvas
with pixels), nothing on the page fails, a visit is recorded from the list.
Screenshots land in tests/_artifacts."""
import pytest

from app.services import clock
from tests.e2e.helpers import login
from tests.reports_helpers import args, build_report_data

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHART_DRAWN = """el => { const c = el.querySelector('canvas');
  if (!c) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
  return false; }"""


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_reports_look(browser, app, world, live, shots, lang):
    data = build_report_data(world)
    rng = "&".join(f"{k}={v}" for k, v in args(data).items())
    pages = ["/", f"/reports/engagement?period=custom&{rng}", f"/reports/villages?period=custom&{rng}",
             f"/reports/trends?{rng}", "/reports/inactive?months=1", f"/reports/fairness?period=custom&{rng}",
             f"/reports/supermarkets?period=custom&{rng}", f"/reports/donations?period=custom&{rng}"]
    charts = {"/": 2, "/reports/villages": 1, "/reports/trends": 2, "/reports/supermarkets": 1}
    with live() as base:
        for viewport_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(viewport=viewport)
            context.add_cookies([{"name": "lang", "value": lang, "url": base}])
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            login(page, base, "cadre")
            for path in pages:
                response = page.goto(base + path)
                assert response.status == 200, (path, response.status)
                drawn = page.locator("[data-chart]")
                expected = charts.get(path.split("?")[0], 0)
                assert drawn.count() == expected, path
                for i in range(expected):
                    page.wait_for_function(
                        f"() => {{ const el = document.querySelectorAll('[data-chart]')[{i}]; "
                        f"return ({CHART_DRAWN})(el); }}", timeout=5000)
                name = path.split("?")[0].strip("/").replace("/", "_") or "dashboard"
                page.screenshot(path=str(shots / f"reports-{lang}-{viewport_name}-{name}.png"),
                                full_page=True)
            headline = "累计兑换 2 户、2 次" if lang == "zh_CN" else \
                "Redeemed since the start: 2 households, 2 times"
            page.goto(base + "/")
            assert headline in page.inner_text("main")
            assert errors == []
            context.close()


def test_staff_record_a_visit_on_a_phone(browser, app, world, live, shots):
    build_report_data(world)
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        login(page, base, "staff")
        page.goto(base + "/reports/inactive?months=1")
        row = page.locator("tbody tr", has_text="王喆")
        row.locator("input[name=note]").fill("老人在家，身体尚好")
        row.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "已登记" in page.inner_text("main")
        assert "王喆" not in page.locator("tbody").inner_text()
        page.screenshot(path=str(shots / "reports-zh-phone-visit-recorded.png"), full_page=True)
        page.goto(base + f"/points/households/{world.households['v1b'].id}")
        assert "老人在家，身体尚好" in page.inner_text("main")
        assert clock.local_today().isoformat() in page.inner_text("main")
        context.close()
