"""Every foundation page, opened in headless Chromium as each role would, in
both languages, at phone and desktop width. Screenshots land in tests/_artifacts."""
import pytest

from tests.e2e.helpers import login

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def test_login_page_is_chinese_whatever_the_browser_language(browser, world, live, shots):
    """An English-speaking browser still gets the Chinese login page; the switch to English is remembered."""
    with live() as base:
        context = browser.new_context(locale="en-US", viewport=PHONE)
        page = context.new_page()
        page.goto(base + "/")
        assert page.url.startswith(base + "/login")
        assert page.locator("h1").inner_text() == "登录"
        page.screenshot(path=str(shots / "login-zh-phone.png"), full_page=True)
        page.click("text=English")
        page.wait_for_load_state()  # the click returns once the new page commits
        assert page.locator("h1").inner_text() == "Log in"
        page.goto(base + "/login")
        assert page.locator("h1").inner_text() == "Log in"
        page.screenshot(path=str(shots / "login-en-phone.png"), full_page=True)
        context.close()


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_role_reaches_its_pages(browser, world, live, shots, lang):
    """Each role logs in and sees its home page and the pages it may use, at both widths."""
    pages = {
        "admin": ["/", "/admin/regions", "/admin/supermarkets", "/admin/users", "/admin/backups", "/households/",
                  f"/households/{world.households['v1a'].id}", f"/households/{world.households['v1a'].id}/edit",
                  "/households/new", "/households/import", "/password"],
        "staff": ["/", "/households/", "/households/new", "/households/import",
                  f"/households/{world.households['v1b'].id}"],
        "cadre": ["/", "/households/?village_id=%d" % world.v3.id],
        "volunteer": ["/"],
        "donor": ["/"],
    }
    expected_home = {"zh_CN": {"admin": "县级管理员", "staff": "村级管理员", "cadre": "帮扶干部",
                               "volunteer": "超市管理员", "donor": "捐赠方"},
                     "en": {"admin": "County administrator", "staff": "Village staff", "cadre": "Cadre",
                            "volunteer": "Supermarket volunteer", "donor": "Donor"}}
    with live() as base:
        for viewport_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            for role, paths in pages.items():
                context = browser.new_context(viewport=viewport)
                context.add_cookies([{"name": "lang", "value": lang, "url": base}])
                page = context.new_page()
                login(page, base, role)
                assert expected_home[lang][role] in page.inner_text("main")
                for path in paths:
                    response = page.goto(base + path)
                    assert response.status == 200, (role, path, response.status)
                    name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "") or "home"
                    page.screenshot(path=str(shots / f"{lang}-{viewport_name}-{role}-{name}.png"), full_page=True)
                context.close()
