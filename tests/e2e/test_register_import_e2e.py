"""Importing a national register in headless Chromium, at phone width: the
preview groups six people into three households, lists each one's people,
never shows an ID number, and the import adds three households."""
import pytest

from tests.e2e.helpers import login
from tests.services.test_national_register import ID, as_csv, register

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_national_register_preview(browser, world, live, shots, tmp_path, lang):
    """Upload the six-person register: the preview says 6 rows, 3 households (6 行, 3 户),
    shows 赵大山's household with its three people, and importing adds three households."""
    from app.extensions import db
    from app.models import Household
    from tests.factories import count

    before = count(Household)
    upload = tmp_path / "东坪村花名册.csv"
    upload.write_bytes(as_csv(register()))
    with live() as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        context.add_cookies([{"name": "lang", "value": lang, "url": base}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        login(page, base, "staff")
        page.goto(f"{base}/households/import")
        page.screenshot(path=str(shots / f"register-import-{lang}.png"), full_page=True)
        page.set_input_files("input[type=file]", str(upload))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_selector("#import-summary")
        summary = page.inner_text("#import-summary")
        assert ("6 rows, 3 households" if lang == "en" else "6 行，3 户。") in summary
        assert page.locator("table.import-preview tbody tr").count() == 3
        first = page.inner_text("table.import-preview tbody tr:first-child")
        assert "赵大山" in first and "钱秀兰" in first and "赵小虎" in first and "建档立卡" in first
        assert ID[:10] not in page.content()
        page.screenshot(path=str(shots / f"register-preview-{lang}.png"), full_page=True)
        page.click("button[name=mode][value=all]")
        page.wait_for_load_state()
        assert ("3 households added." if lang == "en" else "已新增 3 户") in page.inner_text("main")
        assert errors == []
        context.close()
    db.session.rollback()
    assert count(Household) == before + 3
