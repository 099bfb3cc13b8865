"""Regions, supermarkets and users."""
from flask import g

from app.api import bp, serializers
from app.api.common import json_body
from app.api.schemas.places import (PasswordResetOut, RegionIn, RegionList, RegionOut,
                                    RegionPatch, SupermarketIn, SupermarketList, SupermarketOut,
                                    SupermarketPatch, UserIn, UserOut, UserPatch)
from app.api.spec import endpoint
from app.extensions import db
from app.services.people import accounts
from app.services.people import regions
from app.services.people import scope


@bp.get("/regions")
@endpoint("regions.read", tag="places", body=RegionList)
def list_regions():
    """The region tree the user can see."""
    items = db.session.scalars(scope.visible_regions(g.user)).all()
    return {"items": [serializers.region(r) for r in items]}


@bp.post("/regions")
@endpoint("regions.manage", tag="places", json=RegionIn, ok=201, body=RegionOut)
def create_region():
    """Add a region."""
    region = regions.create_region(g.user, json_body())
    return serializers.region(region), 201


@bp.patch("/regions/<int:region_id>")
@endpoint("regions.manage", tag="places", json=RegionPatch, body=RegionOut, problems={
    404: "not-found: no region has this id.",
    409: "conflict: retiring a region that (or one under it) holds active households, "
         "accounts or open supermarkets; reactivating one under a retired region."})
def update_region(region_id: int):
    """Rename, move, retire or reactivate a region; fields left out stay as they are."""
    return serializers.region(regions.update_region(g.user, region_id, json_body()))


@bp.get("/supermarkets")
@endpoint("supermarkets.read", tag="places", body=SupermarketList)
def list_supermarkets():
    """The supermarkets the user can see."""
    items = db.session.scalars(scope.visible_supermarkets(g.user)).all()
    return {"items": [serializers.supermarket(s) for s in items]}


@bp.post("/supermarkets")
@endpoint("supermarkets.manage", tag="places", json=SupermarketIn, ok=201, body=SupermarketOut)
def create_supermarket():
    """Add a supermarket: it serves the households under its region."""
    sm = regions.create_supermarket(g.user, json_body())
    return serializers.supermarket(sm), 201


@bp.patch("/supermarkets/<int:supermarket_id>")
@endpoint("supermarkets.manage", tag="places", json=SupermarketPatch, body=SupermarketOut,
          problems={404: "not-found: no supermarket has this id.",
                    409: "conflict: reactivating a supermarket whose region is retired."})
def update_supermarket(supermarket_id: int):
    """Rename a supermarket, change the region it serves, retire or reactivate it."""
    return serializers.supermarket(regions.update_supermarket(g.user, supermarket_id, json_body()))


@bp.post("/users")
@endpoint("users.manage", tag="places", json=UserIn, ok=201, body=UserOut)
def create_user():
    """Create an account."""
    user = accounts.create_user(g.user, json_body())
    return serializers.user(user), 201


@bp.patch("/users/<int:user_id>")
@endpoint("users.manage", tag="places", json=UserPatch, body=UserOut, problems=(404,))
def update_user(user_id: int):
    """Change an account's role, scope or name shown; deactivate (its tokens are
    revoked at once) or reactivate it."""
    return serializers.user(accounts.update_user(g.user, user_id, json_body()))


@bp.post("/users/<int:user_id>/password-reset")
@endpoint("users.manage", tag="places", body=PasswordResetOut, problems=(404,))
def reset_password(user_id: int):
    """A random temporary password, shown once: the user must choose a new one
    at the next login on the pages."""
    __, password = accounts.reset_password(g.user, user_id)
    return {"temporary_password": password}
