"""The product list: everyone at the counter reads it, the admin keeps it."""
from flask import (Response, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.extensions import db
from app.forms import apply_errors
from app.goods import bp
from app.goods.forms import ImportForm, ProductForm
from app.services.goods import products as service
from app.services.people import scope
from app.services.errors import ValidationError

GOODS_ROLES = ("admin", "cadre", "volunteer", "donor")


@bp.before_request
@login_required
def _goods_roles():
    if current_user.role not in GOODS_ROLES:
        abort(403)


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.get("/products")
def products():
    scope.require_role(current_user, "admin", "cadre", "volunteer")
    q = (request.args.get("q") or "").strip()[:100]
    show = request.args.get("show") or "active"
    active = {"active": True, "retired": False}.get(show)
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    items, total = service.search_products(q=q, active=active, page=_page(), per_page=per_page)
    return render_template("goods/products.html", items=items, total=total, page=_page(),
                           per_page=per_page, q=q, show=show,
                           can_edit=current_user.role == "admin")


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    scope.require_role(current_user, "admin")
    form = ProductForm()
    if request.method == "GET":
        form.low_stock_threshold.data = str(service.DEFAULT_THRESHOLD)
    if form.validate_on_submit():
        try:
            product = service.create_product(current_user, form.data_for_service())
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            apply_errors(form, err)
        else:
            flash(_("Product %(name)s added.", name=product.name), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_form.html", form=form, product=None)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def edit_product(product_id: int):
    scope.require_role(current_user, "admin")
    product = service.get_product(product_id)
    form = ProductForm(obj=product)
    if form.validate_on_submit():
        try:
            service.update_product(current_user, product.id, form.data_for_service())
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            apply_errors(form, err)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_form.html", form=form, product=product)


@bp.post("/products/<int:product_id>/retire")
def retire_product(product_id: int):
    scope.require_role(current_user, "admin")
    active = request.form.get("active") == "1"
    product = service.set_product_active(current_user, product_id, active)
    db.session.commit()
    flash(_("%(name)s is in use again.", name=product.name) if active
          else _("%(name)s is retired: no new donations of it.", name=product.name), "success")
    return redirect(request.referrer or url_for("goods.products"))


@bp.post("/products/load-defaults")
def load_default_products():
    scope.require_role(current_user, "admin")
    added = service.load_default_products(current_user)
    db.session.commit()
    flash(_("%(n)d products added from the default list.", n=added), "success")
    return redirect(url_for("goods.products"))


@bp.route("/products/import", methods=["GET", "POST"])
def import_products():
    scope.require_role(current_user, "admin")
    form = ImportForm()
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        raw = upload.read(service.MAX_IMPORT_BYTES + 1)
        try:
            summary = service.import_products(current_user, upload.filename or "", raw)
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            problems = _problems(err)
        else:
            flash(_("Imported: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
                    **summary), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_import.html", form=form, problems=problems)


def _problems(err: ValidationError) -> list[tuple[str, str, str]]:
    """(row, column, message) for the import page, rows in order."""
    out = []
    for key, messages in err.errors.items():
        parts = key.split(".")
        row, column = (parts[1], parts[2]) if len(parts) == 3 and parts[0] == "rows" else ("", key)
        out.extend((row, column, str(m)) for m in messages)
    return sorted(out, key=lambda p: (int(p[0]) if p[0].isdigit() else 0, p[1]))


@bp.get("/products/export")
def export_products():
    scope.require_role(current_user, "admin", "cadre")
    fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    content, mimetype, filename = service.export_products(fmt)
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
