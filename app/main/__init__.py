"""Home pages, the health check and the language switch."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from app.main import glossary, views  # noqa: E402,F401
