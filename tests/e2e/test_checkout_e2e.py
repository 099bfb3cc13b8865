"""The checkout counter in headless Chromium against a live server: a USB
scanner (keyboard only), the camera (a fake video of a printed card), a
revoked card, and the layout on a tablet and a phone. Screenshots land in
tests/_artifacts/screenshots."""
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import Card, Checkout, Household, LedgerEntry
from app.services.checkout.card_images import card_image
from app.services.checkout.cards import CardRevoked
from tests.checkout_helpers import card_for, counts, give_points, stocked
from tests.e2e.conftest import CHROMIUM_FLAGS, chromium_path
from tests.e2e.helpers import login
from tests.goods_helpers import load_products, receive

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}


def scan(page, text):
    """What a USB scanner does: type the characters into whatever has the focus, then Enter."""
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def watch(page) -> list:
    """Script errors and failed requests on the page, to assert there were none."""
    problems = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return problems


def open_counter(context, base, username="volunteer"):
    page = context.new_page()
    problems = watch(page)
    login(page, base, username)
    page.goto(base + "/counter/")
    page.wait_for_selector("#scan")
    return page, problems


def cart_lines(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#cart-lines li')]
        .map(li => [li.querySelector('.cart-name').firstChild.textContent, Number(li.querySelector('.cart-n').textContent)]))""")


def printed(page, path: Path) -> tuple[float, float, int]:
    """Print the page to PDF as the browser would: (width, height) in points of its page, and how many pages."""
    pdf = page.pdf(prefer_css_page_size=True)
    path.write_bytes(pdf)
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return float(box.group(1)), float(box.group(2)), len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def zh_context(browser, viewport, base, **options):
    context = browser.new_context(viewport=viewport, locale="zh-CN", **options)
    context.add_cookies([{"name": "lang", "value": "zh_CN", "url": base}])
    return context


def test_usb_scanner_checkout(browser, world, live, shots):
    """Card payload and two barcodes typed as a scanner would, confirm: the receipt shows the new balance; one checkout is written and the balance debited."""
    products = stocked(world)
    rice, soap = products["大米 5kg"], products["香皂"]
    give_points(world, world.households["v1b"], 100)
    payload = card_for(world, "v1b")
    db.session.commit()
    with live() as base:
        context = zh_context(browser, TABLET, base)
        page, problems = open_counter(context, base)
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert focused_id(page) == "scan"

        scan(page, soap.barcode)  # goods before the household: refused
        page.wait_for_selector("#scan-status.scan-error")
        assert cart_lines(page) == {}

        scan(page, payload)
        page.wait_for_selector("#household-info:not([hidden])")
        assert page.inner_text("#hh-name") == "王喆"
        assert page.inner_text("#hh-balance") == "100"
        scan(page, rice.barcode)
        scan(page, soap.barcode)
        page.wait_for_function("document.querySelectorAll('#cart-lines li').length === 2")
        assert cart_lines(page) == {"大米 5kg": 1, "香皂": 1}
        assert page.inner_text("#cart-total") == "54"
        assert page.inner_text("#cart-after") == "46"
        assert focused_id(page) == "scan"
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-tablet-cart.png"))

        page.click("#confirm")
        page.wait_for_selector("#receipt-box:not([hidden])")
        receipt = page.inner_text("#receipt-slot")
        assert "王喆" in receipt and "大米 5kg" in receipt and "香皂" in receipt
        assert page.inner_text("[data-balance-after]") == "46"
        assert page.inner_text("[data-total]") == "54"
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-tablet-receipt.png"))
        width, height, pages = printed(page, shots / "counter-receipt-58mm.pdf")
        assert round(width * 25.4 / 72) == 58 and 60 < height * 25.4 / 72 < 200 and pages == 1
        page.wait_for_selector("#today-list .checkout-item")
        assert "王喆" in page.inner_text("#today-list")
        assert focused_id(page) == "scan"
        assert problems == []
        context.close()

    db.session.rollback()
    checkouts = db.session.scalars(select(Checkout)).all()
    assert len(checkouts) == 1
    assert (checkouts[0].household_id, checkouts[0].total_points, checkouts[0].balance_after) == (
        world.households["v1b"].id, 54, 46)
    assert checkouts[0].card_id is not None
    assert db.session.get(Household, world.households["v1b"].id).balance == 46


def fake_camera_video(card: Card, path: Path, frames: int = 5) -> Path:
    """A YUV4MPEG2 (C420) file of a printed card held up on a white 640x480 frame."""
    image = card_image(card)
    width, height = 640, 480
    image.thumbnail((600, 440))
    frame = Image.new("RGB", (width, height), "white")
    frame.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)
    return path


def test_camera_selects_the_household(browser, world, live, shots, tmp_path):
    """With a (fake) camera showing the printed card, pressing the camera button selects the household."""
    stocked(world)
    give_points(world, world.households["v1b"], 30)
    card_for(world, "v1b")
    card = db.session.scalars(select(Card).where(Card.household_id == world.households["v1b"].id)).one()
    video = fake_camera_video(card, tmp_path / "card.y4m")
    db.session.commit()
    camera_browser = browser.browser_type.launch(
        executable_path=chromium_path(), headless=True,
        args=CHROMIUM_FLAGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                               f"--use-file-for-fake-video-capture={video}"])
    try:
        with live() as base:
            context = zh_context(camera_browser, TABLET, base)
            context.grant_permissions(["camera"], origin=base)
            page, problems = open_counter(context, base)
            assert page.is_visible("#camera-open")
            page.click("#camera-open")
            page.wait_for_selector("#household-info:not([hidden])", timeout=15000)
            assert page.inner_text("#hh-name") == "王喆"
            assert page.inner_text("#hh-balance") == "30"
            page.screenshot(animations="disabled", path=str(shots / "counter-zh-tablet-camera.png"))
            page.click("#camera-close")
            assert page.is_hidden("#camera")
            assert problems == []
            context.close()
    finally:
        camera_browser.close()


def test_revoked_card_is_refused_in_chinese(browser, world, live, shots):
    """A revoked card gets the Chinese refusal message, no household is selected and nothing is written."""
    stocked(world)
    give_points(world, world.households["v1a"], 100)
    old = card_for(world, "v1a")
    card_for(world, "v1a")
    db.session.commit()
    with force_locale("zh_CN"):
        expected = str(CardRevoked.title)
    before = counts()
    with live() as base:
        context = zh_context(browser, PHONE, base)
        page, problems = open_counter(context, base)
        scan(page, old)
        page.wait_for_selector("#scan-status.scan-error")
        assert page.inner_text("#scan-status") == expected
        assert page.is_hidden("#household-info")
        assert page.is_disabled("#confirm")
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-phone-revoked.png"))
        # The refusal is a 410 answer; the page shows it and carries on.
        assert [p for p in problems if "/counter/api/resolve" not in p] == []
        context.close()
    db.session.rollback()
    assert counts() == before
    assert db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.kind == "redemption")).all() == []


def test_phone_tiles_and_receipt(browser, world, live, shots):
    """On a phone: tapped tiles and +/- fill the cart, the scan field takes the focus back, the total stays on screen, and the receipt shows."""
    products = load_products()
    rice, salt, soap = products["大米 5kg"], products["食盐 400g"], products["香皂"]
    receive(world, [(rice, 5), (salt, 10), (soap, 8), (products["毛巾"], 3)],
            supermarket=world.sm_west, user="volunteer_west")
    give_points(world, world.households["v3a"], 80)
    payload = card_for(world, "v3a")
    db.session.commit()
    with live() as base:
        context = zh_context(browser, PHONE, base, has_touch=True)
        page, problems = open_counter(context, base, "volunteer_west")
        assert page.locator(".good").count() == 4
        page.click(f".good[data-product='{salt.id}']")  # before the card: refused
        assert cart_lines(page) == {}
        scan(page, payload)
        page.wait_for_selector("#household-info:not([hidden])")
        assert page.inner_text("#hh-name") == "李堃"
        page.click(f".good[data-product='{rice.id}']")
        page.click(f".good[data-product='{salt.id}']")
        assert focused_id(page) == "scan"
        page.click(f"#cart-lines li[data-product='{salt.id}'] button[data-step='1']")
        page.click(f"#cart-lines li[data-product='{salt.id}'] button[data-step='1']")
        page.click(f"#cart-lines li[data-product='{salt.id}'] button[data-step='-1']")
        assert cart_lines(page) == {"大米 5kg": 1, "食盐 400g": 2}
        assert page.inner_text("#cart-total") == "54"
        assert focused_id(page) == "scan"
        bar = page.locator("#checkout-bar").bounding_box()
        assert bar["y"] + bar["height"] <= PHONE["height"] + 1  # the total and confirm stay in view
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-phone-cart.png"))
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-phone-cart-full.png"), full_page=True)
        page.click("#confirm")
        page.wait_for_selector("#receipt-box:not([hidden])")
        assert "李堃" in page.inner_text("#receipt-slot")
        assert page.inner_text("[data-balance-after]") == "26"
        page.screenshot(animations="disabled", path=str(shots / "counter-zh-phone-receipt.png"))
        page.click("#receipt-next")
        assert page.is_hidden("#receipt-box")
        assert page.inner_text(f".good[data-product='{rice.id}'] [data-stock]") == "4"
        assert problems == []
        context.close()
    db.session.rollback()
    assert db.session.get(Household, world.households["v3a"].id).balance == 26
