"""Pledge pages: a donor pledges goods to a supermarket and sees or cancels
their pledges; volunteers and cadres see the pledges at their supermarkets."""
import re

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.boundary import attempt
from app.extensions import db
from app.forms import page_number
from app.goods import bp
from app.models import Product
from app.models.pledges import PLEDGE_STATUSES
from app.services.errors import Conflict, ValidationError
from app.services.goods import pledges as service
from app.services.people import policy, scope
from sqlalchemy import select

QTY_RE = re.compile(r"qty-(\d{1,12})")
STATUS_FILTERS = ("active", *PLEDGE_STATUSES)


@bp.app_context_processor
def _pledge_helpers():
    def pledges_open():
        """The open pledges at the user's supermarkets (the volunteer's home)."""
        if not current_user.is_authenticated:
            return []
        return service.open_pledges_for_home(current_user)
    return {"pledges_open": pledges_open}


@bp.get("/pledges")
def pledges():
    policy.require(current_user, "pledges.read")
    status = request.args.get("status") or None
    status = status if status in STATUS_FILTERS else None
    supermarket_id = request.args.get("supermarket_id", type=int)
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    items, total = service.search_pledges(current_user, supermarket_id=supermarket_id,
                                          status=status, page=page_number(), per_page=per_page)
    is_donor = policy.can(current_user, "pledges.make")
    markets = [] if is_donor else db.session.scalars(scope.visible_supermarkets(current_user)).all()
    return render_template("goods/pledges.html", items=items, total=total, page=page_number(),
                           per_page=per_page, status=status, supermarket_id=supermarket_id,
                           markets=markets, is_donor=is_donor, statuses=STATUS_FILTERS)


def _rows(sm) -> list[dict]:
    """The form's products: what the supermarket needs first, then every other active product."""
    _sm, needs = service.needs(sm.id)
    needed = {i["product_id"] for i in needs}
    others = db.session.scalars(select(Product).where(Product.active.is_(True),
                                                      Product.id.not_in(needed or [0]))
                                .order_by(Product.category, Product.name)).all()
    return ([{**i, "needed": True} for i in needs]
            + [{"product_id": p.id, "name": p.name, "unit": p.unit, "needed": False} for p in others])


@bp.route("/pledges/new", methods=["GET", "POST"])
def new_pledge():
    policy.require(current_user, "pledges.make")
    sm = service.public_supermarket(request.values.get("supermarket_id", type=int))
    rows = _rows(sm)
    typed: dict[int, str] = {}
    note = ""
    errors: dict[int, list[str]] = {}
    general: list[str] = []
    if request.method == "POST":
        note = (request.form.get("note") or "")[:1000]
        for key, value in request.form.items():
            m = QTY_RE.fullmatch(key)
            if m and value.strip():
                typed[int(m.group(1))] = value.strip()[:20]
        order = list(typed)
        data = {"supermarket_id": sm.id, "note": note,
                "lines": [{"product_id": pid, "quantity": typed[pid]} for pid in order]}
        with attempt(ValidationError) as refused:
            p = service.create_pledge(current_user, data)
        if not refused:
            flash(_("Thank you! Your pledge to %(name)s is recorded.", name=sm.name), "success")
            return redirect(url_for("goods.pledges", pledged=p.id))
        for field, messages in refused.error.errors.items():
            m = re.fullmatch(r"lines\.(\d+)\.\w+", field)
            if m and int(m.group(1)) < len(order):
                errors.setdefault(order[int(m.group(1))], []).extend(str(x) for x in messages)
            elif field == "lines" and not typed:
                general.append(_("Type how many of at least one product you will bring."))
            elif field != "lines" or not errors:
                general.extend(str(x) for x in messages)
    return render_template("goods/pledge_form.html", sm=sm, rows=rows, typed=typed, note=note,
                           errors=errors, general=general)


@bp.post("/pledges/<int:pledge_id>/cancel")
def cancel_pledge(pledge_id: int):
    with attempt(Conflict) as refused:
        service.cancel_pledge(current_user, pledge_id)
    if refused:
        flash(str(refused.error.detail), "error")
    else:
        flash(_("The pledge is cancelled."), "success")
    return redirect(url_for("goods.pledges"))
