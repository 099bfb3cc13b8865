"""The product list: everyone at the counter reads it, the admin keeps it."""
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.boundary import attempt
from app.forms import apply_errors, list_args
from app.goods import bp
from app.goods.forms import ImportForm, ProductForm
from app.services import audit
from app.services.errors import ValidationError
from app.services.goods import products as service
from app.services.people import policy


@bp.before_request
@login_required
def _goods_pages():
    policy.require(current_user, "goods.read")


@bp.get("/products")
def products():
    policy.require(current_user, "products.list")
    page, per_page, q = list_args()
    show = request.args.get("show") or "active"
    active = {"active": True, "retired": False}.get(show)
    items, total = service.search_products(q=q, active=active, page=page, per_page=per_page)
    return render_template("goods/products.html", items=items, total=total, page=page,
                           per_page=per_page, q=q, show=show,
                           can_edit=policy.can(current_user, "products.manage"))


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    policy.require(current_user, "products.manage")
    form = ProductForm()
    if request.method == "GET":
        form.low_stock_threshold.data = str(service.DEFAULT_THRESHOLD)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            product = service.create_product(current_user, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Product %(name)s added.", name=product.name), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_form.html", form=form, product=None)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def edit_product(product_id: int):
    policy.require(current_user, "products.manage")
    product = service.get_product(product_id)
    form = ProductForm(obj=product)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            service.update_product(current_user, product.id, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_form.html", form=form, product=product)


@bp.post("/products/<int:product_id>/retire")
def retire_product(product_id: int):
    active = request.form.get("active") == "1"
    product = service.set_product_active(current_user, product_id, active)
    flash(_("%(name)s is in use again.", name=product.name) if active
          else _("%(name)s is retired: no new donations of it.", name=product.name), "success")
    return redirect(request.referrer or url_for("goods.products"))


@bp.post("/products/load-defaults")
def load_default_products():
    policy.require(current_user, "products.manage")
    added = service.load_default_products(current_user)
    flash(_("%(n)d products added from the default list.", n=added), "success")
    return redirect(url_for("goods.products"))


@bp.route("/products/import", methods=["GET", "POST"])
def import_products():
    policy.require(current_user, "products.manage")
    form = ImportForm()
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        raw = upload.read(service.MAX_IMPORT_BYTES + 1)
        with attempt(ValidationError) as refused:
            summary = service.import_products(current_user, upload.filename or "", raw)
        if refused:
            problems = _problems(refused.error)
        else:
            flash(_("Imported: %(added)d added, %(updated)d updated, %(unchanged)d unchanged.",
                    **summary), "success")
            return redirect(url_for("goods.products"))
    return render_template("goods/product_import.html", form=form, problems=problems)


def _problems(err) -> list[tuple[str, str, str]]:
    """(row, column, message) for the import page, rows in order."""
    out = []
    for key, messages in err.errors.items():
        parts = key.split(".")
        row, column = (parts[1], parts[2]) if len(parts) == 3 and parts[0] == "rows" else ("", key)
        out.extend((row, column, str(m)) for m in messages)
    return sorted(out, key=lambda p: (int(p[0]) if p[0].isdigit() else 0, p[1]))


@bp.get("/products/export")
def export_products():
    policy.require(current_user, "products.export")
    fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    content, mimetype, filename = service.export_products(fmt)
    audit.record_ref(current_user, "export", "products", None, format=fmt)
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
