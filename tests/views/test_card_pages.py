"""Card pages: issue from the household page, see and download the card, print a village sheet."""
from sqlalchemy import select

from app.extensions import db
from app.models import Card
from tests.factories import login


def test_staff_issue_card_from_household_page(client, world):
    """Staff issue a card on the household page and then see its number and image there."""
    hh = world.households["v1a"]
    login(client, "staff")
    r = client.post(f"/households/{hh.id}/card", follow_redirects=True)
    assert r.status_code == 200
    card = db.session.scalars(select(Card).where(Card.household_id == hh.id)).one()
    page = r.get_data(as_text=True)
    assert f"{card.number[:4]} {card.number[4:8]} {card.number[8:]}" in page
    img = client.get(f"/households/{hh.id}/card.png")
    assert img.status_code == 200 and img.mimetype == "image/png"
    again = client.post(f"/households/{hh.id}/card", follow_redirects=True)
    assert again.status_code == 200
    statuses = db.session.scalars(select(Card.status).where(Card.household_id == hh.id).order_by(Card.id)).all()
    assert statuses == ["revoked", "active"]


def test_cadre_cannot_issue_and_staff_out_of_scope_404(client, world):
    """Cadres read but do not issue cards; staff of another village get 404 and nothing is written."""
    hh = world.households["v1a"]
    login(client, "cadre")
    assert client.post(f"/households/{hh.id}/card").status_code == 403
    client.post("/logout")
    login(client, "staff_west")
    assert client.post(f"/households/{hh.id}/card").status_code == 404
    assert client.get(f"/households/{hh.id}/card.png").status_code == 404
    assert db.session.scalars(select(Card)).all() == []


def test_village_sheet_pdf_from_list(client, world):
    """The household list of one village links to the printable card sheet."""
    login(client, "staff")
    client.post(f"/households/{world.households['v1a'].id}/card")
    page = client.get(f"/households/?village_id={world.v1.id}").get_data(as_text=True)
    assert f"/households/cards.pdf?village_id={world.v1.id}" in page
    r = client.get(f"/households/cards.pdf?village_id={world.v1.id}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert client.get(f"/households/cards.pdf?village_id={world.v3.id}").status_code == 404


def zh(message, **values) -> str:
    from flask_babel import force_locale, gettext
    with force_locale("zh_CN"):
        return gettext(message, **values)


def test_village_card_page_issues_every_missing_card_then_prints_them(client, world):
    """The village's card page: issue cards for every household without one, then the sheet prints them all."""
    login(client, "staff")
    listing = client.get(f"/households/?village_id={world.v1.id}").get_data(as_text=True)
    assert f"/households/cards?village_id={world.v1.id}" in listing
    page = client.get(f"/households/cards?village_id={world.v1.id}").get_data(as_text=True)
    assert 'id="cards-without">2<' in page and 'id="reissue-all"' not in page
    r = client.post("/households/cards", data={"village_id": world.v1.id}, follow_redirects=True)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert zh("%(n)d cards issued. Print the sheet below.", n=2) in page
    assert 'id="cards-with">2<' in page and 'id="cards-without">0<' in page
    assert 'id="reissue-all"' in page and "data-confirm=" in page.split('id="reissue-all"')[1].split(">")[0]
    statuses = db.session.scalars(select(Card.status)).all()
    assert statuses == ["active", "active"]
    again = client.post("/households/cards", data={"village_id": world.v1.id}, follow_redirects=True)
    assert zh("Every household of this village already has a card: none issued.") in again.get_data(as_text=True)
    assert len(db.session.scalars(select(Card)).all()) == 2
    r = client.post("/households/cards", data={"village_id": world.v1.id, "reissue": "all"},
                    follow_redirects=True)
    assert r.status_code == 200
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Card.status)).all()) == ["active", "active", "revoked", "revoked"]
    pdf = client.get(f"/households/cards.pdf?village_id={world.v1.id}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_village_card_page_roles_and_scope(client, world):
    """A cadre sees the page without the buttons and cannot issue; staff of another village get 404;
    a POST without the CSRF token writes nothing."""
    login(client, "cadre")
    page = client.get(f"/households/cards?village_id={world.v1.id}").get_data(as_text=True)
    assert 'id="issue-missing"' not in page
    assert client.post("/households/cards", data={"village_id": world.v1.id}).status_code == 403
    client.post("/logout")
    login(client, "staff_west")
    assert client.get(f"/households/cards?village_id={world.v1.id}").status_code == 404
    assert client.post("/households/cards", data={"village_id": world.v1.id}).status_code == 404
    assert db.session.scalars(select(Card)).all() == []
