"""Cards sealed at rest (issue 12): the database keeps no card's token, only its
hash (to scan) and the token sealed with the card key (to print it again). A
copied database cannot make cards; losing the key means reprinting, never a
card that stops scanning."""
import io
import os
from pathlib import Path

import pytest
import zxingcpp
from cryptography.fernet import Fernet
from flask_babel import force_locale, gettext
from PIL import Image
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditRecord, Card
from app.services.checkout import card_key
from app.services.checkout.card_images import card_image
from app.services.checkout.cards import PAYLOAD_PREFIX, card_token, find_card
from tests.api.problems import assert_problem
from tests.checkout_helpers import give_points, stocked
from tests.factories import login

KEY_MISSING = ("This card cannot be printed again: the card key is missing on this server (was the "
               "database restored without it?). The card still scans; to print a card, issue the "
               "household a new one.")


def issue(client, world, key="v1a", user="staff") -> dict:
    r = client.post(f"/api/v1/households/{world.households[key].id}/cards", headers=world.headers(user))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def stored_text() -> str:
    """Every column of every row of the cards table, as a copy of the database holds it."""
    db.session.rollback()
    return " ".join(str(value) for row in db.session.execute(text("SELECT * FROM cards")) for value in row)


def database_bytes() -> bytes:
    """A SQLite database copied as files (the database and its write-ahead log)."""
    db.session.rollback()
    path = Path(db.engine.url.database)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def lose_key(app) -> None:
    """The database restored on a machine without its card key."""
    card_key.key_file().unlink()
    card_key.forget()


def sell(client, world, products, payload: str):
    return client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json={
        "supermarket_id": world.sm_east.id, "card_payload": payload,
        "lines": [{"product_id": products["香皂"].id, "quantity": 1}]})


def test_copied_database_holds_no_token_or_payload(app, client, world):
    """Cards issued one at a time and a whole village at once: no column of any row of cards (nor, on
    SQLite, the copied database file) holds a token, a QR payload or a long run of a token's digits."""
    tokens = [issue(client, world)["token"]]
    assert client.post(f"/api/v1/villages/{world.v2.id}/cards",
                       headers=world.headers("staff_east")).status_code == 201
    bulk = db.session.scalars(select(Card).where(Card.household_id == world.households["v2a"].id)).all()
    tokens += [card_token(card) for card in bulk]
    assert len(tokens) == 2 and all(len(t) == 39 and t.isdigit() for t in tokens)
    dump = stored_text()
    raw = database_bytes() if db.engine.dialect.name == "sqlite" else dump.encode()
    for token in tokens:
        for start in range(0, 39 - 16):
            assert token[start:start + 16] not in dump
            assert token[start:start + 16].encode() not in raw
    key = card_key.key_file().read_text()
    assert all(line not in dump for line in key.splitlines() if line and not line.startswith("#"))


def test_scan_and_checkout_find_the_card_by_its_hash(client, world):
    """A scanned payload resolves and checks out: the card is found by the SHA-256 of its token."""
    products = stocked(world)
    give_points(world, world.households["v1a"], 50)
    card = issue(client, world)
    stored = db.session.scalars(select(Card)).one()
    assert stored.token_hash == card_key.token_hash(card["token"]) and len(stored.token_hash) == 64
    r = client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]}, headers=world.headers("volunteer"))
    assert r.status_code == 200 and r.get_json()["household"]["id"] == world.households["v1a"].id
    assert sell(client, world, products, card["qr_payload"]).status_code == 201
    assert find_card(payload=PAYLOAD_PREFIX + "1" * 39) is None


def test_reprint_with_the_key_reads_back_the_payload(make_app, client, world):
    """Printed again later, from the key file alone (a new app, nothing in memory), the card's QR code
    reads back as the payload it was issued with; the key file is made on the first card, mode 0600."""
    assert not card_key.key_file().exists()   # no card yet: no key
    card = issue(client, world, "v1b")
    path = card_key.key_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    later = make_app().test_client()
    r = later.get(f"/api/v1/households/{world.households['v1b'].id}/card.png", headers=world.headers("staff"))
    assert r.status_code == 200
    assert [res.text for res in zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))] == [card["qr_payload"]]


def test_without_the_key_cards_scan_but_reprinting_says_a_new_card_is_needed(app, make_app, client, world):
    """The database restored without its card key: cards still resolve and check out; printing one
    again answers 409 card-key-missing in the user's language (API and pages), the household page says
    a new card is needed, the village sheet prints the card marked without a QR code; a new card works."""
    products = stocked(world)
    give_points(world, world.households["v1a"], 50)
    card = issue(client, world)
    issue(client, world, "v1b")
    lose_key(app)
    volunteer = world.headers("volunteer")
    assert client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]}, headers=volunteer).status_code == 200
    assert sell(client, world, products, card["qr_payload"]).status_code == 201
    hh = world.households["v1a"].id
    for lang in ("en", "zh-CN"):
        # Another app object: each request its own app context, so its own language.
        r = make_app().test_client().get(f"/api/v1/households/{hh}/card.png", headers={**world.headers("staff"), "Accept-Language": lang})
        body = assert_problem(r, 409, "card-key-missing")
        with force_locale("en" if lang == "en" else app.config["BABEL_DEFAULT_LOCALE"]):
            assert body["detail"] == gettext(KEY_MISSING)
    assert not card_key.key_file().exists()   # reading never makes a key that opens nothing
    login(client, "staff")
    page = client.get(f"/households/{hh}/card.png")
    assert page.status_code == 409 and "text/html" in page.content_type
    detail = client.get(f"/households/{hh}").get_data(as_text=True)
    assert 'id="card-key-missing"' in detail and "card-preview" not in detail
    village = client.get(f"/households/cards?village_id={world.v1.id}").get_data(as_text=True)
    assert 'id="cards-key-missing"' in village
    sheet = client.get(f"/households/cards.pdf?village_id={world.v1.id}")
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")
    api_sheet = client.get(f"/api/v1/cards/sheet.pdf?village_id={world.v1.id}", headers=world.headers("staff"))
    assert api_sheet.status_code == 200
    stored = db.session.scalars(select(Card).where(Card.household_id == hh)).one()
    marked = card_image(stored, mark_missing_key=True)
    assert zxingcpp.read_barcodes(marked) == []
    new = issue(client, world)          # a new card: a new key, and it prints
    r = client.get(f"/api/v1/households/{hh}/card.png", headers=world.headers("staff"))
    assert r.status_code == 200
    assert [res.text for res in zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))] == [new["qr_payload"]]
    assert client.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]},
                       headers=volunteer).status_code == 410


def test_another_key_cannot_open_the_cards(make_app, client, world):
    """A server with a different card key (FLASK_CARD_KEY) scans the cards but cannot print them."""
    card = issue(client, world)
    other = make_app(CARD_KEY=Fernet.generate_key().decode()).test_client()
    hh = world.households["v1a"].id
    assert other.post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]},
                      headers=world.headers("volunteer")).status_code == 200
    assert_problem(other.get(f"/api/v1/households/{hh}/card.png", headers=world.headers("staff")),
                   409, "card-key-missing")


def test_key_from_the_environment_and_its_rotation(make_app, world):
    """With FLASK_CARD_KEY no key file is written; a new key put first keeps the old cards printable,
    `flask cards reseal` seals them all with it (audited), after which the old key can go."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = make_app(CARD_KEY=old)
    card = issue(first.test_client(), world)
    assert not card_key.key_file().exists()
    hh = world.households["v1a"].id

    def prints(app) -> bool:
        return app.test_client().get(f"/api/v1/households/{hh}/card.png",
                                     headers=world.headers("staff")).status_code == 200

    both = make_app(CARD_KEY=f"{new}, {old}")
    assert prints(both) and not prints(make_app(CARD_KEY=new))
    with both.app_context():   # the runner uses the app whose context is pushed
        result = both.test_cli_runner().invoke(args=["cards", "reseal"])
    assert result.exit_code == 0 and "resealed 1 cards" in result.output, result.output
    assert prints(make_app(CARD_KEY=new)) and not prints(make_app(CARD_KEY=old))
    db.session.rollback()
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "cards.reseal")).one()
    assert card["qr_payload"] not in stored_text()


def test_reseal_without_a_key_says_so(make_app, world):
    """`flask cards reseal` on a server without a card key fails with the reason and changes nothing."""
    app = make_app(CARD_KEY_FILE=str(Path(make_app().instance_path) / "elsewhere.key"))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["cards", "reseal"])
    assert result.exit_code == 1 and "no card key" in result.output
    assert not os.path.exists(Path(app.instance_path) / "elsewhere.key")


def test_a_mistyped_card_key_is_named_and_scanning_still_works(make_app, client, world):
    """A FLASK_CARD_KEY that is not a Fernet key: issuing fails naming the setting, scans still resolve."""
    card = issue(client, world)
    bad = make_app(CARD_KEY="not-a-key")
    with bad.app_context(), pytest.raises(RuntimeError, match="FLASK_CARD_KEY") as err:
        card_key.sealer()
    assert "not-a-key" not in str(err.value)   # the secret itself never goes to a log
    assert bad.test_client().post("/api/v1/cards/resolve", json={"payload": card["qr_payload"]},
                                  headers=world.headers("volunteer")).status_code == 200
