"""The points pages in headless Chromium: award through the page (scanning
cards into the list), print the village notice to an A4 PDF, open the public
passbook. Screenshots and the PDF land in tests/_artifacts/screenshots."""
import subprocess

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LedgerEntry
from app.services.checkout import cards
from app.services.points import passbook
from app.services.ledger import writer as posting
from app.services.points import rules
from app.services.people.households import create_household
from app.services.points import entries
from tests.e2e.helpers import login
from tests.points_helpers import at, award, photo

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NAMES = ["欧阳小明", "张三丰", "李堃", "赵犇", "陈淑华", "刘建国", "黄晓燕", "周喆"]


def shoot(page, path):
    """A full-page screenshot with the page scrolled to its end, so the sticky award bar sits where it belongs."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=str(path), full_page=True)


def print_to_png(page, shots, name):
    """Print the page to an A4 PDF with Chromium, and each PDF page to a PNG to look at."""
    pdf = shots / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    for old in shots.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(shots / name)], check=True)
    assert list(shots.glob(f"{name}-*.png"))


@pytest.fixture
def village(world):
    """The world's first village with a real catalogue, more households, cards and a month of points."""
    rules.load_default_rules(None)
    admin = world.users["admin"]
    for name in NAMES:
        world.households[name] = create_household(admin, {"village_id": world.v1.id, "head_name": name})
    db.session.commit()
    award(world, "staff", ["v1a", "欧阳小明", "张三丰", "李堃"], "GY-03", note="11月村民大会")
    disputed = award(world, "staff", ["赵犇"], "HJ-02")[0]
    award(world, "staff", ["陈淑华"], "FG-02", note="儿子婚礼简办, 未大操大办, 村委会核实")
    award(world, "staff", ["刘建国"], "KF-03")
    award(world, "staff", ["刘建国", "黄晓燕"], "XL-01", now=at(-5))
    wrong = award(world, "staff", ["周喆"], "XL-03", now=at(-5))[0]
    posting.post_due()
    entries.reverse_entry(world.users["cadre"], wrong.id, {"reason": "重复登记"})
    entries.raise_objection(world.users["staff"], disputed.id, {"reason": "邻居反映未达标"})
    db.session.commit()
    world.cards = {n: cards.issue_card(admin, world.households[n].id) for n in ("v1a", "v1b")}
    passbook.set_passbook_pin(admin, world.households["v1a"].id, "482913")
    db.session.commit()
    return world


def test_award_through_the_page_and_print_the_notice(browser, village, live, shots, tmp_path):
    """Staff award by scanning a card payload and typing a card number; the notice prints on A4 with masked names."""
    w = village
    payload = cards.qr_payload(w.cards["v1b"])
    number = cards.format_number(w.cards["v1a"].number)
    v1a, v1b = w.households["v1a"].id, w.households["v1b"].id
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") and "/points/award" not in r.url
                else None)
        login(page, base, "staff")
        page.goto(base + "/points/award")
        page.select_option("#rule_code", "HJ-03")
        assert "+2" in page.inner_text("#rule-facts")
        scan = page.locator("#scan")
        scan.press_sequentially(payload)   # a USB scanner types the QR payload ...
        scan.press("Enter")                # ... and Enter
        page.wait_for_selector(f'.village-list input[value="{v1b}"]:checked')
        assert "王喆" in page.inner_text("#scan-status")
        scan.fill(number)
        scan.press("Enter")
        page.wait_for_selector(f'.village-list input[value="{v1a}"]:checked')
        page.fill("#note", "打扫村道")
        assert "2" in page.inner_text("#selected-count")
        shoot(page, shots / "points-award-phone.png")
        page.click("#award-submit")
        page.wait_for_load_state()
        assert page.locator(".flash-success").count() == 1
        db.session.rollback()
        made = db.session.scalars(select(LedgerEntry).where(LedgerEntry.rule_code == "HJ-03")).all()
        assert sorted(e.household_id for e in made) == sorted([v1a, v1b])
        assert all(e.note == "打扫村道" for e in made)
        # The same household again: HJ-03 allows one a month, so the page names who blocks it.
        page.select_option("#rule_code", "HJ-03")
        page.check(f'.village-list input[value="{v1a}"]')
        page.check(f'.village-list input[value="{w.households["黄晓燕"].id}"]')
        page.click("#award-submit")
        page.wait_for_load_state()
        assert "杜玉梅" in page.inner_text(".award-blocked")
        shoot(page, shots / "points-award-blocked-phone.png")
        assert errors == []
        context.close()

        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        login(page, base, "staff")
        page.goto(base + "/points/award")
        page.select_option("#rule_code", "GY-01")
        assert page.locator("#evidence-needed").is_visible()
        page.locator(".list-filter").fill("周")
        page.check(".select-all")
        picture = tmp_path / "photo.jpg"
        picture.write_bytes(photo(1200, 900))
        page.set_input_files("#evidence", str(picture))
        shoot(page, shots / "points-award-desktop.png")
        page.click("#award-submit")
        page.wait_for_load_state()
        assert page.locator(".flash-success").count() == 1
        db.session.rollback()
        made = db.session.scalars(select(LedgerEntry).where(LedgerEntry.rule_code == "GY-01")).all()
        assert [e.household_id for e in made] == [w.households["周喆"].id] and made[0].evidence_id
        page.goto(base + f"/points/households/{v1a}")
        page.screenshot(path=str(shots / "points-passbook-staff-desktop.png"), full_page=True)
        print_to_png(page, shots, "points-passbook-a4")
        page.goto(base + "/points/review")
        page.screenshot(path=str(shots / "points-review-staff-desktop.png"), full_page=True)
        context.close()

        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(base + f"/notice/{w.v1.id}")
        assert "杜*梅" in page.inner_text("main") and "杜玉梅" not in page.inner_text("main")
        page.screenshot(path=str(shots / "points-notice-desktop.png"), full_page=True)
        print_to_png(page, shots, "points-notice-a4")
        context.close()


def test_public_passbook_in_the_browser(browser, village, live, shots):
    """A household opens its own passbook on a phone with its card number and PIN."""
    w = village
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        page.goto(base + "/passbook")
        page.screenshot(path=str(shots / "points-passbook-login-phone.png"), full_page=True)
        page.fill("input[name=card_number]", cards.format_number(w.cards["v1a"].number))
        page.fill("input[name=pin]", "482913")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.url == base + "/passbook"
        assert "杜玉梅" in page.inner_text("main") and "11月村民大会" in page.inner_text("main")
        page.screenshot(path=str(shots / "points-passbook-public-phone.png"), full_page=True)
        context.close()
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        page.goto(base + f"/notice/{w.v1.id}")
        page.screenshot(path=str(shots / "points-notice-phone.png"), full_page=True)
        context.close()


def test_review_and_rules_pages_look(browser, village, live, shots):
    """A cadre's review queue on a phone and the admin's rule catalogue at both widths."""
    w = village
    big = rules.create_rule(None, {"code": "TS-01", "category": "公益参与", "name": "带头捐资修路",
                                   "points": 80, "cap_per_month": 1})
    db.session.commit()
    award(w, "staff", ["陈淑华"], big.code, note="捐资 2000 元")
    with live() as base:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        login(page, base, "cadre")
        page.goto(base + "/points/review")
        assert page.locator(".review-item form .primary").count() == 2
        page.screenshot(path=str(shots / "points-review-cadre-phone.png"), full_page=True)
        context.close()
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            login(page, base, "admin")
            page.goto(base + "/points/rules")
            assert page.locator("tr#rule-KF-06").count() == 1
            page.screenshot(path=str(shots / f"points-rules-{name}.png"), full_page=True)
            context.close()
