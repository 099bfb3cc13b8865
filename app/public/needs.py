"""Public pages of the needs loop, no login: the supermarkets, and each one's
list of goods that are out or running low (/market/<id>/needs), with what
donors have already pledged; a logged-in donor pledges from it."""
from flask import current_app, render_template
from flask_login import current_user

from app.public import bp
from app.services.goods import pledges as service
from app.services.people import policy


@bp.get("/markets")
def markets():
    """Every open supermarket, each linking to its needs (and its donation board)."""
    return render_template("public/markets.html", markets=service.public_supermarkets(),
                           has_board="public.board" in current_app.view_functions)


@bp.get("/market/<int:supermarket_id>/needs")
def needs(supermarket_id: int):
    sm, items = service.needs(supermarket_id)
    return render_template("public/needs.html", sm=sm, items=items,
                           pledges=service.public_pledges(sm),
                           can_pledge=policy.can(current_user, "pledges.make"),
                           has_board="public.board" in current_app.view_functions)
