"""The cadres' pages: the dashboard (their home), engagement, villages,
trends, households that need a visit, fairness checks."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from app.reports import views  # noqa: E402,F401
