"""The checkout counter (兑换) for volunteers at the till, on a tablet or a
phone: scan a card (camera, USB scanner or typed number), fill a cart,
confirm, print the receipt; today's checkouts with a void button.

The page talks to the JSON endpoints below (`/counter/api/...`). They are
session-authenticated (the login cookie, plus the CSRF token in the
X-CSRFToken header on POST) and call the same services as /api/v1, so the
till obeys the same rules. Refusals come back as problem+json with messages
in the user's language (app/errors.py: they are `json_view`s)."""
from datetime import date

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import list_exports
from app.exports import download, wanted
from app.list_exports import EXPORT_ROWS
from app.api.checkouts import checkout_body, pin_limits
from app.api.common import json_body
from app.api.idempotency import idempotent
from app.counter import bp
from app.boundary import attempt
from app.database import late_write_lock
from app.errors import json_view
from app.extensions import db
from app.services.checkout import checkouts as service
from app.services.checkout import cards
from app.services.checkout.cards import at_counter, format_number
from app.services.clock import local_today
from app.services.errors import DomainError, InsufficientStock, NotFound, ValidationError
from app.services.goods import levels
from app.services.goods.products import product_by_barcode
from app.services.people import policy
from app.services.people.scope import get_supermarket, supermarkets_named

SESSION_KEY = "counter_supermarket_id"


@bp.before_request
@login_required
def _signed_in():
    policy.require(current_user, "checkout.read")


@bp.context_processor
def _template_helpers():
    return {"local_day": local_today, "no_card_text": service.no_card_text}


# -- which supermarket ----------------------------------------------------------

def _chosen_market():
    """The supermarket asked for (?supermarket_id=, then remembered in the
    session), or the user's only one; None when the user has to pick."""
    if request.args.get("pick"):
        return None
    asked = request.args.get("supermarket_id", type=int)
    sm = None
    if asked is not None:
        sm = get_supermarket(current_user, asked)  # not theirs: 404
    elif session.get(SESSION_KEY) is not None:
        try:
            sm = get_supermarket(current_user, session[SESSION_KEY])
        except DomainError:
            session.pop(SESSION_KEY, None)
    if sm is None:
        markets = supermarkets_named(current_user, limit=2)
        if len(markets) == 1:
            sm = markets[0]
    if sm is not None:
        session[SESSION_KEY] = sm.id
    return sm


def _pick(next_endpoint: str):
    q = (request.args.get("q") or "").strip()[:100]
    markets = supermarkets_named(current_user, q)
    return render_template("counter/pick.html", markets=markets, q=q, next_endpoint=next_endpoint)


def _day() -> date:
    raw = request.args.get("day") or ""
    try:
        day = date.fromisoformat(raw) if raw else local_today()
    except ValueError:
        raise ValidationError({"day": [_("Use a date like 2026-03-01.")]}) from None
    return min(day, local_today())


# -- pages ------------------------------------------------------------------------

@bp.get("/")
def index():
    """The till."""
    if not policy.can(current_user, "checkout.sell"):
        return redirect(url_for(".checkouts"))
    sm = _chosen_market()
    if sm is None:
        return _pick(".index")
    if "supermarket_id" in request.args:
        return redirect(url_for(".index"))
    service.till(current_user, sm.id)
    tiles = levels.goods_in_stock(current_user, sm)
    today = local_today()
    return render_template(
        "counter/till.html", sm=sm, tiles=tiles, day=today,
        checkouts=service.checkouts_at(current_user, sm.id, day=today),
        several=len(supermarkets_named(current_user, limit=2)) > 1,
        products=[_product_body(p, n) for p, n in tiles],
        no_card_reasons=[(k, v) for k, v in service.NO_CARD_REASONS.items() if k != "pin"],
        no_card_labels={k: str(v) for k, v in service.NO_CARD_REASONS.items()})


@bp.get("/checkouts")
def checkouts():
    """The checkouts of one day at a supermarket, to reprint or void."""
    sm = _chosen_market()
    if sm is None:
        return _pick(".checkouts")
    day = _day()
    if "supermarket_id" in request.args:
        return redirect(url_for(".checkouts", day=day.isoformat()))
    if fmt := wanted(request.args):
        items = service.checkouts_at(current_user, sm.id, day=day, limit=EXPORT_ROWS)
        return download(f"checkouts-{day.isoformat()}", list_exports.checkouts(items), fmt)
    return render_template("counter/checkouts.html", sm=sm, day=day, today=local_today(),
                           checkouts=service.checkouts_at(current_user, sm.id, day=day, limit=500),
                           several=len(supermarkets_named(current_user, limit=2)) > 1)


@bp.get("/checkouts/<int:checkout_id>")
def receipt(checkout_id: int):
    """One checkout's receipt, to print (again) on the 58 mm printer."""
    c = service.get_checkout(current_user, checkout_id)
    return render_template("counter/receipt.html", c=c)


# -- JSON for the page ---------------------------------------------------------------

def _product_body(p, stock: int) -> dict:
    return {"id": p.id, "name": p.name, "unit": p.unit, "points_price": p.points_price,
            "barcode": p.barcode, "category": p.category, "stock": stock}


def _household_body(hh, card) -> dict:
    return {
        "household": {"id": hh.id, "head_name": hh.head_name, "code": hh.code,
                      "village": hh.village.name, "members": hh.members, "balance": hh.balance,
                      "status": hh.status},
        "card": {"number": format_number(card.number), "status": card.status} if card else None,
        "limit_left": service.monthly_limit_left(hh),
        "has_pin": hh.passbook_pin_hash is not None,
    }


@bp.post("/api/resolve")
@json_view
def api_resolve():
    """A scanned card payload ("81" + 39 digits) or a typed 10-digit number:
    the household, its balance and what is left of a monthly limit. A card
    that belongs to a household another supermarket serves is named by its
    township, so the volunteer can send the household to its own supermarket."""
    data = json_body()
    sm = service.till(current_user, data.get("supermarket_id"))
    try:
        hh, card = at_counter(current_user, sm, payload=data.get("payload"), number=data.get("number"))
    except NotFound:
        home = cards.card_home(current_user, sm, payload=data.get("payload"), number=data.get("number"))
        if home is None:
            raise
        where = "、".join(home["supermarkets"]) if home["supermarkets"] else None
        if where:
            message = _("This card belongs to a household of %(township)s, which this supermarket "
                        "does not serve. The household redeems its points at %(market)s.",
                        township=home["township"], market=where)
        else:
            message = _("This card belongs to a household of %(township)s, which this supermarket "
                        "does not serve. The household redeems its points at its own township's "
                        "supermarket.", township=home["township"])
        raise NotFound(message) from None
    return _household_body(hh, card)


def _search_item(hh) -> dict:
    return {"id": hh.id, "head_name": hh.head_name, "code": hh.code, "village": hh.village.name,
            "has_pin": hh.passbook_pin_hash is not None}


@bp.post("/api/households")
@json_view
def api_households():
    """A household that forgot its card: the households this supermarket serves
    whose name or code contains `q` (in the body: names stay out of logged URLs)."""
    data = json_body()
    sm = service.till(current_user, data.get("supermarket_id"))
    if data.get("code"):
        hh = cards.household_by_code(current_user, sm, data.get("code"))
        return {"items": [_search_item(hh)] if hh is not None and hh.status == "active" else []}
    return {"items": [_search_item(hh) for hh in cards.served_households(current_user, sm, data.get("q"))]}


@bp.post("/api/household")
@pin_limits
@json_view
def api_household():
    """The household picked from the search, to serve without its card: with
    `passbook_pin`, the PIN is checked first (wrong ones are counted, as at
    checkout)."""
    data = json_body()
    sm = service.till(current_user, data.get("supermarket_id"))
    hh, _card = at_counter(current_user, sm, household_id=data.get("household_id"))
    pin = data.get("passbook_pin")
    if pin not in (None, ""):
        if not isinstance(pin, str) or not pin.strip().isdigit() or len(pin.strip()) != service.PIN_DIGITS:
            raise ValidationError({"passbook_pin": [_("The PIN is 6 digits.")]})
        service.check_pin(hh, pin.strip())
    return _household_body(hh, None)


@bp.get("/api/product")
@json_view
def api_product():
    """A scanned barcode (any GTIN form): the product and its stock at this supermarket."""
    sm = service.till(current_user, request.args.get("supermarket_id", type=int))
    product = product_by_barcode(request.args.get("barcode", ""))
    return {"product": _product_body(product, levels.stock_for(sm, [product.id])[product.id])}


def _stock_body(sm, product_ids) -> dict[str, int]:
    """{product id: stock now} for the page's tiles (JSON keys are strings)."""
    ids = [p for p in product_ids if isinstance(p, int) and not isinstance(p, bool)]
    return {str(k): v for k, v in levels.stock_for(sm, ids).items()}


@bp.post("/api/checkouts")
@pin_limits
@late_write_lock
@json_view
@idempotent
def api_checkout():
    """Confirm the cart: `check_out`, once per Idempotency-Key (one key per cart)."""
    data = json_body()
    with attempt(InsufficientStock) as refused:
        c = service.check_out(current_user, data)
    if refused:
        # Tell the page how many there are now, so it can fix its tiles and cart.
        lines = data.get("lines") if isinstance(data.get("lines"), list) else []
        sm = service.till(current_user, data.get("supermarket_id"))
        refused.error.extra = {"stock": _stock_body(sm, [line.get("product_id") for line in lines
                                                         if isinstance(line, dict)])}
        raise refused.error
    db.session.flush()
    body = checkout_body(c)
    body["limit_left"] = service.monthly_limit_left(c.household)
    body["stock"] = _stock_body(c.supermarket, [line.product_id for line in c.lines])
    body["receipt_html"] = render_template("counter/_receipt.html", c=c)
    return body, 201


@bp.post("/api/checkouts/<int:checkout_id>/void")
@json_view
@idempotent
def api_void(checkout_id: int):
    """Void a checkout (reason required): points and goods come back through new entries."""
    c = service.void_checkout(current_user, checkout_id, json_body())
    db.session.flush()
    db.session.refresh(c)
    body = checkout_body(c)
    body["balance"] = c.household.balance
    body["stock"] = _stock_body(c.supermarket, [line.product_id for line in c.lines])
    return body


@bp.get("/api/checkouts")
@json_view
def api_checkouts():
    """Today's checkouts at a supermarket, as the list's HTML (after a confirm or a void)."""
    sm = get_supermarket(current_user, request.args.get("supermarket_id", type=int))
    day = _day()
    items = service.checkouts_at(current_user, sm.id, day=day, limit=500)
    return {"count": len(items),
            "html": render_template("counter/_checkouts.html", checkouts=items, day=day,
                                    today=local_today())}
