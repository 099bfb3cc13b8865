"""Goods pages: wiring of each form to its service (status, redirect, text), and who may open what."""
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Donation, Lot, Product, Stocktake, Writeoff
from app.services.goods.donations import create_donor
from tests.factories import count, login
from tests.goods_helpers import level, load_products, receive


@pytest.fixture
def products(world):
    return load_products()


def as_user(client, name):
    r = login(client, name)
    assert r.status_code == 302
    return client


def test_who_opens_the_goods_pages(client, world, products):
    """Staff get 403; a donor is sent to their own page; volunteers reach their stock, not another's."""
    as_user(client, "staff")
    assert client.get("/goods/").status_code == 403
    assert client.get(f"/goods/stock/{world.sm_east.id}").status_code == 403
    client.post("/logout")
    as_user(client, "donor")
    r = client.get("/goods/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/goods/donors")
    assert client.get("/goods/donors").headers["Location"].endswith(f"/goods/donors/{world.donor.id}")
    assert client.get("/goods/receive").status_code == 403
    client.post("/logout")
    as_user(client, "volunteer")
    assert client.get("/goods/").headers["Location"].endswith(f"/goods/stock/{world.sm_east.id}")
    assert client.get(f"/goods/stock/{world.sm_west.id}").status_code == 404
    assert client.get(f"/goods/stock/{world.sm_west.id}/writeoff").status_code == 404
    assert client.get("/goods/products/new").status_code == 403


def test_add_and_edit_a_product(client, world):
    """The admin adds a product (a bad barcode comes back on the form) and retires it."""
    as_user(client, "admin")
    r = client.post("/goods/products/new", data={"name": "小米", "unit": "袋", "points_price": "12",
                                                 "barcode": "4006381333932", "low_stock_threshold": "5"})
    assert r.status_code == 200 and count(Product) == 0
    assert "4006381333932" in r.get_data(as_text=True)
    r = client.post("/goods/products/new", data={"name": "小米", "unit": "袋", "points_price": "12",
                                                 "barcode": "4006381333931", "low_stock_threshold": "5"})
    assert r.status_code == 302
    p = db.session.scalar(select(Product))
    r = client.post(f"/goods/products/{p.id}/edit", data={
        "name": "小米 2kg", "unit": "袋", "points_price": "15", "barcode": "4006381333931",
        "low_stock_threshold": "3", "category": "粮油"})
    assert r.status_code == 302
    db.session.refresh(p)
    assert (p.name, p.points_price, p.category) == ("小米 2kg", 15, "粮油")
    client.post(f"/goods/products/{p.id}/retire")
    db.session.refresh(p)
    assert p.active is False
    assert "小米 2kg" in client.get("/goods/products?show=retired").get_data(as_text=True)


def test_import_and_export_products(client, world, products):
    """Export gives CSV and Excel; an import with a bad row lists it and writes nothing; a good one imports."""
    as_user(client, "admin")
    r = client.get("/goods/products/export?format=xlsx")
    assert r.status_code == 200 and "products.xlsx" in r.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(r.data)).active.max_row == 19
    r = client.get("/goods/products/export")
    assert r.mimetype == "text/csv" and r.data.startswith("\ufeff".encode())
    bad = "name,unit,points_price\n手电筒,个,abc\n".encode()
    r = client.post("/goods/products/import", data={"file": (io.BytesIO(bad), "p.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and count(Product) == 18
    assert "points_price" in r.get_data(as_text=True)
    good = "name,unit,points_price\n手电筒,个,20\n".encode()
    r = client.post("/goods/products/import", data={"file": (io.BytesIO(good), "p.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 302 and count(Product) == 19


def test_receive_form_then_receipt(client, world, products):
    """The counter form saves a donation with a new donor and redirects to its printable receipt."""
    as_user(client, "volunteer")
    assert client.get("/goods/receive").status_code == 200
    rice, soap = products["大米 5kg"], products["香皂"]
    r = client.post("/goods/receive", data={
        "supermarket_id": world.sm_east.id, "donor_id": "new", "donor_name": "爱心人士 李堃",
        "donor_kind": "person", "received_on": "",
        "lines-0-product_id": rice.id, "lines-0-quantity": "3", "lines-0-unit_value": "",
        "lines-1-product_id": soap.id, "lines-1-quantity": "10", "lines-1-unit_value": "4.5"})
    assert r.status_code == 302 and "/receipt" in r.headers["Location"]
    d = db.session.scalar(select(Donation))
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert d.receipt_no in page and "爱心人士 李堃" in page and "45.00" in page
    assert level(world.sm_east, soap) == 10


def test_receive_form_refusal_keeps_what_was_typed(client, world, products):
    """A zero quantity refuses the whole form, names the line, and keeps the lines for correction."""
    as_user(client, "volunteer")
    r = client.post("/goods/receive", data={
        "supermarket_id": world.sm_east.id, "donor_id": world.donor.id,
        "lines-0-product_id": products["香皂"].id, "lines-0-quantity": "0"})
    assert r.status_code == 200 and count(Donation) == 0
    assert f'"product_id": "{products["香皂"].id}"' in r.get_data(as_text=True)
    r = client.post("/goods/receive", data={
        "supermarket_id": world.sm_west.id, "donor_id": world.donor.id,
        "lines-0-product_id": products["香皂"].id, "lines-0-quantity": "1"})
    assert r.status_code == 404 and count(Donation) == 0


def test_receipts_are_private_to_their_donor(client, world, products):
    """A donor opens the receipt and trace of their own donations only."""
    d = receive(world, [(products["香皂"], 2)])
    as_user(client, "donor")
    assert client.get(f"/goods/donations/{d.id}/receipt").status_code == 200
    assert client.get(f"/goods/donations/{d.id}").status_code == 200
    page = client.get(f"/goods/donors/{world.donor.id}").get_data(as_text=True)
    assert d.receipt_no in page
    other = receive(world, [(products["香皂"], 2)],
                    donor=create_donor(None, {"name": "别家", "kind": "company"}))
    assert client.get(f"/goods/donations/{other.id}/receipt").status_code == 404


def test_write_off_and_transfer_forms(client, world, products):
    """The write-off and transfer forms change stock; asking for more than the stock shows the error."""
    soap = products["香皂"]
    receive(world, [(soap, 5)])
    as_user(client, "volunteer")
    sm = world.sm_east.id
    r = client.post(f"/goods/stock/{sm}/writeoff", data={"product_id": soap.id, "quantity": "9",
                                                         "reason": "damaged"})
    assert r.status_code == 200 and count(Writeoff) == 0
    r = client.post(f"/goods/stock/{sm}/writeoff", data={"product_id": soap.id, "quantity": "2",
                                                         "reason": "damaged", "note": "受潮"})
    assert r.status_code == 302 and level(world.sm_east, soap) == 3
    r = client.post(f"/goods/stock/{sm}/transfer", data={"product_id": soap.id, "quantity": "2",
                                                         "to_supermarket_id": world.sm_west.id})
    assert r.status_code == 302 and level(world.sm_west, soap) == 2
    page = client.get(f"/goods/stock/{sm}").get_data(as_text=True)
    assert "香皂" in page and 'class="low' in page


def test_stocktake_pages(client, world, products):
    """The volunteer counts and submits; the finalize button is for the cadre, whose decision adjusts stock."""
    soap = products["香皂"]
    receive(world, [(soap, 5)])
    as_user(client, "volunteer")
    r = client.post(f"/goods/stock/{world.sm_east.id}/stocktakes", data={"note": ""})
    st = db.session.scalar(select(Stocktake))
    assert r.headers["Location"].endswith(f"/goods/stocktakes/{st.id}")
    page = client.get(f"/goods/stocktakes/{st.id}").get_data(as_text=True)
    assert "实盘数" in page and "已生效" not in page  # the counted column, not a ledger status
    client.post(f"/goods/stocktakes/{st.id}", data={"action": "save", f"counted-{soap.id}": "4"})
    client.post(f"/goods/stocktakes/{st.id}", data={"action": "submit"})
    db.session.refresh(st)
    assert st.status == "submitted"
    assert 'value="finalize"' not in client.get(f"/goods/stocktakes/{st.id}").get_data(as_text=True)
    client.post(f"/goods/stocktakes/{st.id}", data={"action": "finalize"})
    db.session.refresh(st)
    assert st.status == "submitted"
    client.post("/logout")
    as_user(client, "cadre")
    assert 'value="finalize"' in client.get(f"/goods/stocktakes/{st.id}").get_data(as_text=True)
    r = client.post(f"/goods/stocktakes/{st.id}", data={"action": "finalize", "note": "ok"})
    assert r.status_code == 302
    db.session.refresh(st)
    assert st.status == "finalized" and level(world.sm_east, soap) == 4


def test_cash_donation_and_purchase_pages(client, world, products):
    """A cash donation gets a receipt with the amount in capitals; the purchase page buys goods with it."""
    as_user(client, "volunteer")
    r = client.post("/goods/cash", data={"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
                                         "amount": "1200.50"})
    assert r.status_code == 302
    cash = db.session.scalar(select(Donation))
    assert "壹仟贰佰元伍角整" in client.get(r.headers["Location"]).get_data(as_text=True)
    oil = products["食用油 5L"]
    r = client.post(f"/goods/donations/{cash.id}/purchase", data={
        "supermarket_id": world.sm_east.id, "supplier": "供销社",
        "lines-0-product_id": oil.id, "lines-0-quantity": "10", "lines-0-unit_value": "60"})
    assert r.status_code == 302 and level(world.sm_east, oil) == 10
    r = client.post(f"/goods/donations/{cash.id}/purchase", data={
        "supermarket_id": world.sm_east.id,
        "lines-0-product_id": oil.id, "lines-0-quantity": "11", "lines-0-unit_value": "60"})
    assert r.status_code == 200 and level(world.sm_east, oil) == 10


def test_add_a_donor_page(client, world):
    """A volunteer adds a donor; a bad kind comes back on the form; cadres may not add."""
    as_user(client, "volunteer")
    assert client.get("/goods/donors/new").status_code == 200
    r = client.post("/goods/donors/new", data={"name": "县人民医院工会", "kind": "organisation",
                                               "contact": "0745-2256789"})
    assert r.status_code == 302
    assert "县人民医院工会" in client.get("/goods/donors").get_data(as_text=True)
    assert client.post("/goods/donors/new", data={"name": "", "kind": "company"}).status_code == 200
    client.post("/logout")
    as_user(client, "cadre")
    assert client.get("/goods/donors/new").status_code == 403
    assert client.get("/goods/donors").status_code == 200


# -- every barcode, best-before dates, the receipt's unvalued lines (issue 10) ----------------

def test_product_page_takes_a_upc_a_and_says_what_is_wrong(client, world):
    """A UPC-A typed with 12 digits is stored in its 13-digit form; a bad check digit comes back
    on the form in Chinese; the same code in another form is refused as taken."""
    as_user(client, "admin")
    r = client.post("/goods/products/new", data={"name": "花生酱", "unit": "瓶", "points_price": "9",
                                                 "barcode": "036000291453", "low_stock_threshold": "5"})
    assert r.status_code == 200 and count(Product) == 0
    assert "校验位" in r.get_data(as_text=True)
    r = client.post("/goods/products/new", data={"name": "花生酱", "unit": "瓶", "points_price": "9",
                                                 "barcode": "036000291452", "low_stock_threshold": "5"})
    assert r.status_code == 302
    assert db.session.scalar(select(Product.barcode)) == "0036000291452"
    r = client.post("/goods/products/new", data={"name": "别的", "unit": "瓶", "points_price": "9",
                                                 "barcode": "00036000291452", "low_stock_threshold": "5"})
    assert r.status_code == 200 and count(Product) == 1 and "已有" in r.get_data(as_text=True)


def test_receipt_marks_lines_without_a_value_and_shows_best_before(client, world, products):
    """Received with a best-before date on one line and a value on one line: the lot carries the
    date, the receipt shows it and marks the other line 未估价 (outside the total, said so);
    the donation page shows the date too."""
    as_user(client, "volunteer")
    rice, soap = products["大米 5kg"], products["香皂"]
    r = client.post("/goods/receive", data={
        "supermarket_id": world.sm_east.id, "donor_id": world.donor.id, "received_on": "",
        "lines-0-product_id": rice.id, "lines-0-quantity": "2", "lines-0-unit_value": "45",
        "lines-0-best_before": "2027-01-31",
        "lines-1-product_id": soap.id, "lines-1-quantity": "3", "lines-1-unit_value": "",
        "lines-1-best_before": ""})
    assert r.status_code == 302
    d = db.session.scalar(select(Donation))
    assert [(line.best_before and line.best_before.isoformat()) for line in d.lines] == ["2027-01-31", None]
    assert [lot.best_before for lot in db.session.scalars(select(Lot).order_by(Lot.id))][1] is None
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "2027-01-31" in page and "保质期至" in page
    assert "未估价" in page and "90.00" in page and 'id="unvalued-note"' in page
    assert "1 项未估价" in page
    assert "保质期至 2027-01-31" in client.get(f"/goods/donations/{d.id}").get_data(as_text=True)
    # A bad date comes back on its line, nothing saved.
    r = client.post("/goods/receive", data={
        "supermarket_id": world.sm_east.id, "donor_id": world.donor.id,
        "lines-0-product_id": rice.id, "lines-0-quantity": "2", "lines-0-best_before": "1999-01-01"})
    assert r.status_code == 200 and count(Donation) == 1
    assert "请检查保质期" in r.get_data(as_text=True)


def _dated_lot(world, product, n, best_before):
    from app.services.goods.donations import receive_donation
    d = receive_donation(world.users["admin"], {
        "donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
        "lines": [{"product_id": product.id, "quantity": n, "best_before": best_before}]})
    db.session.commit()
    return db.session.scalar(select(Lot).where(Lot.donation_line_id == d.lines[0].id))


def test_volunteer_home_lists_what_expires_and_links_a_write_off_of_that_lot(client, world, products):
    """The home page lists lots expiring within 30 days, the expired one first and marked; its
    link opens the write-off page with that lot and the reason expired chosen, and the
    write-off takes that lot; a wrong lot or too many units are said on the form."""
    from app.services import clock
    from datetime import timedelta
    eggs, soap = products["鸡蛋 30枚"], products["香皂"]
    today = clock.local_today()
    past = _dated_lot(world, eggs, 3, (today - timedelta(days=2)).isoformat())
    soon = _dated_lot(world, soap, 5, (today + timedelta(days=9)).isoformat())
    _dated_lot(world, soap, 5, (today + timedelta(days=90)).isoformat())
    as_user(client, "volunteer")
    home = client.get("/").get_data(as_text=True)
    section = home[home.index('id="expiring"'):home.index('id="low-stock"')]
    assert "30 天内到期" in section
    assert section.index("鸡蛋 30枚") < section.index("香皂")
    assert 'class="expired"' in section and "过期" in section
    assert (today + timedelta(days=90)).isoformat() not in section
    link = f"/goods/stock/{world.sm_east.id}/writeoff?lot_id={soon.id}&amp;reason=expired"
    assert link in section
    page = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(rf'<option selected value="{soon.id}">|<option value="{soon.id}" selected', page)
    assert re.search(r'<option selected value="expired">|<option value="expired" selected', page)
    assert f"剩 5 · 批次 #{soon.id}" in page
    r = client.post(f"/goods/stock/{world.sm_east.id}/writeoff", data={
        "product_id": soap.id, "lot_id": soon.id, "quantity": "2", "reason": "expired"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, soon.id).remaining == 3
    # Another product's lot, or more than the lot holds: said on the form, nothing written.
    before = count(Writeoff)
    r = client.post(f"/goods/stock/{world.sm_east.id}/writeoff", data={
        "product_id": soap.id, "lot_id": past.id, "quantity": "1", "reason": "expired"})
    assert r.status_code == 200 and "这个批次是别的商品" in r.get_data(as_text=True)
    r = client.post(f"/goods/stock/{world.sm_east.id}/writeoff", data={
        "product_id": soap.id, "lot_id": soon.id, "quantity": "4", "reason": "expired"})
    assert r.status_code == 200 and "只剩 3 件" in r.get_data(as_text=True)
    assert count(Writeoff) == before
    # Only the lot chosen, with no product chosen: the lot names it.
    r = client.post(f"/goods/stock/{world.sm_east.id}/writeoff", data={
        "product_id": "", "lot_id": past.id, "quantity": "3", "reason": "expired"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, past.id).remaining == 0
