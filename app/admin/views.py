"""The county administrator's pages: the region tree, supermarkets and accounts."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.admin import bp
from app.admin.forms import (RegionEditForm, RegionForm, SupermarketEditForm, SupermarketForm,
                             ToggleForm, UserEditForm, UserForm)
from app.boundary import attempt
from app.extensions import db
from app.forms import apply_errors, flash_refusal
from app.households.forms import select_choices
from app.models import LEVELS, Donor, Region, Supermarket, User
from app.services.errors import Conflict, NotFound, ValidationError
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


def _scope_data(form) -> dict:
    """The scope field the chosen role takes (the form offers all three,
    each labelled with its roles): the others are left out, not refused."""
    values = {"region_id": _int_or_none(form.region_id.data),
              "supermarket_ids": [int(i) for i in form.supermarket_ids.data or []],
              "donor_id": _int_or_none(form.donor_id.data)}
    field = accounts.scope_field(form.role.data)
    return {field: values[field]} if field else {}


def _user_choices(form) -> None:
    __, form.region_id.choices = _region_choices(_("— choose —"))
    form.supermarket_ids.choices = select_choices(
        (str(s.id), s.name if s.active else _("%(name)s (retired)", name=s.name))
        for s in db.session.scalars(select(Supermarket).order_by(Supermarket.id)))
    form.donor_id.choices = select_choices([("", _("— choose —"))] + [
        (str(d.id), d.name) for d in db.session.scalars(select(Donor).order_by(Donor.name))])


@bp.route("/users", methods=["GET", "POST"])
def users():
    form = UserForm()
    _user_choices(form)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            user = accounts.create_user(current_user, {
                "username": form.username.data, "password": form.password.data,
                "role": form.role.data, "display_name": form.display_name.data,
                **_scope_data(form)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    rows = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("admin/users.html", form=form, rows=rows, toggle=ToggleForm())


def _get(model, object_id):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound()
    return obj


def _back(default: str) -> str:
    """Where a toggle goes back to: the edit page it was on, or the list."""
    from flask import request
    from app.main.views import safe_target
    target = request.form.get("next")
    return safe_target(target) if target else default


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """Change an account's role, scope and name shown; deactivate or reset its password."""
    user = _get(User, user_id)
    form = UserEditForm(obj=None if request_posted() else _user_values(user))
    _user_choices(form)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            accounts.update_user(current_user, user.id, {
                "role": form.role.data, "display_name": form.display_name.data,
                **_scope_data(form)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Account %(name)s saved.", name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return _user_page(user, form)


def request_posted() -> bool:
    from flask import request
    return request.method == "POST"


def _user_values(user: User):
    from types import SimpleNamespace
    return SimpleNamespace(
        display_name=user.display_name, role=user.role,
        region_id=str(user.region_id or ""), donor_id=str(user.donor_id or ""),
        supermarket_ids=[str(s.id) for s in user.supermarkets])


def _user_page(user: User, form, temporary_password: str | None = None):
    return render_template("admin/user.html", user=user, form=form, toggle=ToggleForm(),
                           temporary_password=temporary_password)


@bp.post("/users/<int:user_id>/password-reset")
def reset_password(user_id: int):
    """A temporary password, shown on this one answer and never again."""
    if not ToggleForm().validate_on_submit():
        abort(400)
    user, password = accounts.reset_password(current_user, user_id)
    form = UserEditForm(obj=_user_values(user), formdata=None)
    _user_choices(form)
    return _user_page(user, form, temporary_password=password)


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
    return redirect(_back(url_for("admin.users")))


# -- editing regions and supermarkets ---------------------------------------------------

def _parent_choices(region: Region):
    """Where a region may move: the regions of the level just above it."""
    i = LEVELS.index(region.level)
    choices = []
    if region.parent_id is None:
        choices.append(("", _("— none (top level) —")))
    if i > 0:
        above = db.session.scalars(select(Region).where(Region.level == LEVELS[i - 1])
                                   .order_by(Region.path)).all()
        choices += [(str(r.id), r.name if r.active else _("%(name)s (retired)", name=r.name))
                    for r in above]
    return select_choices(choices)


@bp.route("/regions/<int:region_id>", methods=["GET", "POST"])
def edit_region(region_id: int):
    """Rename a region, move it under another, retire or reactivate it."""
    region = _get(Region, region_id)
    form = RegionEditForm(data=None if request_posted() else {
        "name": region.name, "parent_id": str(region.parent_id or "")})
    form.parent_id.choices = _parent_choices(region)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            regions.update_region(current_user, region.id, {
                "name": form.name.data, "parent_id": _int_or_none(form.parent_id.data)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Region %(name)s saved.", name=region.name), "success")
            return redirect(url_for("admin.edit_region", region_id=region.id))
    return render_template("admin/region.html", region=region, form=form, toggle=ToggleForm(),
                           level_label=level_label, retired=regions.retired(region))


@bp.post("/regions/<int:region_id>/active/<int:active>")
def set_region_active(region_id: int, active: int):
    if not ToggleForm().validate_on_submit():
        abort(400)
    with attempt(ValidationError, Conflict) as refused:
        region = regions.update_region(current_user, region_id, {"active": bool(active)})
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Region %(name)s reactivated.", name=region.name) if active
              else _("Region %(name)s retired.", name=region.name), "success")
    return redirect(url_for("admin.edit_region", region_id=region_id))


@bp.route("/supermarkets/<int:supermarket_id>", methods=["GET", "POST"])
def edit_supermarket(supermarket_id: int):
    """Rename a supermarket, change the region it serves, retire or reactivate it."""
    sm = _get(Supermarket, supermarket_id)
    form = SupermarketEditForm(data=None if request_posted() else {
        "name": sm.name, "region_id": str(sm.region_id)})
    __, form.region_id.choices = _region_choices(_("— choose —"))
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            regions.update_supermarket(current_user, sm.id, {
                "name": form.name.data, "region_id": _int_or_none(form.region_id.data)})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Supermarket %(name)s saved.", name=sm.name), "success")
            return redirect(url_for("admin.edit_supermarket", supermarket_id=sm.id))
    return render_template("admin/supermarket.html", sm=sm, form=form, toggle=ToggleForm())


@bp.post("/supermarkets/<int:supermarket_id>/active/<int:active>")
def set_supermarket_active(supermarket_id: int, active: int):
    if not ToggleForm().validate_on_submit():
        abort(400)
    with attempt(ValidationError, Conflict) as refused:
        sm = regions.update_supermarket(current_user, supermarket_id, {"active": bool(active)})
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Supermarket %(name)s reactivated.", name=sm.name) if active
              else _("Supermarket %(name)s retired.", name=sm.name), "success")
    return redirect(url_for("admin.edit_supermarket", supermarket_id=supermarket_id))
