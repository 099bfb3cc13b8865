"""Points: the rule catalogue, awards, objections, approvals, reversals, the
household ledger and evidence photos."""
from flask import Response, g, request

from app.api import bp, serializers
from app.api.common import authenticated, json_body, paginated, pagination
from app.api.idempotency import idempotent
from app.services.points import evidence
from app.services.points import awards as points
from app.services.points import rules
from app.services.people import policy
from app.services.points import entries
from app.services.points import passbook

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@bp.get("/rules")
@authenticated
def list_rules():
    return {"items": [serializers.rule(r) for r in rules.list_rules()]}


@bp.post("/rules")
@authenticated
@idempotent
def create_rule():
    policy.require(g.user, "rules.manage")
    return serializers.rule(rules.create_rule(g.user, json_body())), 201


@bp.post("/rules/<code>/retire")
@authenticated
@idempotent
def retire_rule(code: str):
    policy.require(g.user, "rules.manage")
    return serializers.rule(rules.retire_rule(g.user, code))


def _award_input() -> tuple[dict, object]:
    """The award's fields and its photo, from JSON or a form upload."""
    if request.mimetype not in FORM_TYPES:
        return json_body(), None
    form = request.form
    ids = []
    for value in form.getlist("household_ids"):
        ids.extend(v for v in value.replace("，", ",").split(",") if v.strip())
    data = {"household_ids": ids, "rule_code": form.get("rule_code"),
            "occurred_on": form.get("occurred_on"), "note": form.get("note")}
    upload = request.files.get("evidence")
    return data, (upload if upload is not None and upload.filename != "" else None)


@bp.post("/awards")
@authenticated
@idempotent
def create_awards():
    policy.require(g.user, "points.award")
    data, upload = _award_input()
    entries = points.award_points(g.user, data, upload)
    return {"items": [serializers.entry(e) for e in entries]}, 201


def _entry_body(entry) -> dict:
    return serializers.entry(entry, passbook.reversed_by([entry]).get(entry.id))


@bp.post("/entries/<int:entry_id>/objection")
@authenticated
@idempotent
def object_to_entry(entry_id: int):
    return _entry_body(entries.raise_objection(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/approve")
@authenticated
@idempotent
def approve_entry(entry_id: int):
    policy.require(g.user, "points.decide")
    return _entry_body(entries.approve_entry(g.user, entry_id))


@bp.post("/entries/<int:entry_id>/reject")
@authenticated
@idempotent
def reject_entry(entry_id: int):
    policy.require(g.user, "points.decide")
    return _entry_body(entries.reject_entry(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/reverse")
@authenticated
@idempotent
def reverse_entry(entry_id: int):
    policy.require(g.user, "points.reverse")
    return serializers.entry(entries.reverse_entry(g.user, entry_id, json_body())), 201


@bp.get("/households/<int:household_id>/ledger")
@authenticated
def household_ledger(household_id: int):
    page, per_page = pagination()
    _, items, total = passbook.household_ledger(g.user, household_id, page=page, per_page=per_page)
    reversals = passbook.reversed_by(items)
    return paginated([serializers.entry(e, reversals.get(e.id)) for e in items],
                     page, per_page, total)


@bp.get("/evidence/<int:evidence_id>")
@authenticated
def get_evidence(evidence_id: int):
    ev, path = evidence.get_evidence(g.user, evidence_id)
    # Photos are small (at most 1600 px): read whole, so no file handle outlives the request.
    response = Response(path.read_bytes(), mimetype=ev.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
