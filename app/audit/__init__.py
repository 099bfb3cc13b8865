"""The audit trail pages (全程留痕): read-only, for cadres and admins."""
from flask import Blueprint

bp = Blueprint("audit", __name__)

from app.audit import views  # noqa: E402,F401
