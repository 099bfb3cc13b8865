"""The checkout counter: POST /checkouts (idempotent), void, read."""
from flask import g, request

from app.api import bp
from app.api.common import json_body
from app.api.schemas.checkouts import (CheckoutIn, CheckoutList, CheckoutOut, CheckoutsQuery,
                                       VoidIn)
from app.api.spec import PROBLEMS, endpoint
from app.database import late_write_lock
from app.extensions import db
from app.services.checkout import checkouts as service


def checkout_body(c) -> dict:
    return {
        "id": c.id, "household_id": c.household_id, "supermarket_id": c.supermarket_id,
        "total_points": c.total_points, "balance_after": c.balance_after,
        "created_at": c.created_at.isoformat(),
        "voided_at": c.voided_at.isoformat() if c.voided_at else None,
        "lines": [{"product_id": line.product_id, "name": line.product.name,
                   "quantity": line.quantity, "unit_points": line.unit_points,
                   "points": line.points} for line in c.lines],
    }


@bp.post("/checkouts")
@late_write_lock
@endpoint("checkout.sell", tag="checkout", json=CheckoutIn, ok=201, body=CheckoutOut,
          idempotent=True, problems={
              404: "not-found: the supermarket is not one where the user sells, the card or "
                   "household is unknown, or the supermarket does not serve the household.",
              409: "insufficient-stock (the first short product); insufficient-points.",
              410: "card-revoked: the card was replaced by a newer one.",
              422: "household-inactive: the household has exited; limit-exceeded: past the "
                   "household's monthly limit (CHECKOUT_MONTHLY_LIMIT)."})
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
