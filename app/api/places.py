"""Regions, supermarkets and users."""
from flask import g

from app.api import bp, serializers
from app.api.common import json_body
from app.api.schemas.places import (RegionIn, RegionList, RegionOut, SupermarketIn,
                                    SupermarketList, SupermarketOut, UserIn, UserOut)
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


@bp.post("/users")
@endpoint("users.manage", tag="places", json=UserIn, ok=201, body=UserOut)
def create_user():
    """Create an account."""
    user = accounts.create_user(g.user, json_body())
    return serializers.user(user), 201
