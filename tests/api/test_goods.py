"""Goods, donations and stock over the JSON API: the contract, roles, scope and bad input."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Donation, Donor, IdempotencyKey, Lot, LotMovement, Product, Writeoff
from app.services.goods import writeoffs
from app.services import clock
from tests.api.problems import assert_problem
from tests.factories import count
from tests.goods_helpers import assert_lots_balance, level, load_products, receive, redeem


@pytest.fixture
def products(world):
    return load_products()


def donation_body(world, products, **extra):
    return {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id, "received_on": None,
            "lines": [{"product_id": products["大米 5kg"].id, "quantity": 10},
                      {"product_id": products["香皂"].id, "quantity": 24, "unit_value": 3.5}],
            **extra}


def written() -> dict:
    return {m.__name__: count(m) for m in (Donation, Lot, LotMovement, Writeoff, Donor, Product)}


# -- products --------------------------------------------------------------------

def test_create_product(client, world):
    """POST /products (admin): 201 with the product; a bad or taken barcode is 422; others 403."""
    body = {"name": "小米 2kg", "unit": "袋", "points_price": 18, "barcode": "4006381333931",
            "category": "粮油"}
    r = client.post("/api/v1/products", json=body, headers=world.headers("admin"))
    assert r.status_code == 201
    got = r.get_json()
    assert {k: got[k] for k in ("name", "unit", "points_price", "barcode", "category", "active")} == \
        {**body, "active": True} and isinstance(got["id"], int)
    assert_problem(client.post("/api/v1/products", json={**body, "name": "别的"},
                               headers=world.headers("admin")), 422, "validation-error", "barcode")
    assert_problem(client.post("/api/v1/products", json={**body, "name": "别的", "barcode": "4006381333932"},
                               headers=world.headers("admin")), 422, "validation-error", "barcode")
    for user in ("volunteer", "cadre", "staff", "donor"):
        assert_problem(client.post("/api/v1/products", json=body, headers=world.headers(user)),
                       403, "forbidden")
    assert_problem(client.post("/api/v1/products", json=body), 401, "unauthorized")


def test_list_products_by_barcode(client, world, products):
    """GET /products?barcode= finds the product with the contract's fields; unknown is empty; misread is 422."""
    r = client.get("/api/v1/products?barcode=6901234500011", headers=world.headers("volunteer"))
    assert r.status_code == 200
    (item,) = r.get_json()["items"]
    assert {k: item[k] for k in ("id", "name", "unit", "points_price", "barcode", "category", "active")} == \
        {"id": products["大米 5kg"].id, "name": "大米 5kg", "unit": "袋", "points_price": 50,
         "barcode": "6901234500011", "category": "粮油", "active": True}
    assert client.get("/api/v1/products?barcode=4006381333931",
                      headers=world.headers("volunteer")).get_json()["items"] == []
    assert_problem(client.get("/api/v1/products?barcode=6901234500012", headers=world.headers("volunteer")),
                   422, "validation-error", "barcode")
    body = client.get("/api/v1/products?per_page=500", headers=world.headers("cadre")).get_json()
    assert body["total"] == 18 and len(body["items"]) == 18
    assert client.get("/api/v1/products?barcode=", headers=world.headers("cadre")).get_json()["total"] == 18


def test_edit_and_retire_product(client, world, products):
    """PATCH edits a product, /retire stops new donations of it (422), /reactivate brings it back."""
    soap = products["香皂"]
    h = world.headers("admin")
    r = client.patch(f"/api/v1/products/{soap.id}", json={"points_price": 6}, headers=h)
    assert r.status_code == 200 and r.get_json()["points_price"] == 6
    assert client.post(f"/api/v1/products/{soap.id}/retire", headers=h).get_json()["active"] is False
    body = {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
            "lines": [{"product_id": soap.id, "quantity": 1}]}
    assert_problem(client.post("/api/v1/donations", json=body, headers=world.headers("volunteer")),
                   422, "validation-error", "lines.0.product_id")
    assert client.post(f"/api/v1/products/{soap.id}/reactivate", headers=h).get_json()["active"] is True
    assert client.post("/api/v1/donations", json=body, headers=world.headers("volunteer")).status_code == 201
    assert_problem(client.get("/api/v1/products/99999", headers=h), 404, "not-found")


# -- donors ----------------------------------------------------------------------

def test_create_donor(client, world):
    """POST /donors (volunteer, admin): 201; kind must be company, person or organisation."""
    body = {"name": "爱心人士 李明", "kind": "person", "contact": "13912345678"}
    r = client.post("/api/v1/donors", json=body, headers=world.headers("volunteer"))
    assert r.status_code == 201
    assert {k: r.get_json()[k] for k in body} == body
    assert_problem(client.post("/api/v1/donors", json={**body, "kind": "alien"},
                               headers=world.headers("admin")), 422, "validation-error", "kind")
    assert_problem(client.post("/api/v1/donors", json={"kind": "person"},
                               headers=world.headers("admin")), 422, "validation-error", "name")
    for user in ("cadre", "staff", "donor"):
        assert_problem(client.post("/api/v1/donors", json=body, headers=world.headers(user)), 403, "forbidden")


def test_donor_account_sees_only_itself(client, world):
    """GET /donors for a donor account lists its own record; another donor is 404."""
    other = client.post("/api/v1/donors", json={"name": "别家", "kind": "company"},
                        headers=world.headers("admin")).get_json()
    items = client.get("/api/v1/donors", headers=world.headers("donor")).get_json()["items"]
    assert [d["id"] for d in items] == [world.donor.id]
    assert_problem(client.get(f"/api/v1/donors/{other['id']}", headers=world.headers("donor")), 404, "not-found")
    assert client.get(f"/api/v1/donors/{other['id']}", headers=world.headers("volunteer")).status_code == 200


# -- donations -------------------------------------------------------------------

def test_receive_donation(client, world, products):
    """POST /donations: 201 {id, lines: [{id, product_id, quantity}]}; each line is a lot; stock shows it."""
    r = client.post("/api/v1/donations", json=donation_body(world, products),
                    headers=world.headers("volunteer"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert isinstance(body["id"], int) and body["receipt_no"]
    assert [(line["product_id"], line["quantity"]) for line in body["lines"]] == \
        [(products["大米 5kg"].id, 10), (products["香皂"].id, 24)]
    assert all(isinstance(line["id"], int) for line in body["lines"])
    assert body["lines"][1]["unit_value"] == 3.5
    lots = db.session.scalars(select(Lot).order_by(Lot.id)).all()
    assert [lot.donation_line_id for lot in lots] == [line["id"] for line in body["lines"]]
    stock_body = client.get(f"/api/v1/supermarkets/{world.sm_east.id}/stock",
                            headers=world.headers("volunteer")).get_json()
    assert {(i["product_id"], i["name"], i["quantity"]) for i in stock_body["items"]} == \
        {(products["大米 5kg"].id, "大米 5kg", 10), (products["香皂"].id, "香皂", 24)}
    got = client.get(f"/api/v1/donations/{body['id']}", headers=world.headers("donor")).get_json()
    assert got["id"] == body["id"] and got["donor_id"] == world.donor.id


def test_receive_donation_is_idempotent(client, world, products):
    """The same Idempotency-Key and body answers the first response again; another body with it is 409."""
    h = {**world.headers("volunteer"), "Idempotency-Key": "donation-2026-0001"}
    first = client.post("/api/v1/donations", json=donation_body(world, products), headers=h)
    again = client.post("/api/v1/donations", json=donation_body(world, products), headers=h)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert count(Donation) == 1 and count(Lot) == 2
    other = donation_body(world, products)
    other["lines"][0]["quantity"] = 11
    assert_problem(client.post("/api/v1/donations", json=other, headers=h), 409, "conflict")
    assert count(Donation) == 1 and count(IdempotencyKey) == 1


@pytest.mark.parametrize("quantity", [0, -3, 1.5, "1.5", "many", None, True, 10**12])
def test_bad_quantities_write_nothing(client, world, products, quantity):
    """Zero, negative, fractional or non-numeric quantities are 422 validation-error and nothing is written."""
    before = written()
    body = donation_body(world, products)
    body["lines"][1]["quantity"] = quantity
    b = assert_problem(client.post("/api/v1/donations", json=body, headers=world.headers("volunteer")),
                       422, "validation-error", "lines.1.quantity")
    assert "lines" in b["errors"]
    assert written() == before


@pytest.mark.parametrize("change,field", [
    ({"donor_id": 987654}, "donor_id"), ({"donor_id": "x"}, "donor_id"),
    ({"lines": [{"product_id": 987654, "quantity": 1}]}, "lines.0.product_id"),
    ({"lines": [{"quantity": 1}]}, "lines.0.product_id"), ({"lines": []}, "lines"),
    ({"lines": "rice"}, "lines"), ({"lines": [5]}, "lines.0.product_id"),
    ({"received_on": "yesterday"}, "received_on"), ({"supermarket_id": "east"}, "supermarket_id"),
])
def test_unknown_products_and_donors_are_422(client, world, products, change, field):
    """Unknown product or donor ids and malformed fields are 422 with nothing written."""
    before = written()
    assert_problem(client.post("/api/v1/donations", json=donation_body(world, products, **change),
                               headers=world.headers("volunteer")), 422, "validation-error", field)
    assert written() == before


def test_donation_scope_and_roles(client, world, products):
    """A volunteer receives only at their supermarket (404 elsewhere); cadres, staff and donors get 403."""
    before = written()
    body = donation_body(world, products, supermarket_id=world.sm_west.id)
    assert_problem(client.post("/api/v1/donations", json=body, headers=world.headers("volunteer")),
                   404, "not-found")
    assert_problem(client.post("/api/v1/donations", json=donation_body(world, products, supermarket_id=999999),
                               headers=world.headers("volunteer")), 404, "not-found")
    for user in ("cadre", "staff", "donor"):
        assert_problem(client.post("/api/v1/donations", json=body, headers=world.headers(user)), 403, "forbidden")
    assert written() == before
    assert client.post("/api/v1/donations", json=body, headers=world.headers("admin")).status_code == 201


def test_malformed_json_is_refused(client, world):
    """A body that is not JSON, or not an object, is refused with a problem."""
    h = {**world.headers("volunteer"), "Content-Type": "application/json"}
    r = client.post("/api/v1/donations", data="{not json", headers=h)
    assert r.status_code in (400, 422) and r.content_type == "application/problem+json"
    assert_problem(client.post("/api/v1/donations", json=[1, 2], headers=world.headers("volunteer")),
                   422, "validation-error", "body")


# -- stock and write-offs ----------------------------------------------------------

def test_stock_scope(client, world, products):
    """GET stock: volunteers their own (404 elsewhere), cadres in region, donors and staff 403."""
    receive(world, [(products["香皂"], 3)])
    path = f"/api/v1/supermarkets/{world.sm_east.id}/stock"
    assert client.get(path, headers=world.headers("volunteer")).status_code == 200
    assert client.get(path, headers=world.headers("cadre")).status_code == 200
    assert client.get(path, headers=world.headers("admin")).status_code == 200
    assert_problem(client.get(path, headers=world.headers("volunteer_west")), 404, "not-found")
    assert_problem(client.get(path, headers=world.headers("cadre_west")), 404, "not-found")
    assert_problem(client.get(path, headers=world.headers("donor")), 403, "forbidden")
    assert_problem(client.get(path, headers=world.headers("staff")), 403, "forbidden")
    low = client.get(path + "?low=true", headers=world.headers("volunteer")).get_json()["items"]
    assert [(i["name"], i["low"]) for i in low] == [("香皂", True)]


def test_write_off(client, world, products):
    """POST writeoffs: 201, from the oldest lots; more than the stock is 409 insufficient-stock; bad reason 422."""
    soap = products["香皂"]
    receive(world, [(soap, 4)])
    path = f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs"
    h = world.headers("volunteer")
    r = client.post(path, json={"product_id": soap.id, "quantity": 3, "reason": "damaged"}, headers=h)
    assert r.status_code == 201
    body = r.get_json()
    assert (body["product_id"], body["quantity"], body["reason"]) == (soap.id, 3, "damaged")
    assert sum(lot["quantity"] for lot in body["lots"]) == 3
    before = written()
    b = assert_problem(client.post(path, json={"product_id": soap.id, "quantity": 2, "reason": "lost"}, headers=h),
                       409, "insufficient-stock")
    assert b["detail"]
    assert_problem(client.post(path, json={"product_id": soap.id, "quantity": 1, "reason": "eaten"}, headers=h),
                   422, "validation-error", "reason")
    assert_problem(client.post(path, json={"product_id": 424242, "quantity": 1, "reason": "lost"}, headers=h),
                   422, "validation-error", "product_id")
    assert_problem(client.post(path, json={"product_id": soap.id, "quantity": 0, "reason": "lost"}, headers=h),
                   422, "validation-error", "quantity")
    assert written() == before
    assert level(world.sm_east, soap) == 1
    listed = client.get(path, headers=world.headers("cadre")).get_json()
    assert listed["total"] == 1 and listed["items"][0]["reason"] == "damaged"


def test_volunteer_cannot_touch_another_supermarkets_stock(client, world, products):
    """Write-offs, transfers and stocktakes at another supermarket are 404 for a volunteer; nothing changes."""
    soap = products["香皂"]
    receive(world, [(soap, 4)])
    h = world.headers("volunteer_west")
    before = written()
    assert_problem(client.post(f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs",
                               json={"product_id": soap.id, "quantity": 1, "reason": "lost"}, headers=h),
                   404, "not-found")
    assert_problem(client.post("/api/v1/transfers", json={
        "from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
        "product_id": soap.id, "quantity": 1}, headers=h), 404, "not-found")
    assert_problem(client.post(f"/api/v1/supermarkets/{world.sm_east.id}/stocktakes", json={}, headers=h),
                   404, "not-found")
    assert_problem(client.get(f"/api/v1/supermarkets/{world.sm_east.id}/lots", headers=h), 404, "not-found")
    assert_problem(client.post(f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs",
                               json={"product_id": soap.id, "quantity": 1, "reason": "lost"},
                               headers=world.headers("cadre")), 403, "forbidden")
    assert written() == before and level(world.sm_east, soap) == 4


def test_transfer_and_lots(client, world, products):
    """POST /transfers: 201 with the new lots naming their source lot and donor; GET lots shows both ends."""
    soap = products["香皂"]
    receive(world, [(soap, 4)])
    r = client.post("/api/v1/transfers", json={
        "from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
        "product_id": soap.id, "quantity": 3}, headers=world.headers("volunteer"))
    assert r.status_code == 201
    body = r.get_json()
    (made,) = body["lots"]
    source = db.session.scalar(select(Lot).where(Lot.supermarket_id == world.sm_east.id))
    assert (made["source_lot_id"], made["donor_id"], made["quantity"]) == (source.id, world.donor.id, 3)
    west = client.get(f"/api/v1/supermarkets/{world.sm_west.id}/lots",
                      headers=world.headers("volunteer_west")).get_json()["items"]
    assert [(lot["source_lot_id"], lot["remaining"]) for lot in west] == [(source.id, 3)]
    assert client.get(f"/api/v1/transfers/{body['id']}", headers=world.headers("volunteer_west")).status_code == 200
    assert_problem(client.post("/api/v1/transfers", json={
        "from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
        "product_id": soap.id, "quantity": 2}, headers=world.headers("volunteer")), 409, "insufficient-stock")
    assert_lots_balance()


def test_stocktake_over_the_api(client, world, products):
    """Start, count, submit as the volunteer (finalize is 403 for them); a cadre finalizes into adjustments."""
    soap = products["香皂"]
    receive(world, [(soap, 10)])
    vol = world.headers("volunteer")
    r = client.post(f"/api/v1/supermarkets/{world.sm_east.id}/stocktakes", json={
        "counts": [{"product_id": soap.id, "counted": 7}]}, headers=vol)
    assert r.status_code == 201
    st = r.get_json()
    assert st["status"] == "counting" and st["lines"][0]["difference"] == -3
    assert_problem(client.post(f"/api/v1/supermarkets/{world.sm_east.id}/stocktakes", json={}, headers=vol),
                   409, "conflict")
    assert_problem(client.post(f"/api/v1/stocktakes/{st['id']}/counts", json={
        "counts": [{"product_id": soap.id, "counted": -1}]}, headers=vol), 422, "validation-error",
        "counts.0.counted")
    assert client.post(f"/api/v1/stocktakes/{st['id']}/submit", headers=vol).get_json()["status"] == "submitted"
    assert_problem(client.post(f"/api/v1/stocktakes/{st['id']}/finalize", headers=vol), 403, "forbidden")
    r = client.post(f"/api/v1/stocktakes/{st['id']}/finalize", json={"note": "ok"}, headers=world.headers("cadre"))
    assert r.status_code == 200 and r.get_json()["status"] == "finalized"
    assert level(world.sm_east, soap) == 7
    assert_problem(client.post(f"/api/v1/stocktakes/{st['id']}/finalize", headers=world.headers("admin")),
                   409, "conflict")


# -- trace -----------------------------------------------------------------------

def test_donation_trace(client, world, products):
    """GET /donations/{id}/trace: per line redeemed, written off, remaining, households and villages; never a household."""
    rice = products["大米 5kg"]
    d = receive(world, [(rice, 10)])
    for name, n in (("v1a", 2), ("v1b", 1), ("v2a", 3)):
        redeem(None, world.sm_east.id, rice.id, n, household=world.households[name])
    writeoffs.write_off(None, world.sm_east.id, {"product_id": rice.id, "quantity": 1, "reason": "damaged"})
    db.session.commit()
    r = client.get(f"/api/v1/donations/{d.id}/trace", headers=world.headers("donor"))
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == d.id and body["donor"]["id"] == world.donor.id
    (line,) = body["lines"]
    assert {k: line[k] for k in ("product_id", "quantity", "redeemed", "written_off", "remaining", "households")} == \
        {"product_id": rice.id, "quantity": 10, "redeemed": 6, "written_off": 1, "remaining": 3, "households": 3}
    assert line["villages"] == [{"id": world.v2.id, "name": "石门村", "quantity": 3},
                                {"id": world.v1.id, "name": "东坪村", "quantity": 3}] or \
        sorted(line["villages"], key=lambda v: v["id"]) == [
            {"id": world.v1.id, "name": "东坪村", "quantity": 3}, {"id": world.v2.id, "name": "石门村", "quantity": 3}]
    text = r.get_data(as_text=True)
    for hh in world.households.values():
        assert hh.head_name not in text and hh.code not in text
        assert not re.search(rf'"household(_id|s_ids)?"\s*:\s*\[?\s*{hh.id}\b', text)
    today = clock.local_today().isoformat()
    assert body["public_code"] == d.public_code
    assert (line["first_redeemed_on"], line["last_redeemed_on"]) == (today, today)
    assert line["months"] == body["months"] == [{"month": today[:7], "redeemed": 6}]
    assert (body["totals"]["first_redeemed_on"], body["last_redeemed_on"]) == (today, today)
    donor_trace = client.get(f"/api/v1/donors/{world.donor.id}/trace", headers=world.headers("donor"))
    assert donor_trace.status_code == 200
    assert [(x["product_id"], x["redeemed"], x["households"], x["first_redeemed_on"], x["months"])
            for x in donor_trace.get_json()["lines"]] == \
        [(rice.id, 6, 3, today, [{"month": today[:7], "redeemed": 6}])]
    assert donor_trace.get_json()["months"] == [{"month": today[:7], "redeemed": 6}]
    # Before any redemption: no dates, no months.
    fresh = receive(world, [(rice, 1)])
    body = client.get(f"/api/v1/donations/{fresh.id}/trace", headers=world.headers("donor")).get_json()
    assert (body["lines"][0]["first_redeemed_on"], body["lines"][0]["months"], body["months"]) == (None, [], [])


def test_trace_privacy(client, world, products):
    """Another donor's account gets 404 for this donation and donor; cadres in region may read; village
    staff read the donation's trace (as api.md lists them), not the donation itself or the donor's
    trace, and only of their region's supermarkets."""
    from app.models import User
    from app.services.people.accounts import create_user
    d = receive(world, [(products["大米 5kg"], 2)])
    other = Donor(name="别家", kind="company")
    db.session.add(other)
    db.session.flush()
    world.users["other_donor"] = create_user(None, {
        "username": "other_donor", "password": "correct horse battery", "role": "donor",
        "donor_id": other.id})
    db.session.commit()
    assert isinstance(world.users["other_donor"], User)
    for path in (f"/api/v1/donations/{d.id}/trace", f"/api/v1/donors/{world.donor.id}/trace",
                 f"/api/v1/donations/{d.id}"):
        assert_problem(client.get(path, headers=world.headers("other_donor")), 404, "not-found")
        assert client.get(path, headers=world.headers("cadre")).status_code == 200
    for path in (f"/api/v1/donors/{world.donor.id}/trace", f"/api/v1/donations/{d.id}",
                 "/api/v1/donations"):
        assert_problem(client.get(path, headers=world.headers("staff")), 403, "forbidden")
    staff = client.get(f"/api/v1/donations/{d.id}/trace", headers=world.headers("staff"))
    assert staff.status_code == 200, staff.get_json()
    assert staff.get_json()["public_code"] == d.public_code
    assert staff.get_json() == client.get(f"/api/v1/donations/{d.id}/trace",
                                          headers=world.headers("cadre")).get_json()
    for path in (f"/api/v1/donations/{d.id}/trace", f"/api/v1/donations/{d.id}"):
        assert_problem(client.get(path, headers=world.headers("cadre_west")), 404, "not-found")
    assert_problem(client.get(f"/api/v1/donations/{d.id}/trace", headers=world.headers("staff_west")),
                   404, "not-found")
    assert client.get("/api/v1/donations", headers=world.headers("other_donor")).get_json()["total"] == 0


def test_cash_donation_and_purchase(client, world, products):
    """A cash donation, then goods bought with it: lots of that donor; spending more than given is 422."""
    h = world.headers("volunteer")
    r = client.post("/api/v1/cash-donations", json={"donor_id": world.donor.id,
                                                     "supermarket_id": world.sm_east.id, "amount": 500},
                    headers=h)
    assert r.status_code == 201 and r.get_json()["kind"] == "cash" and r.get_json()["amount"] == 500
    cash_id = r.get_json()["id"]
    oil = products["食用油 5L"]
    r = client.post(f"/api/v1/donations/{cash_id}/purchases", json={
        "supplier": "供销社", "lines": [{"product_id": oil.id, "quantity": 5, "unit_value": 60}]}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert_problem(client.post(f"/api/v1/donations/{cash_id}/purchases", json={
        "lines": [{"product_id": oil.id, "quantity": 5, "unit_value": 60}]}, headers=h),
        422, "validation-error", "lines")
    trace = client.get(f"/api/v1/donations/{cash_id}/trace", headers=world.headers("donor")).get_json()
    assert [(x["product_id"], x["quantity"]) for x in trace["lines"]] == [(oil.id, 5)]
    assert level(world.sm_east, oil) == 5


def test_every_goods_route_is_documented(app):
    """Each /api/v1 route of this module has its path and method in the OpenAPI document."""
    from app.api.openapi import document
    paths = document()["paths"]
    for rule in app.url_map.iter_rules():
        if app.view_functions[rule.endpoint].__module__ != "app.api.goods":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (method, path)


# -- every barcode donated goods carry, best-before dates (issue 10) --------------------------

def test_products_take_every_gtin_in_one_normal_form(client, world):
    """A UPC-A posted as 12 digits is stored as 13 and found by its 12-, 13- and 14-digit
    forms; an EAN-8 stays 8 digits; posting the 13-digit form again is a duplicate; a bad
    check digit is refused in the user's language."""
    admin = world.headers("admin")
    r = client.post("/api/v1/products", json={"name": "Peanut butter", "unit": "瓶", "points_price": 9,
                                              "barcode": "036000291452"}, headers=admin)
    assert r.status_code == 201 and r.get_json()["barcode"] == "0036000291452"
    peanut = r.get_json()["id"]
    r = client.post("/api/v1/products", json={"name": "口香糖", "unit": "包", "points_price": 1,
                                              "barcode": "96385074"}, headers=admin)
    assert r.status_code == 201 and r.get_json()["barcode"] == "96385074"
    r = client.post("/api/v1/products", json={"name": "整箱牛奶", "unit": "箱", "points_price": 60,
                                              "barcode": "10012345678902"}, headers=admin)
    assert r.status_code == 201 and r.get_json()["barcode"] == "10012345678902"
    for form in ("036000291452", "0036000291452", "00036000291452"):
        items = client.get(f"/api/v1/products?barcode={form}",
                           headers=world.headers("volunteer")).get_json()["items"]
        assert [i["id"] for i in items] == [peanut], form
    before = written()
    b = assert_problem(client.post("/api/v1/products", json={
        "name": "别的", "unit": "瓶", "points_price": 9, "barcode": "0036000291452"}, headers=admin),
        422, "validation-error", "barcode")
    assert "条码" in b["errors"]["barcode"][0]
    b = assert_problem(client.post("/api/v1/products", json={
        "name": "别的", "unit": "瓶", "points_price": 9, "barcode": "036000291453"},
        headers={**admin, "Accept-Language": "zh-CN"}), 422, "validation-error", "barcode")
    assert "校验" in b["errors"]["barcode"][0]
    assert_problem(client.patch(f"/api/v1/products/{peanut}", json={"barcode": "96385074"}, headers=admin),
                   422, "validation-error", "barcode")
    assert_problem(client.get("/api/v1/products?barcode=036000291453", headers=world.headers("volunteer")),
                   422, "validation-error", "barcode")
    assert written() == before


def test_donation_lines_carry_best_before_to_their_lots(client, world, products):
    """POST /donations: a line's best_before comes back on the line and is on the lot; a line
    without one has null; a bad date is 422 on that line with nothing written."""
    body = donation_body(world, products)
    body["lines"][0]["best_before"] = "2027-03-01"
    r = client.post("/api/v1/donations", json=body, headers=world.headers("volunteer"))
    assert r.status_code == 201, r.get_json()
    lines = r.get_json()["lines"]
    assert [(line["product_id"], line["best_before"]) for line in lines] == \
        [(products["大米 5kg"].id, "2027-03-01"), (products["香皂"].id, None)]
    lots = client.get(f"/api/v1/supermarkets/{world.sm_east.id}/lots",
                      headers=world.headers("volunteer")).get_json()["items"]
    assert sorted((lot["product_id"], lot["best_before"]) for lot in lots) == \
        sorted([(products["大米 5kg"].id, "2027-03-01"), (products["香皂"].id, None)])
    before = written()
    for bad in ("2027-02-30", "next week", "1999-12-31", "2226-01-01"):
        body = donation_body(world, products)
        body["lines"][1]["best_before"] = bad
        assert_problem(client.post("/api/v1/donations", json=body, headers=world.headers("volunteer")),
                       422, "validation-error", "lines.1.best_before")
    assert written() == before


def _dated(world, product, quantity, best_before, received_on):
    """A donation line of `product` with a best-before date (None: none), received on a day."""
    from app.services.goods import donations as service
    d = service.receive_donation(world.users["volunteer"], {
        "donor_id": world.donor.id, "supermarket_id": world.sm_east.id, "received_on": received_on,
        "lines": [{"product_id": product.id, "quantity": quantity, "best_before": best_before}]})
    db.session.commit()
    return db.session.scalar(select(Lot).where(Lot.donation_line_id == d.lines[0].id))


def test_write_off_takes_the_lot_that_expires_first_or_the_one_chosen(client, world, products):
    """Without lot_id a write-off takes the lot that expires first (one without a date last,
    even if older); with lot_id it takes that lot; a lot of another product or another
    supermarket is 422; more than the lot holds is 409; refusals write nothing."""
    oil, soap = products["食用油 5L"], products["香皂"]
    undated = _dated(world, oil, 5, None, "2026-01-05")
    late = _dated(world, oil, 5, "2027-06-01", "2026-02-01")
    soon = _dated(world, oil, 5, "2026-12-01", "2026-03-01")
    soap_lot = _dated(world, soap, 5, None, "2026-03-01")
    path = f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs"
    h = world.headers("volunteer")
    r = client.post(path, json={"product_id": oil.id, "quantity": 7, "reason": "expired"}, headers=h)
    assert r.status_code == 201
    assert [(t["lot_id"], t["quantity"]) for t in r.get_json()["lots"]] == [(soon.id, 5), (late.id, 2)]
    r = client.post(path, json={"product_id": oil.id, "quantity": 2, "reason": "damaged",
                                "lot_id": undated.id}, headers=h)
    assert r.status_code == 201
    assert [(t["lot_id"], t["quantity"]) for t in r.get_json()["lots"]] == [(undated.id, 2)]
    before = written()
    assert_problem(client.post(path, json={"product_id": oil.id, "quantity": 1, "reason": "lost",
                                           "lot_id": soap_lot.id}, headers=h), 422, "validation-error", "lot_id")
    assert_problem(client.post(path, json={"product_id": oil.id, "quantity": 1, "reason": "lost",
                                           "lot_id": 987654}, headers=h), 422, "validation-error", "lot_id")
    assert_problem(client.post(path, json={"product_id": oil.id, "quantity": 1, "reason": "lost",
                                           "lot_id": "abc"}, headers=h), 422, "validation-error", "lot_id")
    b = assert_problem(client.post(path, json={"product_id": oil.id, "quantity": 4, "reason": "lost",
                                               "lot_id": undated.id}, headers=h), 409, "insufficient-stock")
    assert "3" in b["detail"]
    assert written() == before
    # A lot at another supermarket (moved there) is not one of this supermarket's.
    client.post("/api/v1/transfers", json={"from_supermarket_id": world.sm_east.id,
                                           "to_supermarket_id": world.sm_west.id,
                                           "product_id": oil.id, "quantity": 1}, headers=h)
    moved = db.session.scalar(select(Lot).where(Lot.supermarket_id == world.sm_west.id))
    assert moved.best_before == late.best_before  # the transfer carried the date (the lot expiring first)
    assert_problem(client.post(path, json={"product_id": oil.id, "quantity": 1, "reason": "lost",
                                           "lot_id": moved.id}, headers=h), 422, "validation-error", "lot_id")
    db.session.expire_all()
    assert [(lot.id, lot.remaining) for lot in (undated, late, soon)] == \
        [(undated.id, 3), (late.id, 2), (soon.id, 0)]
    assert_lots_balance()


def test_checkout_takes_the_lot_that_expires_first(client, world, products):
    """A checkout takes units from the lot that expires first, not the oldest; a lot
    without a date goes last; a void gives each unit back to the lot it came from."""
    from tests.checkout_helpers import card_for, give_points
    oil = products["食用油 5L"]
    undated = _dated(world, oil, 3, None, "2026-01-05")
    late = _dated(world, oil, 3, "2027-06-01", "2026-02-01")
    soon = _dated(world, oil, 2, "2026-12-20", "2026-03-01")
    give_points(world, world.households["v1a"], 500)
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json={
        "supermarket_id": world.sm_east.id, "card_payload": card_for(world, "v1a"),
        "lines": [{"product_id": oil.id, "quantity": 4}]})
    assert r.status_code == 201, r.get_json()
    db.session.expire_all()
    assert [(lot.remaining) for lot in (undated, late, soon)] == [3, 1, 0]
    moves = db.session.scalars(select(LotMovement).where(LotMovement.checkout_id == r.get_json()["id"])
                               .order_by(LotMovement.id)).all()
    assert [(m.lot_id, m.quantity) for m in moves] == [(soon.id, 2), (late.id, 2)]
    assert client.post(f"/api/v1/checkouts/{r.get_json()['id']}/void", json={"reason": "扫错了"},
                       headers=world.headers("volunteer")).status_code == 200
    db.session.expire_all()
    assert [(lot.remaining) for lot in (undated, late, soon)] == [3, 3, 2]
    assert_lots_balance()
