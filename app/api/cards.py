"""Member cards: issue, print, resolve a scan."""
from flask import Response, g, request

from app.api import bp
from app.api.common import authenticated, json_body
from app.services.checkout import cards as service
from app.services.checkout.card_images import card_png, cards_sheet_pdf
from app.services.errors import NotFound
from app.services.people import policy
from app.services.people.scope import get_household


def card_body(card) -> dict:
    return {"number": card.number, "token": card.token, "qr_payload": service.qr_payload(card),
            "issued_at": card.issued_at.isoformat(), "household_id": card.household_id,
            "status": card.status}


@bp.post("/households/<int:household_id>/cards")
@authenticated
def issue_card(household_id: int):
    policy.require(g.user, "cards.issue")
    card = service.issue_card(g.user, household_id)
    return card_body(card), 201


@bp.get("/households/<int:household_id>/card.png")
@authenticated
def card_image(household_id: int):
    household = get_household(g.user, household_id)
    card = service.current_card(household)
    if card is None:
        raise NotFound()
    return Response(card_png(card), mimetype="image/png",
                    headers={"Cache-Control": "no-store"})


@bp.get("/cards/sheet.pdf")
@authenticated
def card_sheet():
    village, cards = service.village_cards(g.user, request.args.get("village_id"))
    pdf = cards_sheet_pdf(cards, village.name)
    return Response(pdf, mimetype="application/pdf", headers={
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="cards-{village.id}.pdf"'})


def resolved_body(card) -> dict:
    hh = card.household
    return {"household": {"id": hh.id, "head_name": hh.head_name, "village": hh.village.name,
                          "village_id": hh.village_id, "code": hh.code, "balance": hh.balance,
                          "status": hh.status},
            "card": {"number": card.number, "status": card.status}}


@bp.get("/cards/resolve")
@authenticated
def resolve_get():
    card = service.resolve_card(g.user, payload=request.args.get("payload"),
                                number=request.args.get("number"))
    return resolved_body(card)


@bp.post("/cards/resolve")
@authenticated
def resolve_post():
    data = json_body()
    card = service.resolve_card(g.user, payload=data.get("payload"), number=data.get("number"))
    return resolved_body(card)
