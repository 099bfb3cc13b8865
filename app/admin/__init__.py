"""Admin pages: the region tree, supermarkets and users."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from app.admin import backups, tags, views  # noqa: E402,F401
