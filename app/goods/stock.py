"""Stock pages: levels with low stock highlighted, lots, write-offs,
transfers and stocktakes (盘点)."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.extensions import db
from app.forms import apply_errors
from app.goods import bp
from app.goods.forms import DecisionForm, TransferForm, WriteoffForm
from app.households.forms import select_choices
from app.models import Lot, Product, Supermarket
from app.services.goods import products as goods
from app.services.people import scope
from app.services.goods import stock as service
from app.services.errors import Conflict, InsufficientStock, ValidationError


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.get("/")
def index():
    """Where the goods pages start: the supermarkets the user sees, with their stock."""
    if current_user.role == "donor":
        return redirect(url_for("goods.donors"))
    scope.require_role(current_user, *service.READERS)
    markets = db.session.scalars(scope.visible_supermarkets(current_user)).all()
    if len(markets) == 1 and current_user.role == "volunteer":
        return redirect(url_for("goods.stock", supermarket_id=markets[0].id))
    ids = [s.id for s in markets]
    units = dict(db.session.execute(
        select(Lot.supermarket_id, func.sum(Lot.remaining)).where(Lot.supermarket_id.in_(ids))
        .group_by(Lot.supermarket_id)).all()) if ids else {}
    lows = {}
    for sm, _product, _qty in service.low_stock(current_user, limit=10_000):
        lows[sm.id] = lows.get(sm.id, 0) + 1
    return render_template("goods/index.html", markets=markets, units=units, lows=lows)


@bp.get("/stock/<int:supermarket_id>")
def stock(supermarket_id: int):
    low_only = request.args.get("low") == "1"
    q = (request.args.get("q") or "").strip()[:100]
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    sm, rows, total = service.stock_levels(current_user, supermarket_id, low_only=low_only, q=q,
                                           page=_page(), per_page=per_page)
    return render_template("goods/stock.html", sm=sm, rows=rows, total=total, page=_page(),
                           per_page=per_page, low_only=low_only, q=q,
                           can_keep=_keeps(sm), open_stocktake=service.open_stocktake(sm.id))


def _keeps(sm: Supermarket) -> bool:
    return current_user.role in service.KEEPERS


@bp.get("/stock/<int:supermarket_id>/lots")
def lots(supermarket_id: int):
    product_id = request.args.get("product_id", type=int)
    sm, items, total = service.lots_at(current_user, supermarket_id, product_id=product_id,
                                       page=_page(), per_page=100)
    product = db.session.get(Product, product_id) if product_id else None
    return render_template("goods/lots.html", sm=sm, lots=items, total=total, page=_page(),
                           per_page=100, product=product)


def _products_in_stock(sm_id: int) -> list[tuple[Product, int]]:
    rows = db.session.execute(
        select(Product, func.sum(Lot.remaining)).join(Lot, Lot.product_id == Product.id)
        .where(Lot.supermarket_id == sm_id).group_by(Product.id)
        .having(func.sum(Lot.remaining) > 0).order_by(Product.category, Product.name)).all()
    return [(p, int(n)) for p, n in rows]


def _choose_product_in_stock(form, sm: Supermarket) -> None:
    """The form's product choices: what this supermarket has, with how many;
    ?product_id= (a link from the stock page) preselects one."""
    form.product_id.choices = select_choices([("", _("— choose —"))] + [
        (str(p.id), f"{p.name} ({n} {p.unit})") for p, n in _products_in_stock(sm.id)])
    if request.method == "GET" and request.args.get("product_id"):
        form.product_id.data = request.args.get("product_id")


def _took_stock(form, act) -> bool:
    """Run a service act that takes units (a write-off, a transfer) and commit;
    a refusal goes back on the form, with nothing written."""
    try:
        act()
        db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        apply_errors(form, err)
    except InsufficientStock as err:
        db.session.rollback()
        form.quantity.errors = [str(err.detail)]
    else:
        return True
    return False


@bp.route("/stock/<int:supermarket_id>/writeoff", methods=["GET", "POST"])
def writeoff(supermarket_id: int):
    sm = service.writable_supermarket(current_user, supermarket_id)
    form = WriteoffForm()
    _choose_product_in_stock(form, sm)
    if form.validate_on_submit() and _took_stock(form, lambda: service.write_off(current_user, sm.id, {
            "product_id": form.product_id.data, "quantity": form.quantity.data,
            "reason": form.reason.data, "note": form.note.data})):
        flash(_("Written off."), "success")
        return redirect(url_for("goods.stock", supermarket_id=sm.id))
    recent = service.writeoffs_at(current_user, sm.id, per_page=20)[1]
    return render_template("goods/writeoff.html", sm=sm, form=form, recent=recent)


@bp.route("/stock/<int:supermarket_id>/transfer", methods=["GET", "POST"])
def transfer(supermarket_id: int):
    sm = service.writable_supermarket(current_user, supermarket_id)
    form = TransferForm()
    _choose_product_in_stock(form, sm)
    others = db.session.scalars(select(Supermarket).where(Supermarket.id != sm.id)
                                .order_by(Supermarket.name)).all()
    form.to_supermarket_id.choices = select_choices(
        [("", _("— choose —"))] + [(str(s.id), s.name) for s in others])
    if form.validate_on_submit() and _took_stock(form, lambda: service.transfer_stock(current_user, {
            "from_supermarket_id": sm.id, "to_supermarket_id": form.to_supermarket_id.data,
            "product_id": form.product_id.data, "quantity": form.quantity.data,
            "note": form.note.data})):
        flash(_("Transferred."), "success")
        return redirect(url_for("goods.stock", supermarket_id=sm.id))
    recent = service.transfers_at(current_user, sm.id, limit=20)[1]
    return render_template("goods/transfer.html", sm=sm, form=form, recent=recent)


# -- stocktakes ----------------------------------------------------------------

@bp.get("/stock/<int:supermarket_id>/stocktakes")
def stocktakes(supermarket_id: int):
    sm, items = service.stocktakes_at(current_user, supermarket_id)
    return render_template("goods/stocktakes.html", sm=sm, items=items,
                           can_start=_keeps(sm) and service.open_stocktake(sm.id) is None)


@bp.post("/stock/<int:supermarket_id>/stocktakes")
def start_stocktake(supermarket_id: int):
    try:
        st = service.start_stocktake(current_user, supermarket_id, {"note": request.form.get("note")})
        db.session.commit()
    except (Conflict, ValidationError) as err:
        db.session.rollback()
        flash(str(err.detail), "warning")
        return redirect(url_for("goods.stocktakes", supermarket_id=supermarket_id))
    return redirect(url_for("goods.stocktake", stocktake_id=st.id))


@bp.route("/stocktakes/<int:stocktake_id>", methods=["GET", "POST"])
def stocktake(stocktake_id: int):
    st = service.get_stocktake(current_user, stocktake_id)
    decision = DecisionForm()
    count_errors = {}
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action in ("save", "submit"):
                counts = []
                for key, value in request.form.items():
                    if key.startswith("counted-") and value.strip() != "":
                        counts.append({"product_id": key[len("counted-"):], "counted": value.strip()})
                if counts:
                    service.record_counts(current_user, st.id, {"counts": counts})
                if action == "submit":
                    service.submit_stocktake(current_user, st.id)
                message = _("Submitted for review.") if action == "submit" else _("Counts saved.")
            elif action == "finalize":
                service.finalize_stocktake(current_user, st.id, {"note": request.form.get("note")})
                message = _("Stocktake finalized: stock adjusted.")
            elif action == "reopen":
                service.reopen_stocktake(current_user, st.id, {"note": request.form.get("note")})
                message = _("Sent back for a recount.")
            elif action == "cancel":
                service.cancel_stocktake(current_user, st.id, {"note": request.form.get("note")})
                message = _("Stocktake cancelled; stock unchanged.")
            else:
                return redirect(url_for("goods.stocktake", stocktake_id=st.id))
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            count_errors = err.errors
            for messages in err.errors.values():
                for m in messages:
                    flash(str(m), "error")
        except (Conflict, InsufficientStock) as err:
            db.session.rollback()
            flash(str(err.detail), "error")
        else:
            flash(message, "success")
            return redirect(url_for("goods.stocktake", stocktake_id=st.id))
        st = service.get_stocktake(current_user, stocktake_id)
    sheet = service.stocktake_sheet(st)
    listed = {row["product"].id for row in sheet}
    extra = [p for p in goods.active_products() if p.id not in listed]
    role = current_user.role
    return render_template(
        "goods/stocktake.html", st=st, sheet=sheet, extra=extra, decision=decision,
        count_errors=count_errors,
        can_count=st.status == "counting" and role in service.KEEPERS,
        can_decide=st.status == "submitted" and role in service.DECIDERS,
        can_cancel=(st.status == "counting" and role in ("admin", "cadre", "volunteer"))
        or (st.status == "submitted" and role in service.DECIDERS))
