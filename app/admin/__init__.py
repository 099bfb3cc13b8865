"""Admin pages: the region tree, supermarkets, users, household tags and privacy."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from app.admin import backups, privacy, tags, views  # noqa: E402,F401
