"""Receiving a donation at the counter with a USB barcode scanner (keyboard only) in
headless Chromium, then the printable receipt. Screenshots land in tests/_artifacts."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Donation, Lot
from app.services.goods import stocktakes
from tests.e2e.helpers import login
from tests.goods_helpers import load_products, redeem

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
DESKTOP = {"width": 1280, "height": 900}


def scan(page, text):
    """What a USB scanner does: type the characters, then Enter."""
    page.keyboard.type(text, delay=5)
    page.keyboard.press("Enter")


def shot(page, path) -> None:
    """A full-page screenshot; it can leave the page scrolled past its end, so scroll back."""
    page.screenshot(path=str(path), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")


def assert_scan_has_focus(page) -> None:
    """The scan field has (or, after a tick, gets back) the keyboard focus. Polled from
    here: wait_for_function evaluates a string, which the page's CSP forbids."""
    for _ in range(100):
        if page.evaluate("document.activeElement && document.activeElement.id") == "scan":
            return
        page.wait_for_timeout(50)
    raise AssertionError("the scan field does not have the focus")


def line_quantities(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#lines tbody tr')]
        .map(tr => [tr.querySelector('.line-name span').textContent, Number(tr.querySelector('.qty-input').value)]))""")


def test_receive_with_a_barcode_scanner_then_print_the_receipt(browser, world, live, shots):
    """Scans add one each, a typed number sets the quantity, bad scans are refused, the scan
    field keeps the focus, Ctrl+Enter saves, and the receipt shows what was received."""
    products = load_products()
    rice, soap, towel = products["大米 5kg"], products["香皂"], products["毛巾"]
    with live() as base:
        context = browser.new_context(viewport=TABLET)
        context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        # CSP violations and script errors show as console errors (failed loads are checked above).
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        login(page, base, "volunteer")
        page.goto(base + "/goods/receive")
        assert_scan_has_focus(page)
        page.select_option("#donor_id", str(world.donor.id))
        page.focus("#scan")

        scan(page, rice.barcode)
        scan(page, rice.barcode)
        assert line_quantities(page) == {"大米 5kg": 2}
        assert_scan_has_focus(page)
        scan(page, soap.barcode)
        scan(page, "24")                       # a number sets the highlighted line's quantity
        assert line_quantities(page) == {"大米 5kg": 2, "香皂": 24}
        scan(page, "6901234500012")            # misread: wrong check digit
        assert "6901234500012" in page.inner_text("#scan-status")
        assert line_quantities(page) == {"大米 5kg": 2, "香皂": 24}
        scan(page, "4006381333931")            # a valid barcode no product has
        assert "4006381333931" in page.inner_text("#scan-status")
        scan(page, towel.barcode)
        scan(page, towel.barcode)
        scan(page, towel.barcode)
        assert line_quantities(page) == {"大米 5kg": 2, "香皂": 24, "毛巾": 3}
        # A tap on the page (not on a control) gives the focus back to the scan field.
        page.mouse.click(5, 400)
        assert_scan_has_focus(page)
        assert page.inner_text("#total-units") == "29"
        shot(page, shots / "goods-receive-tablet.png")

        with page.expect_navigation():
            page.keyboard.press("Control+Enter")
        assert "/receipt" in page.url
        receipt_no = page.inner_text("#receipt-no")
        text = page.inner_text("#receipt")
        for name in ("大米 5kg", "香皂", "毛巾", world.donor.name, world.sm_east.name):
            assert name in text
        assert "29" in text
        shot(page, shots / "goods-receipt-screen.png")
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
        shot(page, shots / "goods-receipt-print-a4.png")
        assert not errors, errors
        context.close()

    db.session.rollback()
    donation = db.session.scalar(select(Donation))
    assert donation.receipt_no == receipt_no and donation.donor_id == world.donor.id
    assert [(line.product.name, line.quantity) for line in donation.lines] == \
        [("大米 5kg", 2), ("香皂", 24), ("毛巾", 3)]
    assert db.session.scalar(select(Lot.remaining).where(Lot.product_id == soap.id)) == 24


def test_receive_page_on_a_phone_with_a_new_donor(browser, world, live, shots):
    """On a phone, a volunteer adds a new donor in the same form, picks goods from the list, and a bad quantity is shown on its line."""
    load_products()
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
        page = context.new_page()
        login(page, base, "volunteer")
        page.goto(base + "/goods/receive")
        assert page.is_hidden("#new-donor")
        page.select_option("#donor_id", "new")
        assert page.is_visible("#new-donor")
        page.fill("#donor_name", "爱心人士 王犇")
        page.select_option("#donor_kind", "person")
        page.select_option("#pick", label="棉被 (床)")
        page.click("#pick-add")
        assert_scan_has_focus(page)
        page.fill("#lines tbody tr .qty-input", "0")
        shot(page, shots / "goods-receive-phone.png")
        with page.expect_navigation():
            page.click("#save")
        # Refused: the form comes back with the line and the donor as typed.
        assert "/goods/receive" in page.url
        assert page.input_value("#donor_name") == "爱心人士 王犇"
        assert page.locator("#lines tbody tr.bad .error").count() == 1
        shot(page, shots / "goods-receive-phone-error.png")
        page.fill("#lines tbody tr .qty-input", "2")
        with page.expect_navigation():
            page.click("#save")
        assert "/receipt" in page.url and "爱心人士 王犇" in page.inner_text("#receipt")
        shot(page, shots / "goods-receipt-phone.png")
        context.close()


def test_goods_pages_look(browser, world, live, shots):
    """Stock (with low stock highlighted), products, donors, a donor's trace and the stocktake pages render for each role."""
    products = load_products()
    from app.services.goods import donations
    vol = world.users["volunteer"]
    d = donations.receive_donation(vol, {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
                                         "lines": [{"product_id": products["大米 5kg"].id, "quantity": 40},
                                                   {"product_id": products["香皂"].id, "quantity": 3,
                                                    "unit_value": "4.50"}]})
    redeem(vol, world.sm_east.id, products["大米 5kg"].id, 6,
                            household=world.households["v1a"])
    redeem(vol, world.sm_east.id, products["大米 5kg"].id, 4,
                            household=world.households["v2a"])
    st = stocktakes.start_stocktake(vol, world.sm_east.id)
    stocktakes.record_counts(vol, st.id, {"counts": [{"product_id": products["香皂"].id, "counted": 2}]})
    stocktakes.submit_stocktake(vol, st.id)
    db.session.commit()
    sm = world.sm_east.id
    pages = {
        "volunteer": ["/", f"/goods/stock/{sm}", f"/goods/stock/{sm}/writeoff", f"/goods/stock/{sm}/transfer",
                      f"/goods/stock/{sm}/stocktakes", f"/goods/donations/{d.id}", "/goods/donors"],
        "admin": ["/goods/products", "/goods/products/new", "/goods/products/import", "/goods/",
                  f"/goods/stocktakes/{st.id}", "/goods/cash"],
        "cadre": [f"/goods/stocktakes/{st.id}", f"/goods/stock/{sm}/lots"],
        "donor": [f"/goods/donors/{world.donor.id}"],
    }
    with live() as base:
        for role, paths in pages.items():
            for viewport_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
                context = browser.new_context(viewport=viewport)
                context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
                page = context.new_page()
                login(page, base, role)
                for path in paths:
                    response = page.goto(base + path)
                    assert response.status == 200, (role, path, response.status)
                    name = path.strip("/").replace("/", "_") or "home"
                    shot(page, shots / f"goods-{viewport_name}-{role}-{name}.png")
                if role == "volunteer":
                    page.goto(base + "/")
                    assert "香皂" in page.inner_text("#low-stock")
                context.close()


def line_dates(page) -> list:
    return page.evaluate("""() => [...document.querySelectorAll('#lines tbody tr')].map(tr =>
        [tr.querySelector('.line-name span').textContent, Number(tr.querySelector('.qty-input').value),
         tr.querySelector('.date-input').value])""")


def test_receive_with_best_before_dates_remembered_per_product(browser, world, live, shots):
    """By scanner alone, a best-before date typed once stays with the product: the next scans
    of it (after other products too) land on its dated line; '+ another date' splits the last
    one off for a second date, and the scans after that go there. A UPC-A scanned as 12 or 13
    digits is the same product. The lots carry the dates; the receipt shows them and marks the
    lines without a value."""
    products = load_products()
    rice, soap = products["大米 5kg"], products["香皂"]
    from app.services.goods import products as goods
    peanut = goods.create_product(world.users["admin"], {"name": "花生酱", "unit": "瓶", "points_price": 9,
                                                         "barcode": "036000291452"})
    db.session.commit()
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        login(page, base, "volunteer")
        page.goto(base + "/goods/receive")
        page.select_option("#donor_id", str(world.donor.id))
        page.focus("#scan")
        scan(page, rice.barcode)
        page.fill('#lines tbody tr[data-product="%d"] .date-input' % rice.id, "2027-03-01")
        page.focus("#scan")
        scan(page, rice.barcode)
        scan(page, soap.barcode)
        scan(page, "036000291452")             # UPC-A as 12 digits ...
        scan(page, "0036000291452")            # ... and as 13: one product
        scan(page, rice.barcode)               # rice again, after others: its dated line
        assert line_dates(page) == [["大米 5kg", 3, "2027-03-01"], ["香皂", 1, ""], ["花生酱", 2, ""]]
        assert_scan_has_focus(page)
        # The third bag of rice has another date: split it off and type that date.
        page.click('#lines tbody tr[data-product="%d"] button.split' % rice.id)
        page.fill('#lines tbody tr[data-index="1"] .date-input', "2027-05-01")
        page.keyboard.press("Enter")           # back to the scan field
        assert_scan_has_focus(page)
        scan(page, rice.barcode)
        scan(page, rice.barcode)
        assert line_dates(page) == [["大米 5kg", 2, "2027-03-01"], ["大米 5kg", 3, "2027-05-01"],
                                    ["香皂", 1, ""], ["花生酱", 2, ""]]
        page.fill('#lines tbody tr[data-product="%d"] .value-input' % soap.id, "4.5")
        shot(page, shots / "goods-receive-best-before-phone.png")
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")
        assert "/receipt" in page.url
        text = page.inner_text("#receipt")
        assert "2027-03-01" in text and "2027-05-01" in text and "未估价" in text
        shot(page, shots / "goods-receipt-best-before-phone.png")
        assert not errors, errors
        context.close()
    db.session.rollback()
    lots = db.session.scalars(select(Lot).order_by(Lot.id)).all()
    assert [(lot.product_id, lot.quantity, lot.best_before and lot.best_before.isoformat()) for lot in lots] == [
        (rice.id, 2, "2027-03-01"), (rice.id, 3, "2027-05-01"), (soap.id, 1, None), (peanut.id, 2, None)]
