"""Member cards: issue, print, resolve a scan."""
from flask import Response, g, request

from app.api import bp
from app.api.common import json_body
from app.api.schemas.cards import (CardOut, ResolvedOut, ResolveIn, ResolveQuery, SheetQuery,
                                   VillageCardsOut, VillageCardsQuery)
from app.api.spec import PROBLEMS, endpoint
from app.services.checkout import cards as service
from app.services.checkout.card_images import card_png, cards_sheet_pdf
from app.services.errors import NotFound
from app.services.people.scope import get_household

RESOLVE_PROBLEMS = {404: "not-found: no card with this code, or its household is outside the "
                         "user's reach.",
                    410: "card-revoked: the card was replaced by a newer one."}


KEY_MISSING = ("card-key-missing: this server has no card key that opens the card's sealed "
               "token (a database restored without its key), so it cannot be printed again; it "
               "still scans. Issue the household a new card.")


def card_body(card) -> dict:
    token = service.card_token(card)
    return {"number": card.number, "token": token, "qr_payload": service.PAYLOAD_PREFIX + token,
            "issued_at": card.issued_at.isoformat(), "household_id": card.household_id,
            "status": card.status}


@bp.post("/households/<int:household_id>/cards")
@endpoint("cards.issue", tag="cards", ok=201, body=CardOut, problems={
    404: PROBLEMS[404], 422: "validation-error: the household has exited the programme."},
    refused_when={"household_id": "the household has exited the programme"})
def issue_card(household_id: int):
    """Issue a card; any earlier card of the household is revoked at once."""
    card = service.issue_card(g.user, household_id)
    return card_body(card), 201


@bp.post("/villages/<int:village_id>/cards")
@endpoint("cards.issue", tag="cards", query=VillageCardsQuery, ok=201, body=VillageCardsOut,
          problems=(404,))
def issue_village_cards(village_id: int):
    """Cards for a whole village in one go: one for every active household without a
    current card (run again, none); `?reissue=all` replaces every current card."""
    result = service.issue_village_cards(g.user, village_id,
                                         reissue=request.args.get("reissue") == "all")
    return result, 201


@bp.get("/households/<int:household_id>/card.png")
@endpoint("cards.print", tag="cards", media="image/png",
          problems={404: PROBLEMS[404], 409: KEY_MISSING})
def card_image(household_id: int):
    """The printable card: QR code, the head's name, village, card number."""
    household = get_household(g.user, household_id)
    card = service.current_card(household)
    if card is None:
        raise NotFound()
    return Response(card_png(card), mimetype="image/png",
                    headers={"Cache-Control": "no-store"})


@bp.get("/cards/sheet.pdf")
@endpoint("cards.print", tag="cards", query=SheetQuery, media="application/pdf",
          problems=(404,))
def card_sheet():
    """An A4 PDF of a village's current cards, ten to a page, ready to cut. A card
    this server cannot print again (no card key) is drawn without its QR code,
    marked as needing a new card."""
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
@endpoint("cards.resolve", tag="cards", query=ResolveQuery, body=ResolvedOut,
          problems=RESOLVE_PROBLEMS)
def resolve_get():
    """What a scan gives the counter."""
    card = service.resolve_card(g.user, payload=request.args.get("payload"),
                                number=request.args.get("number"))
    return resolved_body(card)


@bp.post("/cards/resolve")
@endpoint("cards.resolve", tag="cards", json=ResolveIn, body=ResolvedOut,
          problems=RESOLVE_PROBLEMS)
def resolve_post():
    """The same, without the payload in the URL."""
    data = json_body()
    card = service.resolve_card(g.user, payload=data.get("payload"), number=data.get("number"))
    return resolved_body(card)
