"""The checkout counter (兑换): the page volunteers use at the till, and the
session-authenticated JSON endpoints it talks to."""
from flask import Blueprint

bp = Blueprint("counter", __name__)

from app.counter import views  # noqa: E402,F401
