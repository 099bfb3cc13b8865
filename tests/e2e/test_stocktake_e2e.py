"""Counting a stocktake in headless Chromium: the difference from the system's
stock shows while the volunteer types, before anything is saved."""
import pytest

from tests.e2e.helpers import login
from tests.goods_helpers import load_products, receive

pytestmark = pytest.mark.browser


def test_difference_shows_while_counting(browser, world, live, shots):
    """Typing a count shows +n / -n / 0 against the system's stock at once; clearing it clears the difference."""
    products = load_products()
    soap, salt = products["香皂"], products["食盐 400g"]
    receive(world, [(soap, 12), (salt, 30)])
    with live() as base:
        context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        login(page, base, "volunteer")
        page.goto(f"{base}/goods/stock/{world.sm_east.id}/stocktakes")
        page.click("form[action$='/stocktakes'] button[type=submit]")
        page.wait_for_selector("input.count")

        def difference(product):
            return page.inner_text(f"tr:has(input[name='counted-{product.id}']) [data-difference]")

        page.fill(f"input[name='counted-{soap.id}']", "10")
        page.fill(f"input[name='counted-{salt.id}']", "30")
        assert (difference(soap), difference(salt)) == ("-2", "0")
        assert "diff" in page.get_attribute(f"tr:has(input[name='counted-{soap.id}'])", "class")
        page.fill(f"input[name='counted-{soap.id}']", "13")
        assert difference(soap) == "+1"
        page.screenshot(path=str(shots / "stocktake-zh-counting.png"))
        page.fill(f"input[name='counted-{soap.id}']", "")
        assert difference(soap) == ""
        assert errors == []
        context.close()
