"""Stock pages: levels with low stock highlighted, lots, write-offs,
transfers and stocktakes (盘点)."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import list_exports
from app.exports import download, wanted
from app.list_exports import EXPORT_ROWS
from app.boundary import attempt
from app.extensions import db
from app.forms import apply_errors, page_number
from app.goods import bp
from app.goods.forms import DecisionForm, TransferForm, WriteoffForm
from app.goods.text import REASONS
from app.households.forms import select_choices
from app.models import Lot, Product, Supermarket
from app.services.errors import Conflict, InsufficientStock, ValidationError
from app.services.goods import levels, stocktakes, transfers, writeoffs
from app.services.goods import products as goods
from app.services.people import policy, regions, scope


@bp.get("/")
def index():
    """Where the goods pages start: the supermarkets the user sees, with their stock."""
    if not policy.can(current_user, "stock.read"):  # a donor: their donations
        return redirect(url_for("goods.donors"))
    markets = db.session.scalars(scope.visible_supermarkets(current_user)).all()
    if len(markets) == 1 and len(current_user.supermarkets) == 1:  # one's own supermarket
        return redirect(url_for("goods.stock", supermarket_id=markets[0].id))
    units = levels.units_at([s.id for s in markets])
    lows = {}
    for sm, _product, _qty in levels.low_stock(current_user, limit=10_000):
        lows[sm.id] = lows.get(sm.id, 0) + 1
    return render_template("goods/index.html", markets=markets, units=units, lows=lows)


@bp.get("/stock/<int:supermarket_id>")
def stock(supermarket_id: int):
    low_only = request.args.get("low") == "1"
    q = (request.args.get("q") or "").strip()[:100]
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    if fmt := wanted(request.args):
        sm, rows, _total = levels.stock_levels(current_user, supermarket_id, low_only=low_only,
                                               q=q, page=1, per_page=EXPORT_ROWS)
        return download(f"stock-{sm.id}", list_exports.stock(rows), fmt)
    sm, rows, total = levels.stock_levels(current_user, supermarket_id, low_only=low_only, q=q,
                                          page=page_number(), per_page=per_page)
    return render_template("goods/stock.html", sm=sm, rows=rows, total=total, page=page_number(),
                           per_page=per_page, low_only=low_only, q=q,
                           can_keep=policy.can(current_user, "stock.keep"),
                           open_stocktake=stocktakes.open_stocktake(sm.id))


@bp.get("/stock/<int:supermarket_id>/lots")
def lots(supermarket_id: int):
    product_id = request.args.get("product_id", type=int)
    sm, items, total = levels.lots_at(current_user, supermarket_id, product_id=product_id,
                                      page=page_number(), per_page=100)
    product = db.session.get(Product, product_id) if product_id else None
    return render_template("goods/lots.html", sm=sm, lots=items, total=total, page=page_number(),
                           per_page=100, product=product)


def _choose_product_in_stock(form, sm: Supermarket) -> None:
    """The form's product choices: what this supermarket has, with how many;
    ?product_id= (a link from the stock page) preselects one."""
    form.product_id.choices = select_choices([("", _("— choose —"))] + [
        (str(p.id), f"{p.name} ({n} {p.unit})") for p, n in levels.products_in_stock(sm.id)])
    if request.method == "GET" and request.args.get("product_id"):
        form.product_id.data = request.args.get("product_id")


def _took_stock(form, act) -> bool:
    """Run a service act that takes units (a write-off, a transfer); a refusal
    goes back on the form, with nothing written."""
    with attempt(ValidationError, InsufficientStock) as refused:
        act()
    if isinstance(refused.error, InsufficientStock):
        form.quantity.errors = [str(refused.error.detail)]
    elif refused:
        apply_errors(form, refused.error)
    return not refused


@bp.get("/stock/<int:supermarket_id>/writeoffs")
def writeoffs_list(supermarket_id: int):
    """Every write-off at a supermarket, newest first (cadres read it too)."""
    if fmt := wanted(request.args):
        sm, items, _total = writeoffs.writeoffs_at(current_user, supermarket_id, per_page=EXPORT_ROWS)
        return download(f"writeoffs-{sm.id}", list_exports.writeoffs(items), fmt)
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    sm, items, total = writeoffs.writeoffs_at(current_user, supermarket_id, page=page_number(),
                                              per_page=per_page)
    return render_template("goods/writeoffs.html", sm=sm, items=items, total=total,
                           page=page_number(), per_page=per_page)


def _lot_label(lot, with_product: bool) -> str:
    """The date first: a phone shows only the start of an option."""
    when = (_("best before %(day)s", day=lot.best_before.isoformat()) if lot.best_before
            else _("no best-before date"))
    label = _("%(when)s · %(n)d left · lot #%(id)d", when=when, n=lot.remaining, id=lot.id)
    return f"{lot.product.name} · {label}" if with_product else label


def _choose_lot(form, sm: Supermarket) -> None:
    """The lot choices: automatic (expiring first), or one lot with units left,
    of the chosen product when there is one. ?lot_id= (the home page's expiring
    list) preselects the lot and its product, ?reason= the reason."""
    if request.method == "GET":
        if request.args.get("reason") in REASONS:
            form.reason.data = request.args["reason"]
        lot = db.session.get(Lot, request.args.get("lot_id", type=int) or 0)
        if lot is not None and lot.supermarket_id == sm.id:
            form.lot_id.data = str(lot.id)
            form.product_id.data = str(lot.product_id)
    product_id = form.product_id.data if str(form.product_id.data or "").isdigit() else None
    lots = levels.lots_in_stock(sm.id, int(product_id) if product_id else None)
    form.lot_id.choices = select_choices(
        [("", _("Automatic: the lot that expires first, then the oldest"))] +
        [(str(lot.id), _lot_label(lot, with_product=product_id is None)) for lot in lots])


@bp.route("/stock/<int:supermarket_id>/writeoff", methods=["GET", "POST"])
def writeoff(supermarket_id: int):
    sm = scope.supermarket_for(current_user, "stock.keep", supermarket_id)
    form = WriteoffForm()
    _choose_product_in_stock(form, sm)
    if request.method == "POST" and not form.product_id.data and form.lot_id.data:
        chosen = db.session.get(Lot, int(form.lot_id.data)) if form.lot_id.data.isdigit() else None
        if chosen is not None and chosen.supermarket_id == sm.id:  # the lot names its product
            form.product_id.data = str(chosen.product_id)
    _choose_lot(form, sm)
    if form.validate_on_submit() and _took_stock(form, lambda: writeoffs.write_off(current_user, sm.id, {
            "product_id": form.product_id.data, "quantity": form.quantity.data,
            "reason": form.reason.data, "note": form.note.data, "lot_id": form.lot_id.data})):
        flash(_("Written off."), "success")
        return redirect(url_for("goods.stock", supermarket_id=sm.id))
    recent = writeoffs.writeoffs_at(current_user, sm.id, per_page=20)[1]
    return render_template("goods/writeoff.html", sm=sm, form=form, recent=recent)


@bp.route("/stock/<int:supermarket_id>/transfer", methods=["GET", "POST"])
def transfer(supermarket_id: int):
    sm = scope.supermarket_for(current_user, "stock.keep", supermarket_id)
    form = TransferForm()
    _choose_product_in_stock(form, sm)
    others = [o for o in regions.supermarkets_by_name() if o.id != sm.id]
    form.to_supermarket_id.choices = select_choices(
        [("", _("— choose —"))] + [(str(s.id), s.name) for s in others])
    if form.validate_on_submit() and _took_stock(form, lambda: transfers.transfer_stock(current_user, {
            "from_supermarket_id": sm.id, "to_supermarket_id": form.to_supermarket_id.data,
            "product_id": form.product_id.data, "quantity": form.quantity.data,
            "note": form.note.data})):
        flash(_("Transferred."), "success")
        return redirect(url_for("goods.stock", supermarket_id=sm.id))
    recent = transfers.transfers_at(current_user, sm.id, limit=20)[1]
    return render_template("goods/transfer.html", sm=sm, form=form, recent=recent)


# -- stocktakes ----------------------------------------------------------------

@bp.get("/stock/<int:supermarket_id>/stocktakes", endpoint="stocktakes")
def stocktakes_page(supermarket_id: int):
    sm, items = stocktakes.stocktakes_at(current_user, supermarket_id)
    return render_template("goods/stocktakes.html", sm=sm, items=items,
                           can_start=policy.can(current_user, "stocktake.count")
                           and stocktakes.open_stocktake(sm.id) is None)


@bp.post("/stock/<int:supermarket_id>/stocktakes")
def start_stocktake(supermarket_id: int):
    with attempt(Conflict, ValidationError) as refused:
        st = stocktakes.start_stocktake(current_user, supermarket_id, {"note": request.form.get("note")})
    if refused:
        flash(str(refused.error.detail), "warning")
        return redirect(url_for("goods.stocktakes", supermarket_id=supermarket_id))
    return redirect(url_for("goods.stocktake", stocktake_id=st.id))


@bp.route("/stocktakes/<int:stocktake_id>", methods=["GET", "POST"])
def stocktake(stocktake_id: int):
    st = stocktakes.get_stocktake(current_user, stocktake_id)
    decision = DecisionForm()
    count_errors, typed = {}, {}
    if request.method == "POST":
        action = request.form.get("action")
        if action not in ("save", "submit", "finalize", "reopen", "cancel"):
            return redirect(url_for("goods.stocktake", stocktake_id=st.id))
        with attempt(ValidationError, Conflict, InsufficientStock) as refused:
            message = _stocktake_act(st, action)
        if isinstance(refused.error, ValidationError):
            # Every typed count stays on the page; each error names its product.
            typed = {k[len("counted-"):]: v for k, v in request.form.items() if k.startswith("counted-")}
            count_errors = _count_errors(refused.error.errors)
            for message in count_errors.values():
                flash(message, "error")
        elif refused:
            flash(str(refused.error.detail), "error")
        else:
            flash(message, "success")
            return redirect(url_for("goods.stocktake", stocktake_id=st.id))
        st = stocktakes.get_stocktake(current_user, stocktake_id)
    sheet = stocktakes.stocktake_sheet(st)
    listed = {row["product"].id for row in sheet}
    extra = [p for p in goods.active_products() if p.id not in listed]
    return render_template(
        "goods/stocktake.html", st=st, sheet=sheet, extra=extra, decision=decision,
        count_errors=count_errors, typed=typed,
        can_count=policy.can(current_user, "stocktake.count", st),
        can_decide=policy.can(current_user, "stocktake.decide", st),
        can_cancel=policy.can(current_user, "stocktake.cancel", st))


def _typed_counts() -> list[dict]:
    """The counts typed on the page, in its order (blank ones left out)."""
    return [{"product_id": key[len("counted-"):], "counted": value.strip()}
            for key, value in request.form.items()
            if key.startswith("counted-") and value.strip() != ""]


def _count_errors(errors: dict) -> dict[str, str]:
    """{product id: "香皂: message"} from the service's errors on counts.N.field."""
    counts = _typed_counts()
    out = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "counts" and parts[1].isdigit() and int(parts[1]) < len(counts):
            product_id = counts[int(parts[1])]["product_id"]
            product = db.session.get(Product, int(product_id)) if product_id.isdigit() else None
            name = product.name if product is not None else product_id
            out[product_id] = _("%(product)s: %(message)s", product=name, message=messages[0])
        else:
            out[key] = str(messages[0])
    return out


def _stocktake_act(st, action: str) -> str:
    """Carry out one of the stocktake page's buttons; the message to show."""
    if action in ("save", "submit"):
        counts = _typed_counts()
        if counts:
            stocktakes.record_counts(current_user, st.id, {"counts": counts})
        if action == "submit":
            stocktakes.submit_stocktake(current_user, st.id)
        return _("Submitted for review.") if action == "submit" else _("Counts saved.")
    if action == "finalize":
        stocktakes.finalize_stocktake(current_user, st.id, {"note": request.form.get("note")})
        return _("Stocktake finalized: stock adjusted.")
    if action == "reopen":
        stocktakes.reopen_stocktake(current_user, st.id, {"note": request.form.get("note")})
        return _("Sent back for a recount.")
    stocktakes.cancel_stocktake(current_user, st.id, {"note": request.form.get("note")})
    return _("Stocktake cancelled; stock unchanged.")
