"""The checkout counter: POST /checkouts (idempotent), void, read."""
from flask import g, request
from flask_babel import lazy_gettext as _l

from app.api import bp
from app.api.common import authenticated, json_body
from app.api.idempotency import idempotent
from app.database import late_write_lock
from app.extensions import db
from app.services.checkout import checkouts as service
from app.services.errors import ValidationError
from app.services.people import policy


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
@authenticated
@idempotent
def create_checkout():
    policy.require(g.user, "checkout.sell")
    checkout = service.check_out(g.user, json_body())
    # check_out leaves the checkout and its lines loaded: no need to read them back.
    return checkout_body(checkout), 201


@bp.get("/checkouts/<int:checkout_id>")
@authenticated
def get_checkout(checkout_id: int):
    return checkout_body(service.get_checkout(g.user, checkout_id))


@bp.get("/checkouts")
@authenticated
def list_checkouts():
    supermarket_id = request.args.get("supermarket_id")
    if not supermarket_id:
        raise ValidationError({"supermarket_id": [_l("This field is required.")]})
    items = service.checkouts_at(g.user, supermarket_id)
    return {"items": [checkout_body(c) for c in items]}


@bp.post("/checkouts/<int:checkout_id>/void")
@authenticated
@idempotent
def void_checkout(checkout_id: int):
    checkout = service.void_checkout(g.user, checkout_id, json_body())
    db.session.flush()
    db.session.refresh(checkout)
    return checkout_body(checkout), 200
