"""Donors, receiving donations at the counter, receipts and the trace."""
import base64
import io
import re

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import list_exports
from app.exports import download, wanted
from app.list_exports import EXPORT_ROWS
from app.boundary import attempt
from app.extensions import db
from app.forms import apply_errors, list_args, page_number
from app.goods import bp
from app.goods.forms import CashForm, DonorForm
from app.households.forms import select_choices
from app.models import Supermarket
from app.public.donations import trace_url
from app.services.checkout.card_images import qr_image
from app.services.goods import donations as service
from app.services.goods import products as goods
from app.services.people import policy, scope
from app.services.errors import ValidationError
from app.services.goods.products import yuan
from app.services import clock

LINE_RE = re.compile(r"lines-(\d{1,3})-(product_id|quantity|unit_value|best_before)")


def _keeper_markets() -> list[Supermarket]:
    """Supermarkets whose stock the user keeps (volunteers theirs, admin all)."""
    if not policy.can(current_user, "donations.receive"):
        return []
    return list(db.session.scalars(scope.visible_supermarkets(current_user)))


# -- donors --------------------------------------------------------------------

@bp.get("/donors")
def donors():
    if not policy.can(current_user, "donors.list"):  # a donor: their own page
        return redirect(url_for("goods.donor", donor_id=current_user.donor_id or 0))
    page, per_page, q = list_args()
    kind = request.args.get("kind") or None
    items, total = service.search_donors(current_user, q=q, kind=kind, page=page, per_page=per_page)
    return render_template("goods/donors.html", items=items, total=total, page=page,
                           per_page=per_page, q=q, kind=kind,
                           can_add=policy.can(current_user, "donors.manage"))


@bp.route("/donors/new", methods=["GET", "POST"])
def new_donor():
    policy.require(current_user, "donors.manage")
    form = DonorForm()
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            donor = service.create_donor(current_user, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Donor %(name)s added.", name=donor.name), "success")
            return redirect(request.args.get("next") == "receive" and
                            url_for("goods.receive", donor_id=donor.id) or
                            url_for("goods.donor", donor_id=donor.id))
    return render_template("goods/donor_form.html", form=form)


@bp.route("/donors/<int:donor_id>/edit", methods=["GET", "POST"])
def edit_donor(donor_id: int):
    """Correct a donor, or record their consent to be named in public."""
    policy.require(current_user, "donors.manage")
    d = service.get_donor(current_user, donor_id)
    form = DonorForm(obj=d)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            service.update_donor(current_user, d.id, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Donor %(name)s saved.", name=d.name), "success")
            return redirect(url_for("goods.donor", donor_id=d.id))
    return render_template("goods/donor_form.html", form=form, donor=d)


@bp.get("/donors/<int:donor_id>")
def donor(donor_id: int):
    d = service.get_donor(current_user, donor_id)
    trace = service.trace_donor(current_user, d.id)
    items, total = service.search_donations(current_user, donor_id=d.id, page=page_number(), per_page=50)
    return render_template("goods/donor.html", donor=d, trace=trace, donations=items, total=total,
                           page=page_number(), per_page=50)


# -- donations -----------------------------------------------------------------

@bp.get("/donations")
def donations():
    supermarket_id = request.args.get("supermarket_id", type=int)
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    if fmt := wanted(request.args):
        items, _total = service.search_donations(current_user, supermarket_id=supermarket_id,
                                                 page=1, per_page=EXPORT_ROWS)
        return download("donations", list_exports.donations(items), fmt)
    items, total = service.search_donations(current_user, supermarket_id=supermarket_id,
                                            page=page_number(), per_page=per_page)
    markets = db.session.scalars(scope.visible_supermarkets(current_user)).all() \
        if policy.can(current_user, "stock.read") else []
    return render_template("goods/donations.html", items=items, total=total, page=page_number(),
                           per_page=per_page, markets=markets, supermarket_id=supermarket_id,
                           can_receive=policy.can(current_user, "donations.receive"))


@bp.get("/donations/<int:donation_id>")
def donation(donation_id: int):
    d = service.get_donation(current_user, donation_id)
    trace = service.trace_donation(current_user, d.id)
    can_buy = (d.kind == "cash" and policy.can(current_user, "donations.receive")
               and d.amount_fen > service.spent_fen(d.id))
    return render_template("goods/donation.html", donation=d, trace=trace, can_buy=can_buy,
                           purchases=service.purchases_of(d),
                           best_before={line.id: line.best_before for line in d.lines
                                        if line.best_before is not None},
                           spent=service.spent_fen(d.id) if d.kind == "cash" else 0)


@bp.get("/donations/<int:donation_id>/receipt")
def receipt(donation_id: int):
    d = service.get_donation(current_user, donation_id)
    lines = [line for line in d.lines if line.purchase_id is None]
    valued = [line for line in lines if line.unit_value_fen is not None]
    total_value = sum(line.quantity * line.unit_value_fen for line in valued) if valued else None
    # A line without a value is marked on the receipt, never silently left out of the total.
    return render_template("goods/receipt.html", donation=d, lines=lines,
                           trace_url=trace_url(d.public_code),
                           trace_qr=_qr_data_uri(trace_url(d.public_code)),
                           total_units=sum(line.quantity for line in lines),
                           total_value=total_value, unvalued=len(lines) - len(valued),
                           auto_print=request.args.get("print") == "1")


def _qr_data_uri(url: str) -> str:
    """The QR code of the public trace's address, inline (the receipt prints offline too)."""
    img = qr_image(url, box=6)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _posted_lines() -> list[dict]:
    rows: dict[int, dict] = {}
    for key in request.form:
        m = LINE_RE.fullmatch(key)
        if m:
            rows.setdefault(int(m[1]), {})[m[2]] = request.form.get(key, "").strip()
    return [rows[i] for i in sorted(rows)]


def _line_errors(err: ValidationError | None) -> tuple[dict[int, list[str]], list[str]]:
    """Errors per line index, and the others (for the summary box)."""
    per_line: dict[int, list[str]] = {}
    other = []
    if err is None:
        return per_line, other
    for key, messages in err.errors.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
            per_line.setdefault(int(parts[1]), []).extend(str(m) for m in messages)
        else:
            other.extend(str(m) for m in messages)
    return per_line, other


def _product_data() -> list[dict]:
    return [{"id": p.id, "name": p.name, "unit": p.unit, "barcode": p.barcode,
             "category": p.category or "", "price": p.points_price}
            for p in goods.active_products()]


def _scanner_page(template: str, *, mode: str, markets, action: str, error=None, **context):
    lines = _posted_lines() if request.method == "POST" else []
    per_line, other = _line_errors(error)
    for i, line in enumerate(lines):
        line["errors"] = per_line.get(i, [])
    return render_template(
        template, mode=mode, markets=markets, products=_product_data(), lines=lines,
        errors=other, field_errors=error.errors if error else {}, form_data=request.form,
        action=action, today=clock.local_today().isoformat(), **context)


@bp.route("/receive", methods=["GET", "POST"])
def receive():
    """The counter page: pick or add the donor, scan the goods, save, print the receipt."""
    policy.require(current_user, "donations.receive")
    markets = _keeper_markets()
    error = None
    if request.method == "POST":
        form = request.form
        data = {"supermarket_id": form.get("supermarket_id"), "received_on": form.get("received_on"),
                "note": form.get("note"), "lines": _posted_lines()}
        if form.get("donor_id") == "new":
            data["donor"] = {"name": form.get("donor_name"), "kind": form.get("donor_kind"),
                             "contact": form.get("donor_contact")}
        else:
            data["donor_id"] = form.get("donor_id")
        for line in data["lines"]:
            for optional in ("unit_value", "best_before"):
                if not line.get(optional):
                    line.pop(optional, None)
        with attempt(ValidationError) as refused:
            d = service.receive_donation(current_user, data)
        error = refused.error
        if not refused:
            flash(_("Donation received: receipt %(no)s.", no=d.receipt_no), "success")
            return redirect(url_for("goods.receipt", donation_id=d.id))
    selected_donor = request.args.get("donor_id", type=int)
    return _scanner_page("goods/receive.html", mode="donation", markets=markets,
                         action=url_for("goods.receive"), error=error,
                         donors=service.all_donors(), selected_donor=selected_donor,
                         selected_market=request.args.get("supermarket_id", type=int))


@bp.route("/donations/<int:donation_id>/purchase", methods=["GET", "POST"])
def purchase(donation_id: int):
    """Goods bought with a cash donation, entered like a donation (the price is required)."""
    policy.require(current_user, "donations.receive")
    d = service.get_donation(current_user, donation_id)
    if d.kind != "cash":
        flash(_("Only a cash donation pays for purchases."), "warning")
        return redirect(url_for("goods.donation", donation_id=d.id))
    error = None
    if request.method == "POST":
        form = request.form
        data = {"supermarket_id": form.get("supermarket_id"), "purchased_on": form.get("received_on"),
                "supplier": form.get("supplier"), "note": form.get("note"), "lines": _posted_lines()}
        with attempt(ValidationError) as refused:
            service.record_purchase(current_user, d.id, data)
        error = refused.error
        if not refused:
            flash(_("Purchase recorded."), "success")
            return redirect(url_for("goods.donation", donation_id=d.id))
    left = d.amount_fen - service.spent_fen(d.id)
    return _scanner_page("goods/receive.html", mode="purchase", markets=_keeper_markets(),
                         action=url_for("goods.purchase", donation_id=d.id), error=error,
                         donation=d, left_fen=left, selected_market=d.supermarket_id)


@bp.route("/cash", methods=["GET", "POST"])
def cash():
    policy.require(current_user, "donations.receive")
    form = CashForm()
    form.donor_id.choices = select_choices(
        [("", _("— choose —"))] + [(str(x.id), x.name) for x in service.all_donors()])
    form.supermarket_id.choices = select_choices((str(s.id), s.name) for s in _keeper_markets())
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            d = service.record_cash_donation(current_user, {
                "donor_id": form.donor_id.data, "supermarket_id": form.supermarket_id.data,
                "amount": form.amount.data, "note": form.note.data,
                "received_on": form.received_on.data.isoformat() if form.received_on.data else None})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Cash donation of %(amount)s yuan recorded: receipt %(no)s.",
                    amount=f"{yuan(d.amount_fen)}", no=d.receipt_no), "success")
            return redirect(url_for("goods.receipt", donation_id=d.id))
    return render_template("goods/cash.html", form=form)
