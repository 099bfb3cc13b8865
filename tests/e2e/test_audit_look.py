"""The audit trail in a real browser: a township cadre opens it from the menu
on a phone, follows a household's code to its trail and back to its page."""
import pytest

from tests.e2e.helpers import login

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_cadre_follows_a_household_through_the_trail(browser, world, live, shots, lang):
    """From the menu to the trail, to one household's records (by its code), to its page and back to its trail."""
    hh = world.households["v3a"]
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        context.add_cookies([{"name": "lang", "value": lang, "url": base}])
        page = context.new_page()
        login(page, base, "cadre_west")
        label = "操作记录" if lang == "zh_CN" else "Audit trail"
        page.click(f"nav.menu >> text={label}")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == label
        page.screenshot(path=str(shots / f"audit-{lang}-phone.png"), full_page=True)
        assert world.households["v1a"].code not in page.inner_text("main")
        page.click(f"table.audit-trail >> text={hh.code}")
        page.wait_for_url(f"**household={hh.code}**")
        page.wait_for_load_state()  # the click returns once the new page commits, before its table is there
        codes = page.locator("table.audit-trail tbody td:nth-child(5)").all_inner_texts()
        assert codes and all(hh.code in c for c in codes)
        page.click("table.audit-trail tbody tr >> nth=0 >> a[href^='/households/']")
        page.wait_for_url(f"**/households/{hh.id}")
        page.wait_for_load_state()
        page.click(f"main >> a.button:has-text('{label}')")
        page.wait_for_url(f"**household={hh.code}**")
        context.close()
