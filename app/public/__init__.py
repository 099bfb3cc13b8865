"""Pages without a login: a village's public notice (公示), a household's own
passbook, and the donations' public trace and board."""
from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import donations, needs, views  # noqa: E402,F401
