"""Objects as the API shows them."""
from app.models import Household, Region, Supermarket, User
from app.services.households import pending_points


def region(r: Region) -> dict:
    return {"id": r.id, "name": r.name, "level": r.level, "parent_id": r.parent_id}


def supermarket(s: Supermarket) -> dict:
    return {"id": s.id, "name": s.name, "region_id": s.region_id}


def user(u: User) -> dict:
    body = {"id": u.id, "username": u.username, "role": u.role}
    if u.region_id is not None:
        body["region_id"] = u.region_id
    if u.role == "volunteer":
        body["supermarket_ids"] = [s.id for s in u.supermarkets]
    if u.donor_id is not None:
        body["donor_id"] = u.donor_id
    return body


def household(h: Household) -> dict:
    return {
        "id": h.id, "code": h.code, "village_id": h.village_id, "village": h.village.name,
        "head_name": h.head_name, "members": h.members, "phone": h.phone,
        "address": h.address, "tags": list(h.tags or []), "status": h.status,
        "balance": h.balance, "pending": pending_points(h),
        "created_at": h.created_at.isoformat(),
    }
