"""The donations' public side (issue 11): the donor's consent to be named, the
trace read from a receipt's QR code without logging in, and a supermarket's
donation board. Nothing of a household ever reaches them."""
import base64
import io
import re

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.i18n import COOKIE
from app.models import AuditRecord, Donor, Household
from app.services.goods import writeoffs
from app.services.people.households import create_household
from tests.api.problems import assert_problem
from tests.goods_helpers import load_products, receive, redeem


@pytest.fixture
def products(world):
    return load_products()


@pytest.fixture
def given(world, products):
    """10 bags of rice: 4 households of 东坪村 take 1 each, one of 石门村 takes 2,
    one of 西沟村 takes 1; 1 is written off, 2 stay on the shelves."""
    for name in ("甲", "乙"):
        world.households[f"v1{name}"] = create_household(
            world.users["admin"], {"village_id": world.v1.id, "head_name": f"刘{name}", "members": 2})
    db.session.commit()
    rice = products["大米 5kg"]
    d = receive(world, [(rice, 10)])
    for key, n in (("v1a", 1), ("v1b", 1), ("v1甲", 1), ("v1乙", 1), ("v2a", 2), ("v3a", 1)):
        redeem(None, world.sm_east.id, rice.id, n, household=world.households[key])
    writeoffs.write_off(None, world.sm_east.id, {"product_id": rice.id, "quantity": 1, "reason": "damaged"})
    db.session.commit()
    return d


def household_marks() -> list[str]:
    """Every household's name and code, from the database."""
    marks = []
    for hh in db.session.scalars(select(Household)):
        marks += [hh.head_name, hh.code]
    return [m for m in marks if m]


def assert_no_household(text: str) -> None:
    for mark in household_marks():
        assert mark not in text
    assert "household_id" not in text


def test_create_donor_consent(client, world):
    """POST /donors takes named_in_public (default false), answers it, audits it; not a boolean is 422."""
    h = world.headers("volunteer")
    r = client.post("/api/v1/donors", json={"name": "张三", "kind": "person"}, headers=h)
    assert r.status_code == 201 and r.get_json()["named_in_public"] is False
    r = client.post("/api/v1/donors", json={"name": "山城超市", "kind": "company", "named_in_public": True},
                    headers=h)
    assert r.status_code == 201 and r.get_json()["named_in_public"] is True
    donor = db.session.get(Donor, r.get_json()["id"])
    assert donor.named_in_public is True
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "donor.create",
                                                          AuditRecord.object_id == donor.id)).one()
    assert "named_in_public" in str(audit.details)
    assert client.get(f"/api/v1/donors/{donor.id}", headers=h).get_json()["named_in_public"] is True
    before = db.session.scalar(select(db.func.count()).select_from(Donor))
    r = client.post("/api/v1/donors", json={"name": "李四", "kind": "person", "named_in_public": "yes"}, headers=h)
    assert_problem(r, 422, "validation-error")
    assert db.session.scalar(select(db.func.count()).select_from(Donor)) == before


def test_public_trace_without_login(client, world, given):
    """GET /public/trace/{code}: no login; the numbers of the donation trace; the donor not named
    without consent (a company: 爱心企业); villages with fewer than 3 households summed as 其他村."""
    r = client.get(f"/api/v1/public/trace/{given.public_code}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["donor"] == "爱心企业" and "青山农商银行" not in r.get_data(as_text=True)
    assert body["supermarket"] == {"id": world.sm_east.id, "name": world.sm_east.name}
    (line,) = body["lines"]
    assert {k: line[k] for k in ("quantity", "redeemed", "written_off", "remaining", "households")} == \
        {"quantity": 10, "redeemed": 7, "written_off": 1, "remaining": 2, "households": 6}
    # 东坪村: 4 households, named; 石门村 (1) and 西沟村 (1): one row.
    assert line["villages"] == [{"id": world.v1.id, "name": "东坪村", "quantity": 4},
                                {"id": None, "name": "其他村", "quantity": 3}]
    assert body["villages"] == line["villages"]
    assert "石门村" not in r.get_data(as_text=True) and "西沟村" not in r.get_data(as_text=True)
    assert "first_redeemed_on" in line and "months" in line  # filled by the staff trace (_trace)
    assert_no_household(r.get_data(as_text=True))
    assert str(world.donor.id) not in re.findall(r'"donor[^"]*"\s*:\s*(\d+)', r.get_data(as_text=True))


def test_public_trace_names_donor_with_consent(client, world, products):
    """A donor who agreed is named; a person who did not is 爱心人士; an organisation 爱心企业."""
    rice = products["大米 5kg"]
    cases = [(Donor(name="青山商会", kind="organisation", named_in_public=True), "青山商会"),
             (Donor(name="王大妈", kind="person"), "爱心人士"),
             (Donor(name="赵老师", kind="person", named_in_public=True), "赵老师"),
             (Donor(name="某协会", kind="organisation"), "爱心企业")]
    for donor, shown in cases:
        db.session.add(donor)
        db.session.flush()
        d = receive(world, [(rice, 1)], donor=donor)
        body = client.get(f"/api/v1/public/trace/{d.public_code}").get_json()
        assert body["donor"] == shown
        page = client.get(f"/trace/{d.public_code}").get_data(as_text=True)
        assert shown in page and (donor.named_in_public or donor.name not in page)


def test_public_trace_page(client, world, given):
    """/trace/<code>: no login, in Chinese first, the plain numbers; no household anywhere."""
    r = client.get(f"/trace/{given.public_code}")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "捐赠物资去向" in text and "爱心企业" in text and "其他村" in text and "东坪村" in text
    assert "6 户" in text or "6户" in text
    assert_no_household(text)
    assert client.get(f"/trace/{given.public_code.lower()}").status_code == 200


def test_public_trace_page_in_english(client, world, given):
    """The page in English for a visitor who chose it."""
    client.set_cookie(COOKIE, "en")
    en = client.get(f"/trace/{given.public_code}").get_data(as_text=True)
    assert "Where the donated goods went" in en and "Other villages" in en


@pytest.mark.parametrize("code", ["AAAAAAAAAAAAAAAA", "1", "x" * 200, "%00", "JZ2026-000001"])
def test_unknown_code_is_404(client, world, given, code):
    """An unknown or guessed code: 404, at the API and the page; the donation id is no code."""
    assert_problem(client.get(f"/api/v1/public/trace/{code}"), 404, "not-found")
    assert client.get(f"/trace/{code}").status_code == 404
    assert_problem(client.get(f"/api/v1/public/trace/{given.id}"), 404, "not-found")


def test_guessing_is_throttled(client, world, given):
    """30 unknown codes from a client are answered 404; the 31st is 429, and so is a known code
    from that client then (a lucky guess must not show); another client still reads it."""
    for i in range(30):
        path = f"/api/v1/public/trace/{'A' * 15}{'BCDEFGHIJKLMNOPQRSTUVWXYZ234567'[i]}"
        if i % 2:
            path = path.replace("/api/v1/public/trace/", "/trace/")
        assert client.get(path).status_code == 404
    assert_problem(client.get(f"/api/v1/public/trace/{'Z' * 16}"), 429, "rate-limited")
    assert client.get(f"/api/v1/public/trace/{given.public_code}").status_code == 429
    assert client.get(f"/trace/{given.public_code}").status_code == 429
    other = {"REMOTE_ADDR": "10.9.8.7"}
    assert client.get(f"/api/v1/public/trace/{given.public_code}", environ_base=other).status_code == 200


def test_known_codes_do_not_count(client, world, given):
    """Reading a real receipt's trace many times is never throttled."""
    for _ in range(40):
        assert client.get(f"/api/v1/public/trace/{given.public_code}").status_code == 200


def test_board(client, world, products, given):
    """/market/<id>/board: no login; a donor who agreed by name, the others summed as 爱心企业 /
    爱心人士; units given and taken home; cash; per month; no household anywhere."""
    rice, oil = products["大米 5kg"], products["食用油 5L"]
    named = Donor(name="青山商会", kind="organisation", named_in_public=True)
    person = Donor(name="王大妈", kind="person")
    db.session.add_all([named, person])
    db.session.flush()
    receive(world, [(oil, 6)], donor=named)
    receive(world, [(rice, 3)], donor=person)
    r = client.post("/api/v1/cash-donations", json={"donor_id": person.id, "supermarket_id": world.sm_east.id,
                                                    "amount": 300}, headers=world.headers("volunteer"))
    assert r.status_code == 201
    page = client.get(f"/market/{world.sm_east.id}/board")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "捐赠公示" in text and "青山商会" in text and "食用油 5L 6" in text
    assert "王大妈" not in text and "青山农商银行" not in text
    assert "爱心企业" in text and "爱心人士" in text and "300.00" in text
    assert "大米 5kg 10" in text  # the bank's 10 bags, under 爱心企业
    assert re.search(r"<td class=\"num\">7 <small", text)  # 7 of the bank's 10 taken home
    assert_no_household(text)
    assert client.get("/market/99999/board").status_code == 404


def test_receipt_qr_opens_public_trace(client, world, given):
    """The printed receipt carries a QR code of the public page's full address, and a line saying so."""
    from tests.factories import login
    login(client, "volunteer")
    text = client.get(f"/goods/donations/{given.id}/receipt").get_data(as_text=True)
    assert "扫码查看捐赠物资去向" in text
    data = re.search(r'src="data:image/png;base64,([^"]+)"', text)[1]
    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data))))
    assert result.text == f"http://localhost/trace/{given.public_code}"
    anyone = client.application.test_client()
    assert anyone.get(result.text.replace("http://localhost", "")).status_code == 200


def test_donor_form_consent(client, world):
    """The donor forms: the consent box on add and edit, shown on the donor's page, audited."""
    from tests.factories import login
    login(client, "volunteer")
    assert "named_in_public" in client.get("/goods/donors/new").get_data(as_text=True)
    r = client.post("/goods/donors/new", data={"name": "刘师傅", "kind": "person", "contact": ""})
    assert r.status_code == 302
    donor = db.session.scalars(select(Donor).where(Donor.name == "刘师傅")).one()
    assert donor.named_in_public is False
    assert "不公开" in client.get(f"/goods/donors/{donor.id}").get_data(as_text=True)
    r = client.post(f"/goods/donors/{donor.id}/edit", data={"name": "刘师傅", "kind": "person",
                                                           "contact": "", "named_in_public": "y"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Donor, donor.id).named_in_public is True
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "donor.update",
                                                        AuditRecord.object_id == donor.id)).one()
    assert "同意公开" in client.get(f"/goods/donors/{donor.id}").get_data(as_text=True)


def test_donor_edit_needs_manager(client, world):
    """Staff may not edit a donor (volunteers and admins do)."""
    from tests.factories import login
    login(client, "staff")
    assert client.get(f"/goods/donors/{world.donor.id}/edit").status_code == 403


def test_receipt_qr_on_the_public_address(make_app, world, given):
    """With PUBLIC_URL set, the QR code names the public address, whatever address the receipt
    was printed from (a counter tablet on the village network)."""
    from tests.factories import login
    app = make_app(PUBLIC_URL="https://aixin.example.cn/")
    client = app.test_client()
    with app.app_context():
        login(client, "volunteer")
        text = client.get(f"/goods/donations/{given.id}/receipt",
                          base_url="http://192.168.1.20").get_data(as_text=True)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', text)[1]
    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data))))
    assert result.text == f"https://aixin.example.cn/trace/{given.public_code}"
