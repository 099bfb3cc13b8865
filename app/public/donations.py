"""Public pages of the donations, no login: a donation's trace read from the
QR code on its receipt (/trace/<code>), and a supermarket's donation board
(捐赠公示, /market/<id>/board), printable for the wall."""
from flask import current_app, render_template, request, url_for

from app.extensions import limiter
from app.public import bp
from app.services.goods import public_trace as service


def unknown_code(response) -> bool:
    return response.status_code == 404


def per_client():
    return current_app.config["PUBLIC_TRACE_FAILURES_PER_CLIENT"]


def trace_limit():
    """The page and the API share one counter per client. Only unknown codes count;
    past the limit every trace from that client waits, a known code too (otherwise
    the 429 would only hide the misses while a lucky guess still showed)."""
    return limiter.shared_limit(per_client, scope="public-trace", deduct_when=unknown_code)


def trace_url(public_code: str) -> str:
    """The public page's full address, as printed in the receipt's QR code: on
    PUBLIC_URL when set (a counter tablet may print from a village LAN address
    nobody outside can open), else the address the receipt is printed from."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for("public.trace", public_code=public_code)
    return url_for("public.trace", public_code=public_code, _external=True)


@bp.get("/trace/<public_code>")
@trace_limit()
def trace(public_code: str):
    return render_template("public/trace.html", t=service.public_trace(public_code))


@bp.get("/market/<int:supermarket_id>/board")
def board(supermarket_id: int):
    data = service.donation_board(supermarket_id, request.args.get("year"))
    views = current_app.view_functions
    return render_template("public/board.html", b=data, has_needs="public.needs" in views,
                           has_markets="public.markets" in views)
