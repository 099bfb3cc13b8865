"""Regions, supermarkets and users."""
from flask import g

from app.api import bp, serializers
from app.api.common import authenticated, json_body
from app.extensions import db
from app.services.people import accounts
from app.services.people import regions
from app.services.people import policy, scope


@bp.get("/regions")
@authenticated
def list_regions():
    items = db.session.scalars(scope.visible_regions(g.user)).all()
    return {"items": [serializers.region(r) for r in items]}


@bp.post("/regions")
@authenticated
def create_region():
    policy.require(g.user, "regions.manage")
    region = regions.create_region(g.user, json_body())
    return serializers.region(region), 201


@bp.get("/supermarkets")
@authenticated
def list_supermarkets():
    items = db.session.scalars(scope.visible_supermarkets(g.user)).all()
    return {"items": [serializers.supermarket(s) for s in items]}


@bp.post("/supermarkets")
@authenticated
def create_supermarket():
    policy.require(g.user, "supermarkets.manage")
    sm = regions.create_supermarket(g.user, json_body())
    return serializers.supermarket(sm), 201


@bp.post("/users")
@authenticated
def create_user():
    policy.require(g.user, "users.manage")
    user = accounts.create_user(g.user, json_body())
    return serializers.user(user), 201
