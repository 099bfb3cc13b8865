from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from flask_wtf import FlaskForm

from app import list_exports
from app.exports import download, wanted
from app.list_exports import EXPORT_ROWS
from app.boundary import attempt
from app.extensions import db
from app.forms import apply_errors, flash_refusal, list_args
from app.households import bp
from app.households.forms import HouseholdForm
from app.services.checkout import cards
from app.services.checkout.card_images import card_png, cards_sheet_pdf
from app.services.errors import ValidationError
from app.services.people import households as service
from app.services.people import policy, scope


def _villages():
    return db.session.scalars(scope.visible_villages(current_user)).all()


@bp.before_request
@login_required
def _staff_or_reader():
    policy.require(current_user, "households.read_register")


@bp.get("/")
def index():
    page, per_page, q = list_args(q_max=50)
    village_id = request.args.get("village_id", type=int)
    status = request.args.get("status") or None
    if fmt := wanted(request.args):
        items, _total = service.search_households(current_user, village_id=village_id, q=q,
                                                  status=status, page=1, per_page=EXPORT_ROWS)
        return download("households", list_exports.households(items), fmt)
    items, total = service.search_households(
        current_user, village_id=village_id, q=q, status=status, page=page, per_page=per_page)
    return render_template("households/index.html", items=items, total=total, page=page,
                           per_page=per_page, villages=_villages(),
                           village_id=village_id, q=q, status=status,
                           can_edit=policy.can(current_user, "households.write"))


@bp.route("/new", methods=["GET", "POST"])
def new():
    policy.require(current_user, "households.write")
    villages = _villages()
    form = HouseholdForm(villages)
    del form.status
    if request.method == "GET" and request.args.get("village_id", type=int):
        form.village_id.data = request.args.get("village_id", type=int)
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            hh = service.create_household(current_user, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Household %(code)s added.", code=hh.code), "success")
            return redirect(url_for("households.detail", household_id=hh.id))
    return render_template("households/form.html", form=form, household=None)


@bp.get("/<int:household_id>")
def detail(household_id: int):
    hh = scope.get_household(current_user, household_id)
    card = cards.current_card(hh)
    return render_template("households/detail.html", hh=hh, card=card,
                           reprintable=card is not None and cards.reprintable(card),
                           can_edit=policy.can(current_user, "households.write"),
                           card_form=FlaskForm())


@bp.post("/<int:household_id>/card")
def issue_card(household_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    with attempt(ValidationError) as refused:
        card = cards.issue_card(current_user, household_id)
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Card %(number)s issued; any earlier card no longer works.",
                number=cards.format_number(card.number)), "success")
    return redirect(url_for("households.detail", household_id=household_id))


@bp.get("/<int:household_id>/card.png")
def card_image(household_id: int):
    card = cards.current_card(scope.get_household(current_user, household_id))
    if card is None:
        abort(404)
    return Response(card_png(card), mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.route("/cards", methods=["GET", "POST"])
def village_cards():
    """A village's cards: how many households hold one, issue one to every
    household without one (or reissue them all, after a confirmation), then
    print the A4 sheet."""
    village_id = request.values.get("village_id", type=int)
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            abort(400)
        reissue = request.form.get("reissue") == "all"
        result = cards.issue_village_cards(current_user, village_id, reissue=reissue)
        if reissue:
            flash(_("%(n)d new cards issued; the %(old)d earlier cards no longer work.",
                    n=result["issued"], old=result["revoked"]), "success")
        elif result["issued"]:
            flash(_("%(n)d cards issued. Print the sheet below.", n=result["issued"]), "success")
        else:
            flash(_("Every household of this village already has a card: none issued."), "info")
        return redirect(url_for("households.village_cards", village_id=village_id))
    counts = cards.village_card_counts(current_user, village_id)
    return render_template("households/cards.html", **counts, form=FlaskForm(),
                           can_issue=policy.can(current_user, "cards.issue"))


@bp.get("/cards.pdf")
def card_sheet():
    village, village_cards_ = cards.village_cards(current_user, request.args.get("village_id"))
    return Response(cards_sheet_pdf(village_cards_, village.name), mimetype="application/pdf",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'inline; filename="cards-{village.id}.pdf"'})


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
def edit(household_id: int):
    hh = scope.writable_household(current_user, household_id)
    form = HouseholdForm([hh.village], obj=hh)
    del form.village_id
    if form.validate_on_submit():
        data = form.data_for_service()
        data.pop("village_id", None)
        with attempt(ValidationError) as refused:
            service.update_household(current_user, hh.id, data)
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("households.detail", household_id=hh.id))
    return render_template("households/form.html", form=form, household=hh)
