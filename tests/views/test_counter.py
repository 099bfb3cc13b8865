"""The checkout counter page (/counter) and the JSON it talks to: wiring,
refusals that write nothing, roles and scope, CSRF."""
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Card, Checkout, Household, IdempotencyKey, LedgerEntry
from app.services.checkout.cards import CardRevoked
from app.services.checkout.checkouts import check_out
from tests.checkout_helpers import card_for, counts, give_points, stocked
from tests.factories import PASSWORD
from tests.goods_helpers import level

RESOLVE = "/counter/api/resolve"
CONFIRM = "/counter/api/checkouts"


@pytest.fixture
def shop(world):
    products = stocked(world)
    give_points(world, world.households["v1a"], 100)
    return products


class UserClient:
    """A test client logged in as one user. Each request runs in an app context
    of its own: the fixture's context would keep the first user's login in `g`
    for every client of the test."""

    def __init__(self, app, username: str):
        self.app, self.client = app, app.test_client()
        r = self.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 302, r.get_data(as_text=True)

    def _call(self, method: str, *args, **kwargs):
        with self.app.app_context():
            return getattr(self.client, method)(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._call("post", *args, **kwargs)


def as_user(app, username: str) -> UserClient:
    return UserClient(app, username)


@pytest.fixture
def volunteer(app, world):
    return as_user(app, "volunteer")


def cart(world, products, *items, **buyer) -> dict:
    body = {"supermarket_id": world.sm_east.id,
            "lines": [{"product_id": products[name].id, "quantity": q} for name, q in items]}
    body.update(buyer)
    return body


def balance(world, key: str) -> int:
    db.session.rollback()  # the requests ran in sessions of their own
    return db.session.get(Household, world.households[key].id).balance


def written() -> tuple[int, int, int]:
    """(checkouts, ledger entries, lot movements) as the requests left them."""
    db.session.rollback()
    return counts()


def stock(world, product) -> int:
    db.session.rollback()
    return level(world.sm_east, product)


def zh(message) -> str:
    """What a Chinese user reads for this message (the zh_CN catalogue)."""
    with force_locale("zh_CN"):
        return str(message)


# -- the page -------------------------------------------------------------------------

def test_till_shows_goods_in_stock_with_counts(volunteer, world, shop):
    """The volunteer's till lists only the products in stock at their supermarket, with the stock count, in a JSON block for the script."""
    r = volunteer.get("/counter/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert world.sm_east.name in html
    assert re.search(r'<meta name="csrf-token" content="[^"]*">', html)
    tiles = re.findall(r'<button type="button" class="good" data-product="(\d+)">', html)
    assert sorted(int(t) for t in tiles) == sorted(shop[n].id for n in ("大米 5kg", "香皂", "食盐 400g"))
    assert shop["面粉 5kg"].name not in html.split('id="goods"')[1].split("</section>")[0]
    assert '<b data-stock>10</b>' in html
    assert 'id="counter-data"' in html and '"supermarket_id": %d' % world.sm_east.id in html
    assert "/static/js/counter.js" in html and "/static/vendor/barcode-detector/ponyfill.js" in html


def test_admin_picks_a_supermarket_and_it_is_remembered(app, world, shop):
    """Someone with several supermarkets picks one; the choice is kept in the session."""
    admin = as_user(app, "admin")
    r = admin.get("/counter/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert world.sm_east.name in html and world.sm_west.name in html and 'id="scan"' not in html
    r = admin.get(f"/counter/?supermarket_id={world.sm_west.id}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/counter/")
    html = admin.get("/counter/").get_data(as_text=True)
    assert 'id="scan"' in html and world.sm_west.name in html
    assert '"supermarket_id": %d' % world.sm_west.id in html
    assert admin.get("/counter/?pick=1").get_data(as_text=True).count("tile market-tile") == 2


def test_page_roles(app, world, shop):
    """Staff and donors get 403 from the counter; a cadre is sent to the checkouts list; a guest to the login page."""
    for name in ("staff", "donor"):
        c = as_user(app, name)
        assert c.get("/counter/").status_code == 403
        assert c.get("/counter/checkouts").status_code == 403
    cadre = as_user(app, "cadre")
    r = cadre.get("/counter/")
    assert r.status_code == 302 and "/counter/checkouts" in r.headers["Location"]
    assert app.test_client().get("/counter/").status_code == 302
    west = as_user(app, "volunteer_west")
    assert west.get(f"/counter/?supermarket_id={world.sm_east.id}").status_code == 404


# -- resolve a scan -----------------------------------------------------------------------

def test_resolve_card_payload_and_typed_number(volunteer, world, shop):
    """A scanned payload and a typed 10-digit number (with spaces) both give the household, its balance and the card."""
    payload = card_for(world, "v1a")
    r = volunteer.post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": payload})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["household"]["head_name"] == "杜玉梅"
    assert body["household"]["village"] == world.v1.name
    assert body["household"]["balance"] == 100
    assert body["limit_left"] is None
    number = db.session.scalars(select(Card.number)).one()
    assert body["card"]["number"].replace(" ", "") == number
    r = volunteer.post(RESOLVE, json={"supermarket_id": world.sm_east.id,
                                      "number": f"{number[:4]} {number[4:8]} {number[8:]}"})
    assert r.status_code == 200 and r.get_json()["household"]["id"] == world.households["v1a"].id


def test_resolve_shows_what_is_left_of_a_monthly_limit(make_app, world, shop):
    """With CHECKOUT_MONTHLY_LIMIT set, the scan answers what is left this month."""
    app = make_app(CHECKOUT_MONTHLY_LIMIT=60)
    with app.app_context():
        c = as_user(app, "volunteer")
        payload = card_for(world, "v1a")
        assert c.post(CONFIRM, json=cart(world, shop, ("香皂", 5), card_payload=payload)).status_code == 201
        r = c.post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": payload})
        assert r.get_json()["limit_left"] == 40


def test_resolve_refusals_are_translated_problems(volunteer, app, world, shop):
    """Unknown, revoked, exited, unserved and empty scans each get a problem with a message in the user's language."""
    sm = world.sm_east.id
    r = volunteer.post(RESOLVE, json={"supermarket_id": sm, "payload": "81" + "7" * 39})
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    old = card_for(world, "v1a")
    card_for(world, "v1a")
    r = volunteer.post(RESOLVE, json={"supermarket_id": sm, "payload": old})
    assert r.status_code == 410 and r.get_json()["type"] == "card-revoked"
    assert r.get_json()["detail"] == zh(CardRevoked.title)
    exited = card_for(world, "v1b")
    world.households["v1b"].status = "exited"
    db.session.commit()
    r = volunteer.post(RESOLVE, json={"supermarket_id": sm, "payload": exited})
    assert r.status_code == 422 and r.get_json()["type"] == "household-inactive"
    assert volunteer.post(RESOLVE, json={"supermarket_id": sm}).status_code == 422
    # A household in the west, at the east supermarket: the admin sees it, the till does not serve it.
    west = card_for(world, "v3a")
    admin = as_user(app, "admin")
    r = admin.post(RESOLVE, json={"supermarket_id": sm, "payload": west})
    assert r.status_code == 404
    assert admin.post(RESOLVE, json={"supermarket_id": world.sm_west.id, "payload": west}).status_code == 200
    assert volunteer.post(RESOLVE, json={"supermarket_id": sm, "payload": west}).status_code == 404


def test_resolve_scope_and_roles(app, volunteer, world, shop):
    """Another supermarket than the volunteer's is 404; staff, donors and cadres may not use the till (403); a guest gets 401 JSON."""
    payload = card_for(world, "v1a")
    body = {"supermarket_id": world.sm_west.id, "payload": payload}
    assert volunteer.post(RESOLVE, json=body).status_code == 404
    for name in ("staff", "donor", "cadre"):
        r = as_user(app, name).post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": payload})
        assert r.status_code == 403 and r.get_json()["type"] == "forbidden"
    r = app.test_client().post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": payload})
    assert r.status_code == 401 and r.get_json()["type"] == "unauthorized"


# -- product by barcode ---------------------------------------------------------------------

def test_product_by_barcode(volunteer, app, world, shop):
    """An EAN-13 gives the product and its stock here; a misread is 422, an unknown code 404, another supermarket 404."""
    rice = shop["大米 5kg"]
    url = f"/counter/api/product?supermarket_id={world.sm_east.id}&barcode="
    r = volunteer.get(url + rice.barcode)
    assert r.status_code == 200
    assert r.get_json()["product"] | {} == {"id": rice.id, "name": rice.name, "unit": rice.unit,
                                             "points_price": 50, "barcode": rice.barcode,
                                             "category": rice.category, "stock": 10}
    assert volunteer.get(url + shop["面粉 5kg"].barcode).get_json()["product"]["stock"] == 0
    assert volunteer.get(url + rice.barcode[:12] + str((int(rice.barcode[12]) + 1) % 10)).status_code == 422
    r = volunteer.get(url + "4006381333931")
    assert r.status_code == 404 and "4006381333931" in r.get_json()["detail"]
    r = volunteer.get(f"/counter/api/product?supermarket_id={world.sm_west.id}&barcode={rice.barcode}")
    assert r.status_code == 404
    assert as_user(app, "staff").get(url + rice.barcode).status_code == 403


# -- confirm --------------------------------------------------------------------------------

def test_confirm_checks_out_and_answers_a_receipt(volunteer, world, shop):
    """Confirm debits the points, takes the goods and answers the receipt and the new stock."""
    payload = card_for(world, "v1a")
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("大米 5kg", 1), ("香皂", 2), card_payload=payload),
                       headers={"Idempotency-Key": "counter-abc"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["total_points"] == 58 and body["balance_after"] == 42
    assert body["stock"] == {str(shop["大米 5kg"].id): 9, str(shop["香皂"].id): 18}
    assert "杜玉梅" in body["receipt_html"] and "大米 5kg" in body["receipt_html"]
    assert 'data-balance-after>42<' in body["receipt_html"]
    db.session.rollback()
    checkout = db.session.scalars(select(Checkout)).one()
    assert checkout.card_id is not None and checkout.created_by_id == world.users["volunteer"].id
    assert balance(world, "v1a") == 42
    assert stock(world, shop["香皂"]) == 18


def test_confirm_is_idempotent_per_cart_key(volunteer, world, shop):
    """The same cart key sent twice charges once and answers the first receipt again; keys are per user."""
    body = cart(world, shop, ("香皂", 2), household_id=world.households["v1a"].id)
    headers = {"Idempotency-Key": "counter-0123456789abcdef"}
    first = volunteer.post(CONFIRM, json=body, headers=headers)
    again = volunteer.post(CONFIRM, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == again.get_json()
    assert balance(world, "v1a") == 92
    assert len(db.session.scalars(select(Checkout)).all()) == 1
    key = db.session.scalars(select(IdempotencyKey)).one()
    assert key.user_id == world.users["volunteer"].id
    other = volunteer.post(CONFIRM, json=cart(world, shop, ("香皂", 3), household_id=world.households["v1a"].id),
                           headers=headers)
    assert other.status_code == 409
    assert balance(world, "v1a") == 92


def test_confirm_refusals_write_nothing(volunteer, world, shop):
    """Revoked card, exited household, too little stock, too few points, an empty cart: a clear problem and nothing written."""
    before = written()
    rice = shop["大米 5kg"]

    def refused(body, status, slug):
        r = volunteer.post(CONFIRM, json=body, headers={"Idempotency-Key": f"k-{slug}"})
        assert r.status_code == status, r.get_json()
        problem = r.get_json()
        assert problem["type"] == slug and problem["detail"]
        assert written() == before
        assert stock(world, rice) == 10
        assert balance(world, "v1a") == 100
        return problem

    old = card_for(world, "v1a")
    current = card_for(world, "v1a")
    before = written()
    refused(cart(world, shop, ("大米 5kg", 1), card_payload=old), 410, "card-revoked")
    problem = refused(cart(world, shop, ("大米 5kg", 11), card_payload=current), 409, "insufficient-stock")
    assert problem["stock"] == {str(rice.id): 10}
    problem = refused(cart(world, shop, ("大米 5kg", 3), card_payload=current), 409, "insufficient-points")
    assert "150" in problem["detail"] and "100" in problem["detail"]
    refused(cart(world, shop, card_payload=current), 422, "validation-error")
    exited = card_for(world, "v1b")
    give_points(world, world.households["v1b"], 50)
    world.households["v1b"].status = "exited"
    db.session.commit()
    before = written()
    refused(cart(world, shop, ("食盐 400g", 1), card_payload=exited), 422, "household-inactive")
    refused(cart(world, shop, ("食盐 400g", 1), card_payload=current) | {"supermarket_id": world.sm_west.id},
            404, "not-found")
    assert db.session.scalars(select(IdempotencyKey)).all() == []


def test_confirm_roles(app, world, shop):
    """Staff, donors and cadres cannot confirm (403); the west volunteer not at the east supermarket (404)."""
    body = cart(world, shop, ("香皂", 1), household_id=world.households["v1a"].id)
    before = written()
    for name in ("staff", "donor", "cadre"):
        assert as_user(app, name).post(CONFIRM, json=body).status_code == 403
    assert as_user(app, "volunteer_west").post(CONFIRM, json=body).status_code == 404
    assert written() == before


# -- void and the day's list ----------------------------------------------------------------------

def test_void_same_day_returns_points_and_goods(volunteer, world, shop):
    """The volunteer voids today's checkout with a reason: points and stock come back through new entries; once."""
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("大米 5kg", 1), household_id=world.households["v1a"].id))
    cid = r.get_json()["id"]
    assert balance(world, "v1a") == 50
    before = written()
    r = volunteer.post(f"/counter/api/checkouts/{cid}/void", json={"reason": " "})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    assert written() == before
    r = volunteer.post(f"/counter/api/checkouts/{cid}/void", json={"reason": "拿错了"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["balance"] == 100 and r.get_json()["voided_at"]
    assert r.get_json()["stock"] == {str(shop["大米 5kg"].id): 10}
    assert balance(world, "v1a") == 100
    assert stock(world, shop["大米 5kg"]) == 10
    kinds = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.checkout_id == cid)
                               .order_by(LedgerEntry.id)).all()
    assert kinds == ["redemption", "reversal"]
    assert volunteer.post(f"/counter/api/checkouts/{cid}/void", json={"reason": "again"}).status_code == 409
    assert balance(world, "v1a") == 100
    listing = volunteer.get(f"/counter/api/checkouts?supermarket_id={world.sm_east.id}").get_json()
    assert listing["count"] == 1 and "拿错了" in listing["html"] and "is-voided" in listing["html"]


def test_voided_checkout_in_plain_words_in_the_passbook(app, volunteer, world, shop):
    """The household's passbook calls the refund of a voided checkout what it is (兑换作废), not a
    cadre's reversal, and never the accounting word 冲正."""
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("大米 5kg", 1), household_id=world.households["v1a"].id))
    cid = r.get_json()["id"]
    assert volunteer.post(f"/counter/api/checkouts/{cid}/void", json={"reason": "拿错了"}).status_code == 200
    page = as_user(app, "staff_east").get(f"/households/{world.households['v1a'].id}").get_data(as_text=True)
    assert "兑换作废，积分退回" in page
    assert "冲正" not in page and ">撤销<" not in page


def test_void_roles_and_days(app, volunteer, world, shop):
    """An earlier day's checkout: the volunteer is refused (403) and sees no void button, a cadre voids it; others 403/404."""
    sale = check_out(world.users["volunteer"], cart(world, shop, ("香皂", 1), household_id=world.households["v1a"].id))
    db.session.commit()
    checkout = db.session.get(Checkout, sale.id)
    checkout.created_at = checkout.created_at - timedelta(days=2)
    db.session.commit()
    url = f"/counter/api/checkouts/{checkout.id}/void"
    before = written()
    assert volunteer.post(url, json={"reason": "x"}).status_code == 403
    assert as_user(app, "staff").post(url, json={"reason": "x"}).status_code == 403
    assert as_user(app, "donor").post(url, json={"reason": "x"}).status_code == 403
    assert as_user(app, "volunteer_west").post(url, json={"reason": "x"}).status_code == 404
    assert as_user(app, "cadre_west").post(url, json={"reason": "x"}).status_code == 404
    assert written() == before
    day = (checkout.created_at + timedelta(hours=8)).date().isoformat()
    page = volunteer.get(f"/counter/checkouts?day={day}").get_data(as_text=True)
    assert f'id="checkout-{checkout.id}"' in page and "void-form" not in page
    cadre = as_user(app, "cadre")
    page = cadre.get(f"/counter/checkouts?supermarket_id={world.sm_east.id}&day={day}", follow_redirects=True)
    assert "void-form" in page.get_data(as_text=True)
    assert cadre.post(url, json={"reason": "补录错误"}).status_code == 200
    assert balance(world, "v1a") == 100


def test_receipt_page_and_scope(app, volunteer, world, shop):
    """The receipt page prints one checkout; another supermarket's volunteer gets 404."""
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("食盐 400g", 3), household_id=world.households["v1a"].id))
    cid = r.get_json()["id"]
    page = volunteer.get(f"/counter/checkouts/{cid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "receipt58" in html and "食盐 400g" in html and "/static/css/counter.css" in html
    assert as_user(app, "volunteer_west").get(f"/counter/checkouts/{cid}").status_code == 404
    assert as_user(app, "cadre").get(f"/counter/checkouts/{cid}").status_code == 200


# -- CSRF -----------------------------------------------------------------------------------------

def test_csrf_header_is_required_on_posts(make_app, world, shop):
    """With CSRF on, a POST without the X-CSRFToken header is refused (400) and writes nothing; with the page's token it works."""
    app = make_app(WTF_CSRF_ENABLED=True)
    c = app.test_client()
    html = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    assert c.post("/login", data={"username": "volunteer", "password": PASSWORD,
                                  "csrf_token": token}).status_code == 302
    page = c.get("/counter/").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    body = cart(world, shop, ("香皂", 1), household_id=world.households["v1a"].id)
    db.session.rollback()
    before = written()
    r = c.post(CONFIRM, json=body)
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    assert r.get_json()["detail"]
    assert c.post(CONFIRM, json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert c.post(RESOLVE, json={"supermarket_id": world.sm_east.id, "number": "1234567890"}).status_code == 400
    assert written() == before
    r = c.post(CONFIRM, json=body, headers={"X-CSRFToken": meta})
    assert r.status_code == 201, r.get_json()
    db.session.rollback()
    assert written()[0] == before[0] + 1


# -- a household that forgot its card -----------------------------------------------

SEARCH = "/counter/api/households"
PICK = "/counter/api/household"


def no_card_zh(reason) -> str:
    """What the receipt says, in Chinese, of a checkout made without a card for this reason."""
    from types import SimpleNamespace
    from app.services.checkout.checkouts import no_card_text
    with force_locale("zh_CN"):
        return no_card_text(SimpleNamespace(card_used=False, no_card_reason=reason))


def test_search_households_served_here_by_name_or_code(volunteer, world, shop):
    """Names and codes go in the POST body; only the households this supermarket serves come back."""
    sm = world.sm_east.id
    r = volunteer.post(SEARCH, json={"supermarket_id": sm, "q": "杜玉"})
    assert r.status_code == 200
    assert [i["id"] for i in r.get_json()["items"]] == [world.households["v1a"].id]
    assert r.get_json()["items"][0]["village"] == "东坪村"
    assert volunteer.post(SEARCH, json={"supermarket_id": sm, "q": "李堃"}).get_json()["items"] == []
    code = world.households["v2a"].code
    by_code = volunteer.post(SEARCH, json={"supermarket_id": sm, "code": code}).get_json()["items"]
    assert [i["head_name"] for i in by_code] == ["钟秀英"]
    west = world.households["v3a"].code
    assert volunteer.post(SEARCH, json={"supermarket_id": sm, "code": west}).get_json()["items"] == []
    empty = volunteer.post(SEARCH, json={"supermarket_id": sm, "q": "  "})
    assert empty.status_code == 422 and empty.get_json()["errors"]["q"]
    assert volunteer.post(SEARCH, json={"supermarket_id": world.sm_west.id, "q": "李"}).status_code == 404


def test_pick_without_card_pin_or_reason_then_confirm(volunteer, world, shop):
    """Picked from the search: the PIN is checked (wrong: a message on the PIN); the checkout
    records no card and why, and the receipt, the day's list and its export say so."""
    from app.services.points.passbook import set_passbook_pin
    hh = world.households["v1a"]
    set_passbook_pin(world.users["admin"], hh.id, "482915")
    db.session.commit()
    sm = world.sm_east.id
    r = volunteer.post(PICK, json={"supermarket_id": sm, "household_id": hh.id})
    assert r.status_code == 200 and r.get_json()["has_pin"] is True and r.get_json()["card"] is None
    bad = volunteer.post(PICK, json={"supermarket_id": sm, "household_id": hh.id, "passbook_pin": "111222"})
    assert bad.status_code == 422 and bad.get_json()["errors"]["passbook_pin"] == [zh(_l("Wrong PIN."))]
    good = volunteer.post(PICK, json={"supermarket_id": sm, "household_id": hh.id, "passbook_pin": "482915"})
    assert good.status_code == 200 and good.get_json()["household"]["balance"] == 100
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("香皂", 1), household_id=hh.id,
                                          no_card_reason="pin", passbook_pin="482915"),
                       headers={"Idempotency-Key": "counter-nocard-1"})
    assert r.status_code == 201, r.get_json()
    assert no_card_zh("pin") in r.get_json()["receipt_html"]
    r = volunteer.post(CONFIRM, json=cart(world, shop, ("香皂", 1), household_id=hh.id,
                                          no_card_reason="孩子把卡带去学校了"),
                       headers={"Idempotency-Key": "counter-nocard-2"})
    assert r.status_code == 201
    assert no_card_zh("孩子把卡带去学校了") in r.get_json()["receipt_html"]
    page = volunteer.get("/counter/checkouts").get_data(as_text=True)
    assert no_card_zh("pin") in page and no_card_zh("孩子把卡带去学校了") in page
    csv = volunteer.get("/counter/checkouts?format=csv").get_data(as_text=True)
    assert no_card_zh("pin") in csv
    db.session.rollback()
    assert db.session.scalars(select(Checkout.no_card_reason).order_by(Checkout.id)).all() == [
        "pin", "孩子把卡带去学校了"]


def test_pick_wrong_pins_are_throttled(volunteer, world, shop):
    from app.services.points.passbook import set_passbook_pin
    hh = world.households["v1a"]
    set_passbook_pin(world.users["admin"], hh.id, "482915")
    db.session.commit()
    body = {"supermarket_id": world.sm_east.id, "household_id": hh.id}
    for _i in range(5):
        assert volunteer.post(PICK, json={**body, "passbook_pin": "111222"}).status_code == 422
    r = volunteer.post(PICK, json={**body, "passbook_pin": "482915"})
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    assert volunteer.post(PICK, json=body).status_code == 200  # a reason instead still works


def test_pick_household_not_served_here_is_404(volunteer, world, shop):
    r = volunteer.post(PICK, json={"supermarket_id": world.sm_east.id,
                                   "household_id": world.households["v3a"].id})
    assert r.status_code == 404


def test_card_from_elsewhere_names_its_township(volunteer, client, world, shop):
    """A card of a household the west supermarket serves, at the east till: the page names the
    township and the supermarket to go to; the API still answers a bare 404."""
    west = card_for(world, "v3a")
    r = volunteer.post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": west})
    assert r.status_code == 404
    detail = r.get_json()["detail"]
    assert "西坡乡" in detail and "西坡乡爱心超市" in detail
    assert "李堃" not in detail
    unknown = volunteer.post(RESOLVE, json={"supermarket_id": world.sm_east.id, "payload": "81" + "7" * 39})
    assert "西坡乡" not in unknown.get_json()["detail"]
    api = client.post("/api/v1/cards/resolve", json={"payload": west}, headers=world.headers("volunteer"))
    assert api.status_code == 404 and "西坡乡" not in api.get_data(as_text=True)
    api = client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=cart(
        world, shop, ("香皂", 1), card_payload=west))
    assert api.status_code == 404 and "西坡乡" not in api.get_data(as_text=True)


def test_till_offers_the_no_card_search(volunteer, world, shop):
    html = volunteer.get("/counter/").get_data(as_text=True)
    assert 'id="nocard-open"' in html and 'id="nocard-q"' in html
    assert zh(_l("Card lost")) in html
