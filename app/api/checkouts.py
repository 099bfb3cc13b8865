"""The checkout counter: POST /checkouts (idempotent), void, read."""
import hashlib

from flask import current_app, g, request
from flask_login import current_user

from app.api import bp
from app.api.common import json_body
from app.api.schemas.checkouts import (CheckoutIn, CheckoutList, CheckoutOut, CheckoutsQuery,
                                       VoidIn)
from app.api.spec import PROBLEMS, endpoint
from app.database import late_write_lock
from app.extensions import db, limiter
from app.services.checkout import checkouts as service
from app.services.errors import DomainError


# -- the passbook PIN typed at the counter: wrong ones are counted -------------------

def _pin_household() -> str:
    """The household whose PIN a request tries (one counter per household, the
    counter page and the API alike); requests without a PIN share a key no
    failure ever counts against."""
    try:
        data = json_body()
    except DomainError:  # the view answers it
        data = {}
    if not isinstance(data, dict) or data.get("passbook_pin") in (None, ""):
        return "no-pin"
    return "pin-household:" + str(data.get("household_id"))[:20]


def _pin_user() -> str:
    if not _pin_household().startswith("pin-"):
        return "no-pin"
    auth = request.headers.get("Authorization", "")
    if auth:  # the API: the token (the user is looked up later, in the view)
        return "pin-token:" + hashlib.sha256(auth.encode()).hexdigest()[:32]
    return "pin-user:" + str(getattr(current_user, "id", ""))


def wrong_pin(response) -> bool:
    if response.status_code != 422 or not response.is_json:
        return False
    body = response.get_json(silent=True) or {}
    return "passbook_pin" in (body.get("errors") or {})


def _no_pin() -> bool:
    return _pin_household() == "no-pin"


def pin_limits(view):
    """Wrong passbook PINs: five per household and twenty per user in 15 minutes. A checkout
    without a PIN is not looked up in the limiter's storage at all (two round trips to Redis
    spared, and a counter keeps selling by card while Redis is away)."""
    view = limiter.shared_limit(lambda: current_app.config["COUNTER_PIN_FAILURES_PER_USER"],
                                scope="counter-pin-user", key_func=_pin_user, exempt_when=_no_pin,
                                deduct_when=wrong_pin, methods=["POST"])(view)
    return limiter.shared_limit(lambda: current_app.config["COUNTER_PIN_FAILURES_PER_HOUSEHOLD"],
                                scope="counter-pin-household", key_func=_pin_household,
                                exempt_when=_no_pin, deduct_when=wrong_pin, methods=["POST"])(view)


def checkout_body(c) -> dict:
    return {
        "id": c.id, "household_id": c.household_id, "supermarket_id": c.supermarket_id,
        "total_points": c.total_points, "balance_after": c.balance_after,
        "card_used": c.card_used, "no_card_reason": c.no_card_reason,
        "created_at": c.created_at.isoformat(),
        "voided_at": c.voided_at.isoformat() if c.voided_at else None,
        "lines": [{"product_id": line.product_id, "name": line.product.name,
                   "quantity": line.quantity, "unit_points": line.unit_points,
                   "points": line.points} for line in c.lines],
    }


@bp.post("/checkouts")
@pin_limits
@late_write_lock
@endpoint("checkout.sell", tag="checkout", json=CheckoutIn, ok=201, body=CheckoutOut,
          idempotent=True, problems={
              404: "not-found: the supermarket is not one where the user sells, the card or "
                   "household is unknown, or the supermarket does not serve the household.",
              409: "insufficient-stock (the first short product); insufficient-points.",
              410: "card-revoked: the card was replaced by a newer one.",
              422: "household-inactive: the household has exited; limit-exceeded: past the "
                   "household's monthly limit (CHECKOUT_MONTHLY_LIMIT); validation-error with "
                   "`errors.passbook_pin`: a wrong passbook PIN.",
              429: "rate-limited: too many wrong passbook PINs for the household or by the user."})
def create_checkout():
    """Redeem a cart: points and stock in one act, or nothing.

    Refusals, when several apply, in this order: 401, 403, 422 validation-error,
    404, 410 card-revoked, 422 household-inactive, 409 insufficient-stock,
    422 limit-exceeded, 409 insufficient-points."""
    checkout = service.check_out(g.user, json_body())
    # check_out leaves the checkout and its lines loaded: no need to read them back.
    return checkout_body(checkout), 201


@bp.get("/checkouts/<int:checkout_id>")
@endpoint("checkout.read", tag="checkout", body=CheckoutOut, problems=(404,))
def get_checkout(checkout_id: int):
    """One checkout."""
    return checkout_body(service.get_checkout(g.user, checkout_id))


@bp.get("/checkouts")
@endpoint("checkout.read", tag="checkout", query=CheckoutsQuery, body=CheckoutList,
          problems=(404,))
def list_checkouts():
    """The latest checkouts at a supermarket, newest first."""
    items = service.checkouts_at(g.user, request.args.get("supermarket_id"))
    return {"items": [checkout_body(c) for c in items]}


@bp.post("/checkouts/<int:checkout_id>/void")
@endpoint("checkout.void", tag="checkout", json=VoidIn, body=CheckoutOut, idempotent=True,
          problems={403: "forbidden: only a cadre voids a checkout of an earlier day.",
                    404: PROBLEMS[404], 409: "conflict: the checkout is already voided."})
def void_checkout(checkout_id: int):
    """Void a checkout: points and each unit come back, through new entries."""
    checkout = service.void_checkout(g.user, checkout_id, json_body())
    db.session.flush()
    db.session.refresh(checkout)
    return checkout_body(checkout), 200
