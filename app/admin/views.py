"""The county administrator's pages: the region tree, supermarkets and accounts."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import RegionForm, SupermarketForm, ToggleForm, UserForm
from app.boundary import attempt
from app.extensions import db
from app.forms import apply_errors, flash_refusal
from app.households.forms import select_choices
from app.models import Donor, Region, Supermarket, User
from app.services.errors import ValidationError
from app.services.people import accounts, policy, regions
from app.services.people.regions import level_label
from app.services.validate import as_id


@bp.before_request
@login_required
def _admin_only():
    policy.require(current_user, "users.manage")


def _region_choices(blank):
    rows = db.session.scalars(select(Region).order_by(Region.path)).all()
    choices = [("", blank)]
    for r in rows:
        depth = r.path.count("/") - 2
        choices.append((str(r.id), "　" * depth + f"{r.name}（{level_label(r.level)}）"))
    return rows, select_choices(choices)


def _int_or_none(value):
    return as_id(value)


@bp.route("/regions", methods=["GET", "POST"], endpoint="regions")
def regions_page():
    form = RegionForm()
    rows, form.parent_id.choices = _region_choices(_("— none (top level) —"))
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            region = regions.create_region(current_user, {
                "name": form.name.data, "level": form.level.data,
                "parent_id": _int_or_none(form.parent_id.data)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Region %(name)s added.", name=region.name), "success")
            return redirect(url_for("admin.regions"))
    return render_template("admin/regions.html", form=form, rows=rows, level_label=level_label)



@bp.route("/supermarkets", methods=["GET", "POST"])
def supermarkets():
    form = SupermarketForm()
    __, form.region_id.choices = _region_choices(_("— choose —"))
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            sm = regions.create_supermarket(current_user, {
                "name": form.name.data, "region_id": _int_or_none(form.region_id.data)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Supermarket %(name)s added.", name=sm.name), "success")
            return redirect(url_for("admin.supermarkets"))
    rows = db.session.scalars(select(Supermarket).order_by(Supermarket.id)).all()
    return render_template("admin/supermarkets.html", form=form, rows=rows)


@bp.route("/users", methods=["GET", "POST"])
def users():
    form = UserForm()
    __, form.region_id.choices = _region_choices(_("— choose —"))
    form.supermarket_ids.choices = select_choices(
        (str(s.id), s.name) for s in db.session.scalars(select(Supermarket).order_by(Supermarket.id)))
    form.donor_id.choices = select_choices([("", _("— choose —"))] + [
        (str(d.id), d.name) for d in db.session.scalars(select(Donor).order_by(Donor.name))])
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            user = accounts.create_user(current_user, {
                "username": form.username.data, "password": form.password.data,
                "role": form.role.data, "display_name": form.display_name.data,
                "region_id": _int_or_none(form.region_id.data),
                "supermarket_ids": [int(i) for i in form.supermarket_ids.data or []],
                "donor_id": _int_or_none(form.donor_id.data)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    rows = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("admin/users.html", form=form, rows=rows, toggle=ToggleForm())


@bp.post("/users/<int:user_id>/active/<int:active>")
def set_active(user_id: int, active: int):
    form = ToggleForm()
    if not form.validate_on_submit():
        abort(400)
    with attempt(ValidationError) as refused:
        user = accounts.set_user_active(current_user, user_id, bool(active))
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Account %(name)s enabled.", name=user.username) if active
              else _("Account %(name)s disabled.", name=user.username), "success")
    return redirect(url_for("admin.users"))
