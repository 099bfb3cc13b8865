"""Privacy (admin): the households whose retention period is over, and
anonymising them one by one or all at once (app.services.people.privacy)."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.admin import bp
from app.admin.forms import ToggleForm
from app.boundary import attempt
from app.forms import flash_refusal, page_number
from app.services.errors import DomainError
from app.services.people import privacy


@bp.get("/privacy")
def privacy_page():
    page, per_page = page_number(), current_app.config["PER_PAGE_DEFAULT"]
    items, total = privacy.eligible_households(current_user, page=page, per_page=per_page)
    return render_template("admin/privacy.html", items=items, total=total, page=page,
                           per_page=per_page, years=privacy.retention_years(),
                           cutoff=privacy.retention_cutoff(), bulk_max=privacy.BULK_MAX,
                           anonymised=privacy.anonymised_count(current_user), form=ToggleForm())


@bp.post("/privacy/<int:household_id>")
def anonymise(household_id: int):
    if not ToggleForm().validate_on_submit():
        abort(400)
    with attempt(DomainError) as refused:
        hh = privacy.anonymise_household(current_user, household_id)
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Household %(code)s anonymised: its personal data and photos are gone, its points stay.",
                code=hh.code), "success")
    if request.form.get("back") == "household":
        return redirect(url_for("households.detail", household_id=household_id))
    return redirect(url_for("admin.privacy_page"))


@bp.post("/privacy/all")
def anonymise_all():
    if not ToggleForm().validate_on_submit():
        abort(400)
    done, remaining = privacy.anonymise_eligible(current_user)
    if remaining:
        flash(_("%(n)d households anonymised; %(left)d more are eligible: anonymise again to go on.",
                n=done, left=remaining), "success")
    else:
        flash(_("%(n)d households anonymised.", n=done), "success")
    return redirect(url_for("admin.privacy_page"))
