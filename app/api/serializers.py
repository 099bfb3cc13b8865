"""Objects as the API shows them."""
from app.models import Household, Region, Supermarket, User
from app.services.people import policy
from app.services.people.households import pending_points


def region(r: Region) -> dict:
    return {"id": r.id, "name": r.name, "level": r.level, "parent_id": r.parent_id,
            "active": r.active}


def supermarket(s: Supermarket) -> dict:
    return {"id": s.id, "name": s.name, "region_id": s.region_id, "active": s.active}


def user(u: User) -> dict:
    body = {"id": u.id, "username": u.username, "role": u.role, "active": u.active}
    if u.display_name:
        body["display_name"] = u.display_name
    if u.must_change_password:
        body["must_change_password"] = True
    if u.region_id is not None:
        body["region_id"] = u.region_id
    if policy.reach(u) == "supermarkets":
        body["supermarket_ids"] = [s.id for s in u.supermarkets]
    if u.donor_id is not None:
        body["donor_id"] = u.donor_id
    return body


def household(h: Household, pending: int | None = None) -> dict:
    """A household; `pending` may be given when already known (see households())."""
    return {
        "id": h.id, "code": h.code, "village_id": h.village_id, "village": h.village.name,
        "head_name": h.head_name, "members": h.members, "phone": h.phone,
        "address": h.address, "tags": list(h.tags or []), "status": h.status,
        "balance": h.balance, "pending": pending_points(h) if pending is None else pending,
        "created_at": h.created_at.isoformat(),
    }


def households(items: list[Household]) -> list[dict]:
    """A page of households with their pending points summed in one query."""
    from app.services.points.passbook import pending_by_household

    pending = pending_by_household(h.id for h in items)
    return [household(h, pending.get(h.id, 0)) for h in items]


def rule(r) -> dict:
    return {
        "code": r.code, "category": r.category, "name": r.name, "points": r.points,
        "unit": r.unit, "cap_per_month": r.cap_per_month, "needs_evidence": r.needs_evidence,
        "active": r.active, "version": r.version, "id": r.id,
    }


def _iso(value):
    return value.isoformat() if value is not None else None


def entry(e, reversed_by: int | None = None) -> dict:
    """A ledger entry; `reversed_by` is the id of the reversal naming it, if any."""
    return {
        "id": e.id, "household_id": e.household_id, "kind": e.kind, "points": e.points,
        "status": e.status, "rule_code": e.rule_code, "rule_id": e.rule_id, "note": e.note,
        "occurred_on": e.occurred_on.isoformat(), "created_at": _iso(e.created_at),
        "created_by": e.created_by_id, "reversal_of": e.reversal_of, "reversed_by": reversed_by,
        "notice_ends_at": _iso(e.notice_ends_at), "posted_at": _iso(e.posted_at),
        "needs_approval": e.needs_approval, "approved_at": _iso(e.approved_at),
        "objection_reason": e.objection_reason, "objector": e.objector,
        "decision_reason": e.decision_reason, "withdrawn": bool(e.withdrawn),
        "evidence_id": e.evidence_id, "checkout_id": e.checkout_id,
    }
