"""A household that forgot its card, at the counter in headless Chromium on a
phone: a name typed into the scan field finds it, the household's passbook PIN
(a wrong one first) or a reason lets the volunteer serve it, and the receipt
says no card was used and why. Names never go into a URL. A card from another
township is named. Screenshots land in tests/_artifacts/screenshots."""
import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Checkout
from app.services.points.passbook import set_passbook_pin
from tests.checkout_helpers import card_for, give_points, stocked
from tests.e2e.conftest import chromium_path  # noqa: F401  (the browser fixture's)
from tests.e2e.test_checkout_e2e import PHONE, focused_id, open_counter, scan, zh_context
from tests.views.test_counter import no_card_zh, zh

pytestmark = pytest.mark.browser


def test_checkout_without_card_by_name_pin_and_by_code_reason(browser, world, live, shots):
    products = stocked(world)
    soap = products["香皂"]
    give_points(world, world.households["v1a"], 100)
    give_points(world, world.households["v1b"], 50)
    set_passbook_pin(world.users["admin"], world.households["v1a"].id, "482915")
    west_card = card_for(world, "v3a")
    db.session.commit()
    v1b_code = world.households["v1b"].code
    with live() as base:
        context = zh_context(browser, PHONE, base)
        page, problems = open_counter(context, base)
        urls = []
        page.on("request", lambda r: urls.append(r.url))

        # A name typed where the scanner types: the search opens with the household.
        page.click("#scan")
        scan(page, "杜玉梅")
        page.wait_for_selector("#nocard:not([hidden]) #nocard-results li")
        assert "东坪村" in page.inner_text("#nocard-results")
        page.screenshot(animations="disabled", path=str(shots / "nocard-zh-phone-search.png"), full_page=True)
        page.click("#nocard-results button[data-pick]")
        page.wait_for_selector("#nc-pin-form:not([hidden])")
        assert focused_id(page) == "nc-pin"
        page.keyboard.type("111222")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('nc-error').textContent.length > 0")
        assert zh(_l("Wrong PIN.")) in page.inner_text("#nc-error")
        assert page.is_hidden("#household-info")
        page.screenshot(animations="disabled", path=str(shots / "nocard-zh-phone-pin.png"), full_page=True)
        page.fill("#nc-pin", "482915")
        page.click("#nc-pin-form button[type=submit]")
        page.wait_for_selector("#household-info:not([hidden])")
        assert page.is_hidden("#nocard")
        assert page.inner_text("#hh-name") == "杜玉梅"
        assert page.inner_text("#hh-nocard") == no_card_zh("pin")
        page.click(f".good[data-product='{soap.id}']")
        page.wait_for_function("() => document.querySelectorAll('#cart-lines li').length === 1")
        page.click("#confirm")
        page.wait_for_selector("#receipt-box:not([hidden])")
        receipt = page.inner_text("#receipt-slot")
        assert "杜玉梅" in receipt and no_card_zh("pin") in receipt
        page.screenshot(animations="disabled", path=str(shots / "nocard-zh-phone-receipt.png"), full_page=True)
        page.click("#receipt-next")

        # A household code typed into the scan field: no PIN set, so a reason.
        scan(page, v1b_code)
        page.wait_for_selector("#nocard-pick:not([hidden])")
        assert page.inner_text("#nc-name") == "王喆" and page.is_hidden("#nc-pin-form")
        page.click("#nc-reason-form button[type=submit]")  # no reason picked: refused
        assert zh(_l("Pick a reason, or type what happened.")) in page.inner_text("#nc-error")
        page.check("input[name=reason][value=at_home]")
        page.screenshot(animations="disabled", path=str(shots / "nocard-zh-phone-reason.png"), full_page=True)
        page.click("#nc-reason-form button[type=submit]")
        page.wait_for_selector("#household-info:not([hidden])")
        assert page.inner_text("#hh-nocard") == no_card_zh("at_home")
        page.click(f".good[data-product='{soap.id}']")
        page.wait_for_function("() => document.querySelectorAll('#cart-lines li').length === 1")
        page.click("#confirm")
        page.wait_for_selector("#receipt-box:not([hidden])")
        assert no_card_zh("at_home") in page.inner_text("#receipt-slot")
        page.click("#receipt-next")
        page.wait_for_function("() => document.querySelectorAll('#today-list .nocard-pill').length === 2")

        # A card from another township: named, with its supermarket.
        scan(page, west_card)
        page.wait_for_selector("#scan-status.scan-error")
        status = page.inner_text("#scan-status")
        assert "西坡乡" in status and "西坡乡爱心超市" in status
        page.screenshot(animations="disabled", path=str(shots / "nocard-zh-phone-elsewhere.png"), full_page=True)

        assert not [u for u in urls if "杜玉梅" in u or "%E6%9D%9C" in u or v1b_code in u]
        assert [p for p in problems if not p.startswith(("404 ", "422 "))] == []
        context.close()

    db.session.rollback()
    rows = db.session.execute(select(Checkout.household_id, Checkout.card_used, Checkout.no_card_reason)
                              .order_by(Checkout.id)).all()
    assert rows == [(world.households["v1a"].id, False, "pin"), (world.households["v1b"].id, False, "at_home")]
