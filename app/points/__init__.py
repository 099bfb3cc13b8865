"""Points pages: awarding, the rule catalogue, review, objections, reversals
and the household passbook as staff and cadres see it."""
from flask import Blueprint

bp = Blueprint("points", __name__)

from app.points import views  # noqa: E402,F401
