"""Needs and pledges (认捐): the goods a supermarket is short of (no login),
donors' pledges, and cancelling one."""
from flask import g, request

from app.api import bp
from app.api.common import json_body, paginated, pagination
from app.api.schemas import pledges as schemas
from app.api.spec import PROBLEMS, endpoint
from app.services.goods import pledges


def pledge_body(p) -> dict:
    def iso(v):
        return v.isoformat() if v is not None else None

    return {"id": p.id, "status": p.status, "supermarket_id": p.supermarket_id,
            "supermarket": p.supermarket.name, "donor_id": p.donor_id, "donor": p.donor.name,
            "note": p.note, "created_at": iso(p.created_at), "fulfilled_at": iso(p.fulfilled_at),
            "cancelled_at": iso(p.cancelled_at),
            "lines": [{"product_id": line.product_id, "name": line.product.name,
                       "unit": line.product.unit, "quantity": line.quantity,
                       "received": line.received} for line in p.lines]}


@bp.get("/supermarkets/<int:supermarket_id>/needs")
@endpoint(None, tag="goods", public=True, body=schemas.NeedsOut, problems={
    404: "not-found: no such supermarket, or it is retired."})
def supermarket_needs(supermarket_id: int):
    """No login: goods the supermarket is short of (out, or at or below the
    low-stock threshold), most redeemed in the last 90 days first."""
    sm, items = pledges.needs(supermarket_id)
    return {"supermarket": {"id": sm.id, "name": sm.name}, "items": items}


@bp.post("/pledges")
@endpoint("pledges.make", tag="goods", json=schemas.PledgeIn, ok=201, body=schemas.PledgeOut,
          idempotent=True, problems={404: "not-found: no such supermarket, or it is retired."})
def create_pledge():
    """A donor pledges goods to a supermarket; their donations there fill it."""
    return pledge_body(pledges.create_pledge(g.user, json_body())), 201


@bp.get("/pledges")
@endpoint("pledges.read", tag="goods", query=schemas.PledgeQuery, body=schemas.PledgePage)
def list_pledges():
    """A donor's own pledges; the pledges at the supermarkets a volunteer or cadre sees."""
    page, per_page = pagination()
    items, total = pledges.search_pledges(
        g.user, supermarket_id=request.args.get("supermarket_id"),
        status=request.args.get("status"), page=page, per_page=per_page)
    return paginated([pledge_body(p) for p in items], page, per_page, total)


@bp.post("/pledges/<int:pledge_id>/cancel")
@endpoint("pledges.make", tag="goods", body=schemas.PledgeOut, idempotent=True, problems={
    404: PROBLEMS[404], 409: "conflict: the pledge is already fulfilled or cancelled."})
def cancel_pledge(pledge_id: int):
    """The donor cancels an open or partial pledge."""
    return pledge_body(pledges.cancel_pledge(g.user, pledge_id))
