"""The household tags (户类型标签) page: add, retire, reactivate (admin)."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField

from app.admin import bp
from app.admin.forms import ToggleForm
from app.boundary import attempt
from app.forms import apply_errors, flash_refusal
from app.services.errors import DomainError, ValidationError
from app.services.people import policy, tags


class TagForm(FlaskForm):
    name = StringField(_l("Tag"))
    submit = SubmitField(_l("Add tag"))


@bp.route("/tags", methods=["GET", "POST"])
def tags_page():
    policy.require(current_user, "tags.manage")
    form = TagForm()
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            tag = tags.add_tag(current_user, {"name": form.name.data})
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Tag %(name)s added.", name=tag.name), "success")
            return redirect(url_for("admin.tags_page"))
    return render_template("admin/tags.html", form=form, rows=tags.all_tags(), toggle=ToggleForm(),
                           max_len=tags.NAME_MAX)


@bp.post("/tags/<int:tag_id>/active/<int:active>")
def tag_active(tag_id: int, active: int):
    if not ToggleForm().validate_on_submit():
        abort(400)
    with attempt(DomainError) as refused:
        tag = tags.set_active(current_user, tag_id, bool(active))
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Tag %(name)s can be given again.", name=tag.name) if active
              else _("Tag %(name)s retired: households keep it, no other can be given it.",
                     name=tag.name), "success")
    return redirect(url_for("admin.tags_page"))
