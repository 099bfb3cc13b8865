"""Pages without a login: a village's public notice (公示) and a household's own passbook."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import needs, views  # noqa: E402,F401
