"""Pages without a login: the list of village notices, a village's public
notice and a household's own passbook (card number + PIN, throttled, read-only)."""
import re
import time
from datetime import date

from babel.dates import format_skeleton
from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale

from app.extensions import db, limiter
from app.models import Household, utcnow
from app.public import bp
from app.public.forms import PassbookForm
from app.services.points import notices
from app.services.points import passbook as service

SESSION_KEY = "passbook"


@bp.app_template_filter("month_label")
def month_label(first: date) -> str:
    """2026年11月 / November 2026."""
    return format_skeleton("yMMMM", first, locale=get_locale() or "zh_CN")


# -- the village public notice ------------------------------------------------------------

@bp.get("/notices")
def notices_index():
    """The public entry page: every village, by township, each linking to its notice."""
    return render_template("public/notices.html", groups=notices.public_villages())


@bp.get("/notice/<int:village_id>")
@bp.get("/notice/<int:village_id>/<month>")
def notice(village_id: int, month: str | None = None):
    data = notices.village_notice(village_id, month or request.args.get("month"))
    return render_template("public/notice.html", notice=data)


# -- the household's own passbook -------------------------------------------------------

def card_key() -> str:
    """The card number an attempt names, for per-card throttling."""
    value = request.form.get("card_number") or ""
    return "passbook:" + re.sub(r"\D", "", value)[:20]


def attempt_failed(response) -> bool:
    return getattr(g, "passbook_failed", False)


def per_card():
    return current_app.config["PASSBOOK_FAILURES_PER_CARD"]


def per_client():
    return current_app.config["PASSBOOK_FAILURES_PER_CLIENT"]


def _open_household() -> Household | None:
    """The household whose passbook this browser opened, while that lasts."""
    opened = session.get(SESSION_KEY)
    if not isinstance(opened, dict) or opened.get("until", 0) < time.time():
        session.pop(SESSION_KEY, None)
        return None
    hh = db.session.get(Household, opened.get("household_id"))
    if hh is None or hh.passbook_pin_hash is None or hh.status != "active":
        session.pop(SESSION_KEY, None)
        return None
    return hh


@bp.route("/passbook", methods=["GET", "POST"])
@limiter.limit(per_card, key_func=card_key, deduct_when=attempt_failed, methods=["POST"])
@limiter.limit(per_client, deduct_when=attempt_failed, methods=["POST"])
def passbook():
    form = PassbookForm()
    if request.method == "POST":
        session.pop(SESSION_KEY, None)
        hh = None
        if form.validate_on_submit():
            hh = service.open_passbook(form.card_number.data, form.pin.data)
        if hh is None:
            g.passbook_failed = True
            form.pin.data = ""
            return render_template("public/passbook_login.html", form=form, failed=True)
        minutes = int(current_app.config["PASSBOOK_OPEN_MINUTES"])
        session[SESSION_KEY] = {"household_id": hh.id, "until": time.time() + 60 * minutes}
        return redirect(url_for("public.passbook"))
    hh = _open_household()
    if hh is None:
        return render_template("public/passbook_login.html", form=form, failed=False)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    book = service.passbook_page(hh, page=page)
    return render_template("public/passbook.html", hh=hh, book=book, now=utcnow(),
                           close_form=PassbookForm())


@bp.post("/passbook/close")
def passbook_close():
    session.pop(SESSION_KEY, None)
    return redirect(url_for("public.passbook"))

