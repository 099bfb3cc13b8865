"""The JSON API, /api/v1, on the same services as the pages."""
from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import (  # noqa: E402,F401
    auth, cards, checkouts, goods, households, openapi, places, pledges, points, public,
    reports)
