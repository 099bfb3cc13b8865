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
