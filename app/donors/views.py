"""Donor portal pages: the home's sums and list, a donation's trace page,
and the thank-you card (PNG, A4 PDF)."""
from flask import Response, render_template
from flask_login import current_user, login_required

from app.donors import bp
from app.services.errors import NotFound
from app.services.goods import donations as service
from app.services.goods import thanks
from app.services.people import policy


@bp.before_request
@login_required
def _donor_pages():
    policy.require(current_user, "donations.read")


def _bars(months: list[dict]) -> list[dict]:
    """The timeline by month as CSS bars: each month's share of the busiest."""
    top = max((m["redeemed"] for m in months), default=0) or 1
    return [{**m, "percent": max(2, round(100 * m["redeemed"] / top))} for m in months]


def home():
    """The donor's home (main.index for role donor): all their giving summed,
    then each donation with what became of it."""
    try:
        trace = service.trace_donor(current_user, current_user.donor_id or 0)
    except NotFound:  # a donor account not (yet) tied to a donor record
        return render_template("main/home_donor.html", trace=None, items=[], sums={}, bars=[])
    items, _total = service.search_donations(current_user, donor_id=trace["id"], page=1,
                                             per_page=500)
    return render_template("main/home_donor.html", trace=trace, items=items,
                           sums=service.donation_sums(current_user, trace["id"]),
                           bars=_bars(trace["months"]))


@bp.get("/donations/<int:donation_id>")
def donation(donation_id: int):
    d = service.get_donation(current_user, donation_id)
    trace = service.trace_donation(current_user, d.id)
    return render_template("donors/donation.html", donation=d, trace=trace,
                           purchases=service.purchases_of(d), bars=_bars(trace["months"]),
                           best_before={line.id: line.best_before for line in d.lines},
                           spent=service.spent_fen(d.id) if d.kind == "cash" else 0)


def _image(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f"inline; filename={filename}", "Cache-Control": "no-store"})


@bp.get("/donations/<int:donation_id>/thanks.png")
def donation_card_png(donation_id: int):
    words = thanks.donation_words(current_user, donation_id)
    return _image(thanks.card_png(words), "image/png", f"thanks-{donation_id}.png")


@bp.get("/donations/<int:donation_id>/thanks.pdf")
def donation_card_pdf(donation_id: int):
    words = thanks.donation_words(current_user, donation_id)
    return _image(thanks.card_pdf(words), "application/pdf", f"thanks-{donation_id}.pdf")


@bp.get("/donors/<int:donor_id>/thanks.png")
def donor_card_png(donor_id: int):
    words = thanks.donor_words(current_user, donor_id)
    return _image(thanks.card_png(words), "image/png", f"thanks-donor-{donor_id}.png")


@bp.get("/donors/<int:donor_id>/thanks.pdf")
def donor_card_pdf(donor_id: int):
    words = thanks.donor_words(current_user, donor_id)
    return _image(thanks.card_pdf(words), "application/pdf", f"thanks-donor-{donor_id}.pdf")
