"""The checkout counter (兑换) for volunteers at the till, on a tablet or a
phone: scan a card (camera, USB scanner or typed number), fill a cart,
confirm, print the receipt; today's checkouts with a void button.

The page talks to the JSON endpoints below (`/counter/api/...`). They are
session-authenticated (the login cookie, plus the CSRF token in the
X-CSRFToken header on POST) and call the same services as /api/v1, so the
till obeys the same rules. Refusals come back as problem+json with messages
in the user's language."""
from datetime import date

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.api.checkouts import checkout_body
from app.api.common import json_body
from app.api.idempotency import idempotent
from app.counter import bp, lookup
from app.errors import SLUGS, http_titles, problem
from app.database import late_write_lock
from app.extensions import db
from app.services.checkout import checkouts as service
from app.services.checkout.cards import format_number
from app.services.errors import DomainError, Forbidden, InsufficientStock, ValidationError
from app.services.points.awards import local_today
from app.services.people.scope import get_supermarket

# Who may use the till, and who may see the checkouts and void them.
SELLERS = service.SELLERS
VIEWERS = ("volunteer", "admin", "cadre")
SESSION_KEY = "counter_supermarket_id"


def _json_endpoint() -> bool:
    return (request.endpoint or "").startswith("counter.api_")


@bp.before_request
def _signed_in():
    if not current_user.is_authenticated:
        if _json_endpoint():
            return problem(401, "unauthorized", http_titles()[401])
        return current_app.login_manager.unauthorized()
    if current_user.role not in VIEWERS:
        raise Forbidden()
    # app/api/idempotency.py keys its answers by g.user, as for bearer users.
    g.user = current_user._get_current_object()


# -- errors: problem+json for the page's fetches, error pages otherwise ------------

@bp.errorhandler(DomainError)
def _domain_error(err: DomainError):
    db.session.rollback()
    if _json_endpoint():
        return problem(err.status, err.slug, err.title, err.detail, err.errors,
                       **getattr(err, "extra", {}))
    return render_template("error.html", status=err.status, message=str(err.detail)), err.status


@bp.errorhandler(CSRFError)
def _csrf_error(err):
    db.session.rollback()
    message = _("The form has expired or was not sent from this site. Please reload the page and try again.")
    if _json_endpoint():
        return problem(400, "csrf-failed", message)
    return render_template("error.html", status=400, message=message), 400


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    db.session.rollback()
    status = err.code or 500
    title = http_titles().get(status, err.name)
    if _json_endpoint():
        return problem(status, SLUGS.get(status, "error"), title)
    return render_template("error.html", status=status, message=title), status


@bp.context_processor
def _template_helpers():
    return {"can_void": _can_void, "local_day": local_today}


def _can_void(c) -> bool:
    """Show the void button: a volunteer on the day itself, a cadre or admin any day."""
    if c.voided_at is not None:
        return False
    return current_user.role in ("admin", "cadre") or local_today(c.created_at) == local_today()


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
        markets = lookup.supermarkets_for(current_user, limit=2)
        if len(markets) == 1:
            sm = markets[0]
    if sm is not None:
        session[SESSION_KEY] = sm.id
    return sm


def _pick(next_endpoint: str):
    q = (request.args.get("q") or "").strip()[:100]
    markets = lookup.supermarkets_for(current_user, q)
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
    if current_user.role not in SELLERS:
        return redirect(url_for(".checkouts"))
    sm = _chosen_market()
    if sm is None:
        return _pick(".index")
    if "supermarket_id" in request.args:
        return redirect(url_for(".index"))
    lookup.till(current_user, sm.id)
    tiles = lookup.goods_in_stock(current_user, sm)
    today = local_today()
    return render_template(
        "counter/till.html", sm=sm, tiles=tiles, day=today,
        checkouts=service.checkouts_at(current_user, sm.id, day=today),
        several=len(lookup.supermarkets_for(current_user, limit=2)) > 1,
        products=[_product_body(p, n) for p, n in tiles])


@bp.get("/checkouts")
def checkouts():
    """The checkouts of one day at a supermarket, to reprint or void."""
    sm = _chosen_market()
    if sm is None:
        return _pick(".checkouts")
    day = _day()
    if "supermarket_id" in request.args:
        return redirect(url_for(".checkouts", day=day.isoformat()))
    return render_template("counter/checkouts.html", sm=sm, day=day, today=local_today(),
                           checkouts=service.checkouts_at(current_user, sm.id, day=day, limit=500),
                           several=len(lookup.supermarkets_for(current_user, limit=2)) > 1)


@bp.get("/checkouts/<int:checkout_id>")
def receipt(checkout_id: int):
    """One checkout's receipt, to print (again) on the 58 mm printer."""
    c = service.get_checkout(current_user, checkout_id)
    return render_template("counter/receipt.html", c=c)


# -- JSON for the page ---------------------------------------------------------------

def _product_body(p, stock: int) -> dict:
    return {"id": p.id, "name": p.name, "unit": p.unit, "points_price": p.points_price,
            "barcode": p.barcode, "category": p.category, "stock": stock}


def _household_body(card) -> dict:
    hh = card.household
    return {
        "household": {"id": hh.id, "head_name": hh.head_name, "code": hh.code,
                      "village": hh.village.name, "members": hh.members, "balance": hh.balance,
                      "status": hh.status},
        "card": {"number": format_number(card.number), "status": card.status},
        "limit_left": service.monthly_limit_left(hh),
    }


@bp.post("/api/resolve")
def api_resolve():
    """A scanned card payload ("81" + 39 digits) or a typed 10-digit number:
    the household, its balance and what is left of a monthly limit."""
    data = json_body()
    sm = lookup.till(current_user, data.get("supermarket_id"))
    card = lookup.card_at_counter(current_user, sm, payload=data.get("payload"),
                                  number=data.get("number"))
    return _household_body(card)


@bp.get("/api/product")
def api_product():
    """A scanned EAN-13: the product and its stock at this supermarket."""
    sm = lookup.till(current_user, request.args.get("supermarket_id", type=int))
    product = lookup.product_by_barcode(request.args.get("barcode", ""))
    return {"product": _product_body(product, lookup.stock_for(sm, [product.id])[product.id])}


def _stock_body(sm, product_ids) -> dict[str, int]:
    """{product id: stock now} for the page's tiles (JSON keys are strings)."""
    ids = [p for p in product_ids if isinstance(p, int) and not isinstance(p, bool)]
    return {str(k): v for k, v in lookup.stock_for(sm, ids).items()}


@bp.post("/api/checkouts")
@late_write_lock
@idempotent
def api_checkout():
    """Confirm the cart: `check_out`, once per Idempotency-Key (one key per cart)."""
    data = json_body()
    try:
        c = service.check_out(current_user, data)
    except InsufficientStock as err:
        # Tell the page how many there are now, so it can fix its tiles and cart.
        db.session.rollback()
        lines = data.get("lines") if isinstance(data.get("lines"), list) else []
        sm = lookup.till(current_user, data.get("supermarket_id"))
        err.extra = {"stock": _stock_body(sm, [line.get("product_id") for line in lines
                                               if isinstance(line, dict)])}
        raise
    db.session.flush()
    body = checkout_body(c)
    body["limit_left"] = service.monthly_limit_left(c.household)
    body["stock"] = _stock_body(c.supermarket, [line.product_id for line in c.lines])
    body["receipt_html"] = render_template("counter/_receipt.html", c=c)
    return body, 201


@bp.post("/api/checkouts/<int:checkout_id>/void")
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
def api_checkouts():
    """Today's checkouts at a supermarket, as the list's HTML (after a confirm or a void)."""
    sm = get_supermarket(current_user, request.args.get("supermarket_id", type=int))
    day = _day()
    items = service.checkouts_at(current_user, sm.id, day=day, limit=500)
    return {"count": len(items),
            "html": render_template("counter/_checkouts.html", checkouts=items, day=day,
                                    today=local_today())}
