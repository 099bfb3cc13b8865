"""Points pages for staff, cadres and admins. Thin: parse, call one service, render."""
import re
from datetime import timedelta
from urllib.parse import urlparse

from flask import Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.labels import ENTRY_KINDS, ENTRY_STATUSES, entry_kind
from app import list_exports
from app.exports import download, wanted
from app.list_exports import EXPORT_ROWS
from app.boundary import attempt
from app.errors import json_view
from app.extensions import db
from app.forms import apply_errors, flash_refusal
from app.models import utcnow
from app.points import bp
from app.points.forms import AwardForm, PinForm, ReasonForm, RuleForm, RuleImportForm
from app.services import audit
from app.services.checkout import cards
from app.services.clock import local_today
from app.services.errors import (CapExceeded, Conflict, Forbidden, HouseholdInactive, NotFound,
                                 ValidationError)
from app.services.people import households, policy, scope
from app.services.points import awards, entries, evidence, passbook, rules
from app.services.points.notices import last_notice_day
from app.services.reports import visits

CARD_NUMBER = re.compile(r"\d{10}")


@bp.before_request
@login_required
def _signed_in():
    policy.require(current_user, "points.read")


def _villages():
    return db.session.scalars(scope.visible_villages(current_user)).all()


def _back(default: str) -> str:
    """A same-site path to return to after an action, from the form's `next`."""
    target = request.form.get("next") or ""
    parsed = urlparse(target)
    if not target.startswith("/") or target.startswith("//") or parsed.netloc or parsed.scheme:
        return default
    return target


# -- awarding ---------------------------------------------------------------------

def _award_page(form: AwardForm, *, village_id=None, wanted=(), blocked=None, summary=None,
                household_errors=(), status: int = 200):
    villages = _villages()
    wanted = households.households_by_ids(current_user, wanted)
    if village_id is None and len(villages) == 1:
        village_id = villages[0].id
    if village_id is None and wanted:
        village_id = wanted[0].village_id
    village, listed = None, []
    if village_id is not None and any(v.id == village_id for v in villages):
        village, listed = households.village_households(current_user, village_id)
    listed_ids = {h.id for h in listed}
    today = local_today()
    blocked = blocked or {}
    return render_template(
        "points/award.html", form=form, rule_groups=rules.rules_by_category(include_retired=False),
        villages=villages, village=village, listed=listed,
        chosen=[h for h in wanted if h.id not in listed_ids],
        checked={h.id for h in wanted}, blocked=blocked, summary=summary,
        unknown_blocked=[i for i in blocked if i not in {h.id for h in wanted}],
        household_errors=list(household_errors), today=today,
        earliest=today - timedelta(days=int(current_app.config["POINTS_MAX_AGE_DAYS"])),
    ), status


@bp.get("/award")
def award():
    policy.require(current_user, "points.award")
    form = AwardForm()
    form.rule_code.data = request.args.get("rule_code") or ""
    form.occurred_on.data = local_today().isoformat()
    return _award_page(form, village_id=request.args.get("village_id", type=int),
                       wanted=request.args.getlist("household_id"))[0]


@bp.post("/award")
def award_post():
    policy.require(current_user, "points.award")
    form = AwardForm()
    if not form.validate_on_submit():
        abort(400)
    ids = request.form.getlist("household_ids")
    village_id = request.form.get("village_id", type=int)
    upload = form.evidence.data
    if upload is None or not getattr(upload, "filename", ""):
        upload = None
    data = {"household_ids": ids, "rule_code": form.rule_code.data,
            "occurred_on": form.occurred_on.data, "note": form.note.data}
    with attempt(ValidationError, CapExceeded, HouseholdInactive, NotFound) as refused:
        made = awards.award_points(current_user, data, upload)
    if refused and isinstance(refused.error, ValidationError):
        err = refused.error
        household_errors = [str(m) for m in err.errors.pop("household_ids", [])]
        apply_errors(form, err)
        return _award_page(form, village_id=village_id, wanted=ids,
                           household_errors=household_errors)
    if refused:
        err = refused.error
        if not err.households:
            raise err
        blocked = {hid: [str(m) for m in msgs] for hid, msgs in err.households.items()}
        return _award_page(form, village_id=village_id, wanted=ids, blocked=blocked,
                           summary=str(err.detail), status=404 if isinstance(err, NotFound) else 200)
    flash(_award_message(made), "success")
    return redirect(url_for("points.award", village_id=village_id, rule_code=made[0].rule_code))


def _award_message(made) -> str:
    first, n = made[0], len(made)
    if first.kind == "award":
        text = ngettext("%(points)d points awarded to %(num)d household.",
                        "%(points)d points awarded to %(num)d households.", n, points=first.points)
    else:
        text = ngettext("%(points)d points deducted from %(num)d household.",
                        "%(points)d points deducted from %(num)d households.", n,
                        points=-first.points)
    if first.status == "posted":
        return text + " " + _("They count at once.")
    until = last_notice_day(first.notice_ends_at).isoformat()
    text += " " + _("On public notice until %(date)s.", date=until)
    if first.needs_approval:
        text += " " + _("A cadre must also approve it.")
    return text


@bp.get("/award/households")
def award_households():
    """The tick list of one village, as an HTML fragment for the awarding page."""
    policy.require(current_user, "points.award")
    village, listed = households.village_households(current_user,
                                                    request.args.get("village_id", type=int))
    return render_template("points/_village_households.html", village=village, listed=listed,
                           checked=set(), blocked={})


@bp.post("/cards/resolve")
@json_view
def resolve_card():
    """A scanned QR payload or a typed card number -> the household (JSON, for points.js)."""
    policy.require(current_user, "points.award")
    body = request.get_json(silent=True)
    code = body.get("code") if isinstance(body, dict) else None
    code = re.sub(r"[\s-]", "", code) if isinstance(code, str) else ""
    if not code:
        message = _("Scan a card or type its number.")
        raise ValidationError({"code": [message]}, detail=message)
    if CARD_NUMBER.fullmatch(code):
        card = cards.resolve_card(current_user, number=code)
    else:
        card = cards.resolve_card(current_user, payload=code)
    hh = card.household
    policy.require(current_user, "points.award", hh)
    return {"household": {"id": hh.id, "code": hh.code, "head_name": hh.head_name,
                          "village": hh.village.name, "village_id": hh.village_id,
                          "balance": hh.balance}}


# -- the rule catalogue -------------------------------------------------------------

@bp.get("/rules")
def rules_index():
    return render_template("points/rules.html", groups=rules.rules_by_category(),
                           retired=rules.retired_rules(),
                           form=FlaskForm())


@bp.route("/rules/new", methods=["GET", "POST"])
def rule_new():
    policy.require(current_user, "rules.manage")
    form = RuleForm()
    if form.validate_on_submit():
        data = form.data_for_service()
        if isinstance(data["code"], str) and rules.current_rule(data["code"].strip()) is not None:
            form.code.errors = [_("This code is already in the catalogue; change that rule instead.")]
        else:
            with attempt(ValidationError, Conflict) as refused:
                rule = rules.create_rule(current_user, data)
            if refused:
                apply_errors(form, refused.error)
            else:
                flash(_("Rule %(code)s added.", code=rule.code), "success")
                return redirect(url_for("points.rules_index") + f"#rule-{rule.code}")
    return render_template("points/rule_form.html", form=form, rule=None, versions=[],
                           categories=_categories())


@bp.route("/rules/<code>/edit", methods=["GET", "POST"])
def rule_edit(code: str):
    policy.require(current_user, "rules.manage")
    latest = rules.current_rule(code)
    if latest is None:
        abort(404)
    form = RuleForm(obj=latest)
    if request.method == "GET":
        form.cap_per_month.data = latest.cap_per_month if latest.cap_per_month is not None else ""
    if form.validate_on_submit():
        with attempt(ValidationError, Conflict) as refused:
            rule = rules.change_rule(current_user, latest.code, form.data_for_service())
        if refused:
            apply_errors(form, refused.error)
        else:
            if rule is None:
                flash(_("Nothing changed."), "info")
            else:
                flash(_("Rule %(code)s is now version %(version)d; earlier awards keep their points.",
                        code=rule.code, version=rule.version), "success")
            return redirect(url_for("points.rules_index") + f"#rule-{latest.code}")
    return render_template("points/rule_form.html", form=form, rule=latest,
                           versions=rules.rule_versions(latest.code), categories=_categories())


def _categories() -> list[str]:
    return [category for category, _rules in rules.rules_by_category(include_retired=True)]


@bp.post("/rules/<code>/retire")
def rule_retire(code: str):
    policy.require(current_user, "rules.manage")
    if not FlaskForm().validate_on_submit():
        abort(400)
    rule = rules.retire_rule(current_user, code)
    flash(_("Rule %(code)s retired: it can no longer be awarded. Past awards are kept.",
            code=rule.code), "success")
    return redirect(url_for("points.rules_index"))


@bp.route("/rules/import", methods=["GET", "POST"])
def rules_import():
    policy.require(current_user, "rules.manage")
    form = RuleImportForm()
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        with attempt(ValidationError, Conflict) as refused:
            summary = rules.import_rules(current_user, upload.filename, upload.read())
        if refused:
            problems = _import_problems(refused.error)
        else:
            flash(_("Catalogue imported: %(added)d new rules, %(versions)d new versions, "
                    "%(unchanged)d unchanged.", added=summary["added"],
                    versions=summary["new_versions"], unchanged=summary["unchanged"]), "success")
            return redirect(url_for("points.rules_index"))
    return render_template("points/rules_import.html", form=form, problems=problems)


def _import_problems(err) -> list[tuple[str, str]]:
    """[(where, message)] with 'rows.5.points' read as 'Row 5, points'."""
    out = []
    for key, messages in (err.errors or {"": [err.detail]}).items():
        parts = key.split(".")
        where = (_("Row %(row)s, %(field)s", row=parts[1], field=parts[2])
                 if len(parts) == 3 and parts[0] == "rows" else "")
        out.extend((where, str(m)) for m in messages)
    return out


@bp.get("/rules/export")
def rules_export():
    fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    content, mimetype, filename = rules.export_rules(fmt)
    audit.record_ref(current_user, "export", "rules", None, format=fmt)
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


# -- review, objections, reversals ---------------------------------------------------

@bp.get("/review")
def review_page():
    village_id = request.args.get("village_id", type=int)
    decisions = entries.decision_queue(current_user, village_id)
    notice, notice_total = entries.on_notice(current_user, village_id)
    return render_template("points/review.html", decisions=decisions, notice=notice,
                           notice_total=notice_total, villages=_villages(),
                           village_id=village_id, now=utcnow())


def _entry_action(entry_id: int, permission: str, act, *, objector: bool = False):
    """Run an act on an entry from a small form; a refusal of the entry's state
    comes back as a flash (a role that may not act at all: 403)."""
    policy.require(current_user, permission)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    back = _back(url_for("points.review_page"))
    data = {"reason": form.reason.data}
    if objector:
        data["objector"] = form.objector.data
    with attempt(ValidationError, Conflict, Forbidden) as refused:
        result = act(current_user, entry_id, data)
    if refused:
        flash_refusal(refused.error)
        return redirect(back), None
    return redirect(back), result


@bp.post("/entries/<int:entry_id>/objection")
def entry_objection(entry_id: int):
    response, entry = _entry_action(entry_id, "points.object", entries.raise_objection,
                                    objector=True)
    if entry is not None:
        flash(_("Objection recorded: entry %(id)d is disputed until a cadre decides.", id=entry.id),
              "success")
    return response


@bp.post("/entries/<int:entry_id>/approve")
def entry_approve(entry_id: int):
    response, entry = _entry_action(entry_id, "points.decide", entries.approve_entry)
    if entry is not None:
        flash(_("Entry %(id)d upheld.", id=entry.id) if entry.decided_by_id == current_user.id
              else _("Entry %(id)d approved.", id=entry.id), "success")
    return response


@bp.post("/entries/<int:entry_id>/reject")
def entry_reject(entry_id: int):
    response, entry = _entry_action(entry_id, "points.decide", entries.reject_entry)
    if entry is not None:
        flash(_("Entry %(id)d rejected: it will never count.", id=entry.id), "success")
    return response


@bp.post("/entries/<int:entry_id>/withdraw")
def entry_withdraw(entry_id: int):
    response, entry = _entry_action(entry_id, "points.withdraw", entries.withdraw_entry)
    if entry is not None:
        flash(_("Entry %(id)d withdrawn: it will never count.", id=entry.id), "success")
    return response


@bp.post("/entries/<int:entry_id>/reverse")
def entry_reverse(entry_id: int):
    response, reversal = _entry_action(entry_id, "points.reverse", entries.reverse_entry)
    if reversal is not None:
        flash(_("Entry %(id)d reversed by entry %(reversal)d (%(points)+d points).",
                id=entry_id, reversal=reversal.id, points=reversal.points), "success")
    return response


@bp.get("/evidence/<int:evidence_id>")
def evidence_photo(evidence_id: int):
    ev, path = evidence.get_evidence(current_user, evidence_id)
    response = send_file(path, mimetype=ev.content_type, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- the household passbook, as staff and cadres see it ---------------------------------

@bp.get("/households/<int:household_id>")
def household_passbook(household_id: int):
    hh = scope.get_household(current_user, household_id)
    if fmt := wanted(request.args):
        entries = passbook.passbook_page(hh, per_page=EXPORT_ROWS)["entries"]
        return download(f"ledger-{hh.code}", list_exports.ledger(entries), fmt, household=hh)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    book = passbook.passbook_page(hh, page=page)
    return render_template("points/passbook.html", hh=hh, book=book, now=utcnow(),
                           card=cards.current_card(hh), visits=visits.visits_of(current_user, hh))


@bp.post("/households/<int:household_id>/pin")
def household_pin(household_id: int):
    form = PinForm()
    if not form.validate_on_submit():
        abort(400)
    with attempt(ValidationError) as refused:
        hh, pin = passbook.set_passbook_pin(current_user, household_id, form.pin.data)
    if refused:
        flash_refusal(refused.error)
    else:
        if form.pin.data and form.pin.data.strip():
            flash(_("Passbook PIN set. The household opens its passbook at %(url)s with its card "
                    "number and this PIN.", url=url_for("public.passbook", _external=True)),
                  "success")
        else:
            flash(_("New passbook PIN: %(pin)s. Give it to the household; it is not shown again.",
                    pin=pin), "success")
    return redirect(url_for("households.detail", household_id=household_id) + "#points")


@bp.post("/households/<int:household_id>/pin/clear")
def household_pin_clear(household_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    passbook.clear_passbook_pin(current_user, household_id)
    flash(_("Passbook PIN removed: the passbook can no longer be opened without a login."), "success")
    return redirect(url_for("households.detail", household_id=household_id) + "#points")


@bp.app_context_processor
def _entry_labels() -> dict:
    return {"entry_kinds": ENTRY_KINDS, "entry_statuses": ENTRY_STATUSES, "entry_kind": entry_kind}


@bp.app_template_global("household_points")
def household_points(hh, limit: int = 5) -> dict:
    """The points section of the household page: on notice, the latest entries, the PIN."""
    book = passbook.passbook_page(hh, per_page=limit)
    return {**book, "pin_set": hh.passbook_pin_hash is not None, "now": utcnow()}


@bp.app_template_filter("last_notice_day")
def last_notice_day_filter(notice_ends_at) -> str:
    """The last day objections are taken, as YYYY-MM-DD."""
    return last_notice_day(notice_ends_at).isoformat()


# -- notices ------------------------------------------------------------------------------

@bp.get("/notices")
def notices():
    today = local_today()
    return render_template("points/notices.html", villages=_villages(),
                           month=today.strftime("%Y-%m"),
                           last_month=(today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"))
