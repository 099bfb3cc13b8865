"""The household register pages (staff keep it, cadres read it)."""
from flask import Blueprint

bp = Blueprint("households", __name__)

from app.households import imports, views  # noqa: E402,F401
