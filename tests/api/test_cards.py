"""Member cards: issue, revoke on reissue, print, resolve a scan."""
import io
import shutil
import subprocess

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Card
from app.services.checkout.cards import PAYLOAD_PREFIX, luhn_digit
from app.services.people.households import create_household


def issue(client, world, key="v1a", user="staff"):
    hh = world.households[key]
    r = client.post(f"/api/v1/households/{hh.id}/cards", headers=world.headers(user))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_issue_card_gives_secret_payload_and_typable_number(client, world):
    """A card's QR payload is digits only, carries >= 128 random bits and nothing about the household."""
    body = issue(client, world)
    hh = world.households["v1a"]
    assert body["qr_payload"] == PAYLOAD_PREFIX + body["token"]
    assert body["qr_payload"].isdigit() and len(body["token"]) == 39  # 10**39 > 2**129
    assert hh.head_name not in body["qr_payload"] and hh.code not in body["qr_payload"]
    assert len(body["number"]) == 10 and body["number"][-1] == luhn_digit(body["number"][:-1])
    second = issue(client, world, "v1b")
    assert second["token"] != body["token"] and second["number"] != body["number"]
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "card.issue")).all()


def test_reissue_revokes_old_card_at_once(client, world):
    """A lost card: issuing again makes the old card answer 410 card-revoked at the counter."""
    old = issue(client, world)
    new = issue(client, world)
    headers = world.headers("volunteer")
    r = client.post("/api/v1/cards/resolve", json={"payload": old["qr_payload"]}, headers=headers)
    assert r.status_code == 410 and r.get_json()["type"] == "card-revoked"
    r = client.get(f"/api/v1/cards/resolve?number={old['number']}", headers=headers)
    assert r.status_code == 410
    r = client.post("/api/v1/cards/resolve", json={"payload": new["qr_payload"]}, headers=headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["household"]["id"] == world.households["v1a"].id
    assert body["household"]["head_name"] == "杜玉梅" and body["household"]["village"] == "东坪村"
    assert body["card"] == {"number": new["number"], "status": "active"}
    assert db.session.scalar(select(Card.status).where(Card.number == old["number"])) == "revoked"


def test_resolve_by_typed_number_with_spaces(client, world):
    """Volunteers type the number as printed, with spaces."""
    card = issue(client, world)
    n = card["number"]
    r = client.get(f"/api/v1/cards/resolve?number={n[:4]}%20{n[4:8]}%20{n[8:]}", headers=world.headers("volunteer"))
    assert r.status_code == 200


def test_resolve_unknown_and_out_of_scope_is_404(client, world):
    """An unknown payload and a card of a household outside the volunteer's supermarket both answer 404."""
    card = issue(client, world, "v3a", user="staff_west")
    headers = world.headers("volunteer")  # east supermarket
    assert client.post("/api/v1/cards/resolve", json={"payload": "81" + "0" * 39}, headers=headers).status_code == 404
    assert client.post("/api/v1/cards/resolve", json={"payload": "hello"}, headers=headers).status_code == 404
    assert client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]}, headers=headers).status_code == 404
    r = client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]}, headers=world.headers("volunteer_west"))
    assert r.status_code == 200


def test_roles_for_cards(client, world):
    """Only staff in scope and admins issue cards; donors cannot resolve; staff of another village get 404."""
    hh = world.households["v1a"]
    assert client.post(f"/api/v1/households/{hh.id}/cards", headers=world.headers("volunteer")).status_code == 403
    assert client.post(f"/api/v1/households/{hh.id}/cards", headers=world.headers("cadre")).status_code == 403
    assert client.post(f"/api/v1/households/{hh.id}/cards", headers=world.headers("staff_west")).status_code == 404
    assert db.session.scalars(select(Card)).all() == []
    card = issue(client, world)
    r = client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]}, headers=world.headers("donor"))
    assert r.status_code == 403


def test_exited_household_gets_no_card(client, world):
    """A household that left the programme cannot be issued a card."""
    hh = world.households["v1b"]
    hh.status = "exited"
    db.session.commit()
    r = client.post(f"/api/v1/households/{hh.id}/cards", headers=world.headers("staff"))
    assert r.status_code == 422
    assert db.session.scalars(select(Card)).all() == []


def test_card_png_decodes_to_its_payload(client, world):
    """The printed card's QR code reads back as exactly the payload, rare name characters included."""
    card = issue(client, world, "v1b")  # 王喆
    r = client.get(f"/api/v1/households/{world.households['v1b'].id}/card.png", headers=world.headers("staff"))
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = Image.open(io.BytesIO(r.data))
    assert img.size == (1011, 638)
    results = zxingcpp.read_barcodes(img)
    assert [res.text for res in results] == [card["qr_payload"]]


def test_card_png_without_card_is_404(client, world):
    """No card issued yet: no image."""
    r = client.get(f"/api/v1/households/{world.households['v1a'].id}/card.png", headers=world.headers("staff"))
    assert r.status_code == 404


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
def test_card_sheet_every_card_decodes(client, world, tmp_path):
    """A village's A4 sheet: every card on the rasterised pages decodes to its payload, rare names included."""
    admin = world.users["admin"]
    names = ["张犇", "刘堃", "陈喆", "赵淼", "孙鑫", "周焱", "吴垚", "郑翀", "冯昇", "王玥", "李昱"]
    for name in names:
        create_household(admin, {"village_id": world.v1.id, "head_name": name})
    db.session.commit()
    from app.models import Household
    payloads = set()
    headers = world.headers("staff")
    for hh in db.session.scalars(select(Household).where(Household.village_id == world.v1.id)):
        payloads.add(client.post(f"/api/v1/households/{hh.id}/cards", headers=headers).get_json()["qr_payload"])
    assert len(payloads) == 13
    r = client.get(f"/api/v1/cards/sheet.pdf?village_id={world.v1.id}", headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(r.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 2  # 10 cards a page
    decoded = set()
    for page in pages:
        decoded |= {res.text for res in zxingcpp.read_barcodes(Image.open(page))}
    assert decoded == payloads


def test_card_sheet_scope(client, world):
    """A staff member cannot print another village's sheet; a missing village_id is a validation error."""
    assert client.get(f"/api/v1/cards/sheet.pdf?village_id={world.v3.id}", headers=world.headers("staff")).status_code == 404
    assert client.get("/api/v1/cards/sheet.pdf", headers=world.headers("staff")).status_code == 422
    assert client.get("/api/v1/cards/sheet.pdf?village_id=x", headers=world.headers("staff")).status_code == 422


# -- a whole village at once ----------------------------------------------------------

def active_cards(village_id):
    from app.models import Household
    return db.session.scalars(
        select(Card).join(Household, Household.id == Card.household_id)
        .where(Household.village_id == village_id, Card.status == "active")).all()


def test_village_cards_issue_one_for_every_household_without_one(client, world):
    """Staff issue the whole village's cards in one request; run again, none; the sheet prints them all."""
    kept = issue(client, world, "v1a")
    r = client.post(f"/api/v1/villages/{world.v1.id}/cards", headers=world.headers("staff"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["issued"] == 1  # v1b only: v1a already had one
    cards = active_cards(world.v1.id)
    assert sorted(c.household_id for c in cards) == sorted(
        [world.households["v1a"].id, world.households["v1b"].id])
    assert kept["number"] in [c.number for c in cards]  # the card already handed out still works
    assert len({c.number for c in cards}) == 2 and len({c.token_hash for c in cards}) == 2
    again = client.post(f"/api/v1/villages/{world.v1.id}/cards", headers=world.headers("staff"))
    assert again.status_code == 201 and again.get_json()["issued"] == 0
    assert len(active_cards(world.v1.id)) == 2
    assert active_cards(world.v2.id) == []  # another village untouched
    assert db.session.scalars(select(AuditRecord).where(
        AuditRecord.action == "cards.issue_village")).all()
    sheet = client.get(f"/api/v1/cards/sheet.pdf?village_id={world.v1.id}", headers=world.headers("staff"))
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")


def test_village_cards_skip_exited_households(client, world):
    """An exited household gets no card."""
    from app.models import Household
    hh = db.session.get(Household, world.households["v1b"].id)
    hh.status = "exited"
    db.session.commit()
    r = client.post(f"/api/v1/villages/{world.v1.id}/cards", headers=world.headers("admin"))
    assert r.status_code == 201 and r.get_json()["issued"] == 1
    assert [c.household_id for c in active_cards(world.v1.id)] == [world.households["v1a"].id]


def test_village_reissue_all_revokes_every_current_card(client, world):
    """?reissue=all replaces every current card: the old ones answer 410 at the counter."""
    old = issue(client, world, "v1a")
    r = client.post(f"/api/v1/villages/{world.v1.id}/cards?reissue=all", headers=world.headers("staff"))
    assert r.status_code == 201
    assert r.get_json() == {"issued": 2, "revoked": 1}
    cards = active_cards(world.v1.id)
    assert len(cards) == 2 and old["number"] not in [c.number for c in cards]
    resolve = client.post("/api/v1/cards/resolve", json={"number": old["number"]},
                          headers=world.headers("volunteer"))
    assert resolve.status_code == 410


def test_village_cards_refused_roles_scope_and_bad_query(client, world):
    """Volunteers and donors 403, cadres 403 (they read, not issue), another village 404,
    a township 404, a bad reissue value 422; nothing is written."""
    url = f"/api/v1/villages/{world.v1.id}/cards"
    for user in ("volunteer", "donor", "cadre"):
        assert client.post(url, headers=world.headers(user)).status_code == 403
    assert client.post(url, headers=world.headers("staff_west")).status_code == 404
    assert client.post(f"/api/v1/villages/{world.east.id}/cards",
                       headers=world.headers("admin")).status_code == 404
    assert client.post("/api/v1/villages/999999/cards", headers=world.headers("admin")).status_code == 404
    r = client.post(url + "?reissue=some", headers=world.headers("staff"))
    assert r.status_code == 422 and r.get_json()["type"] == "validation-error"
    assert db.session.scalars(select(Card)).all() == []


def test_village_cards_fast_for_hundreds(client, world):
    """A village of 600 households gets its cards in one request, quickly, each number unique."""
    import time
    from app.models import Household
    from app.services.people.households import household_code
    db.session.execute(Household.__table__.insert(), [
        {"code": household_code(world.v2.id, 1000 + i), "village_id": world.v2.id,
         "head_name": f"户{i}", "members": 1, "status": "active", "balance": 0, "tags": []}
        for i in range(600)])
    db.session.commit()
    started = time.perf_counter()
    r = client.post(f"/api/v1/villages/{world.v2.id}/cards", headers=world.headers("admin"))
    took = time.perf_counter() - started
    assert r.status_code == 201 and r.get_json()["issued"] == 601
    cards = active_cards(world.v2.id)
    assert len(cards) == 601 and len({c.number for c in cards}) == 601
    assert all(c.number[-1] == luhn_digit(c.number[:-1]) for c in cards)
    assert took < 5, took
