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
        page.wait_for_load_state("load")  # the counting script runs at the end of the page

        from playwright.sync_api import expect  # waits for the page's script, which may run after the inputs show

        def difference(product):
            return page.locator(f"tr:has(input[name='counted-{product.id}']) [data-difference]")

        page.fill(f"input[name='counted-{soap.id}']", "10")
        page.fill(f"input[name='counted-{salt.id}']", "30")
        expect(difference(soap)).to_have_text("-2")
        expect(difference(salt)).to_have_text("0")
        assert "diff" in page.get_attribute(f"tr:has(input[name='counted-{soap.id}'])", "class")
        page.fill(f"input[name='counted-{soap.id}']", "13")
        expect(difference(soap)).to_have_text("+1")
        page.screenshot(path=str(shots / "stocktake-zh-counting.png"))
        page.fill(f"input[name='counted-{soap.id}']", "")
        expect(difference(soap)).to_have_text("")
        assert errors == []
        context.close()


def test_a_stocktake_is_cancelled_only_once_confirmed(browser, world, live, shots):
    """The cancel button asks first (its question sits on the button, not the form):
    dismissed, the stocktake stays open; accepted, it is cancelled. Retiring a product
    asks too. Before the fix the first click cancelled at once."""
    from app.extensions import db
    from app.models import Product, Stocktake
    from app.services.goods.stocktakes import start_stocktake

    products = load_products()
    receive(world, [(products["香皂"], 12)])
    stocktake = start_stocktake(world.users["volunteer"], world.sm_east.id)
    db.session.commit()
    with live() as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        asked = []
        login(page, base, "volunteer")
        page.goto(f"{base}/goods/stocktakes/{stocktake.id}")

        def answer(accept):
            def handle(dialog):
                asked.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()
            page.once("dialog", handle)

        answer(False)
        page.click("button[value=cancel]")
        page.wait_for_timeout(300)
        db.session.rollback()     # a fresh read: the live server wrote it
        assert asked and "取消" in asked[0]
        assert db.session.get(Stocktake, stocktake.id).status == "counting"
        answer(True)
        with page.expect_navigation():
            page.click("button[value=cancel]")
        db.session.rollback()     # a fresh read: the live server wrote it
        assert db.session.get(Stocktake, stocktake.id).status == "cancelled"
        context.close()
        context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
        page = context.new_page()
        login(page, base, "admin")
        page.goto(f"{base}/goods/products")
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.locator("tr", has_text="香皂").locator("button", has_text="停用").click()
        page.wait_for_timeout(300)
        db.session.rollback()     # a fresh read: the live server wrote it
        assert len(asked) == 3 and "香皂" in asked[2]
        assert db.session.get(Product, products["香皂"].id).active
        context.close()


def test_a_bad_count_keeps_every_typed_count_and_names_its_product(browser, world, live, shots):
    """One invalid count (negative) refuses the save, names the product in the error,
    marks its line, and every count typed stays on the page (before: all blanked)."""
    from app.extensions import db
    from app.services.goods.stocktakes import start_stocktake

    products = load_products()
    soap, salt = products["香皂"], products["食盐 400g"]
    receive(world, [(soap, 12), (salt, 30)])
    stocktake = start_stocktake(world.users["volunteer"], world.sm_east.id)
    db.session.commit()
    with live() as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        login(page, base, "volunteer")
        page.goto(f"{base}/goods/stocktakes/{stocktake.id}")
        page.fill(f"input[name='counted-{soap.id}']", "11")
        page.fill(f"input[name='counted-{salt.id}']", "-3")
        with page.expect_navigation():
            page.click("button[value=save]")
        assert page.input_value(f"input[name='counted-{soap.id}']") == "11"
        assert page.input_value(f"input[name='counted-{salt.id}']") == "-3"
        flashes = page.inner_text(".flash-error") if page.locator(".flash-error").count() else page.inner_text("main")
        assert "食盐 400g" in flashes
        assert page.get_attribute(f"input[name='counted-{salt.id}']", "aria-invalid") == "true"
        assert page.get_attribute(f"input[name='counted-{soap.id}']", "aria-invalid") is None
        page.screenshot(path=str(shots / "stocktake-zh-bad-count.png"), full_page=True)
        db.session.rollback()
        assert db.session.get(type(stocktake), stocktake.id).lines == []   # nothing saved
        context.close()
