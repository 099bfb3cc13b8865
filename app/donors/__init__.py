"""The donor portal: a donor's home (all their giving summed), each donation's
trace, and the thank-you card to share. Volunteers and cadres open the same
donation pages for the donations in their scope."""
from flask import Blueprint

bp = Blueprint("donors", __name__)

from app.donors import views  # noqa: E402,F401
