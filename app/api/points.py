"""Points: the rule catalogue, awards, objections, withdrawals, approvals, reversals, the
household ledger and evidence photos."""
from flask import Response, g, request

from app.api import bp, serializers
from app.api.common import json_body, paginated, pagination
from app.api.schemas.points import (AwardForm, AwardIn, DecisionIn, EntryList, EntryOut,
                                    EntryPage, LedgerQuery, ObjectionIn, ReasonIn, RuleIn,
                                    RuleList, RuleOut)
from app.api.spec import PROBLEMS, endpoint
from app.services.points import evidence
from app.services.points import awards as points
from app.services.points import rules
from app.services.points import entries
from app.services.points import passbook

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
ON_NOTICE = {404: PROBLEMS[404],
             409: "conflict: the entry is no longer open for this (on notice, disputed, "
                  "awaiting approval or posted, as the act needs)."}
DECIDING = {**ON_NOTICE, 403: "forbidden: the role may not decide, or the user made the award."}


@bp.get("/rules")
@endpoint("rules.read", tag="points", body=RuleList)
def list_rules():
    """The rule catalogue: the newest version of each code."""
    return {"items": [serializers.rule(r) for r in rules.list_rules()]}


@bp.post("/rules")
@endpoint("rules.manage", tag="points", json=RuleIn, ok=201, body=RuleOut, idempotent=True,
          problems={409: "conflict: the code was given a new version at the same moment."})
def create_rule():
    """Add a rule, or a new version of an existing code."""
    return serializers.rule(rules.create_rule(g.user, json_body())), 201


@bp.post("/rules/<code>/retire")
@endpoint("rules.manage", tag="points", body=RuleOut, idempotent=True, problems=(404,))
def retire_rule(code: str):
    """Retire a rule: it can no longer be awarded; past entries stay."""
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
@endpoint("points.award", tag="points", json=AwardIn, form=AwardForm,
          form_data=lambda: _award_input()[0], ok=201, body=EntryList, idempotent=True,
          problems={404: "not-found: a household outside the user's reach (named in `errors` "
                         "as households.<id>).",
                    413: "validation-error: the upload is too large (more than "
                         "MAX_CONTENT_LENGTH bytes, or a form of more than MAX_FORM_PARTS "
                         "fields or MAX_FORM_MEMORY_SIZE bytes besides files; config).",
                    422: "household-inactive: a household has exited; cap-exceeded: a "
                         "household is at the rule's monthly cap (each named in `errors` as "
                         "households.<id>). Nothing of the request is written."})
def create_awards():
    """Award or deduct a rule's points to households, all or none."""
    data, upload = _award_input()
    entries = points.award_points(g.user, data, upload)
    return {"items": [serializers.entry(e) for e in entries]}, 201


def _entry_body(entry) -> dict:
    return serializers.entry(entry, passbook.reversed_by([entry]).get(entry.id))


@bp.post("/entries/<int:entry_id>/objection")
@endpoint("points.object", tag="points", json=ObjectionIn, body=EntryOut, idempotent=True,
          problems=ON_NOTICE)
def object_to_entry(entry_id: int):
    """Object to an entry on public notice: it is disputed until a cadre decides.
    `objector` (who raised it) is kept apart from the reason and never shown in public."""
    return _entry_body(entries.raise_objection(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/withdraw")
@endpoint("points.withdraw", tag="points", json=ReasonIn, body=EntryOut, idempotent=True,
          problems={404: PROBLEMS[404],
                    409: "conflict: the entry has posted (a cadre reverses it instead) or is "
                         "already cancelled, or is not an award or deduction.",
                    403: "forbidden: the role may not withdraw, or staff who did not make "
                         "the entry."})
def withdraw_entry(entry_id: int):
    """Take back a mistaken award or deduction still on notice or disputed (its author,
    or a cadre): cancelled, `withdrawn: true`, never counts, not a rejection."""
    return _entry_body(entries.withdraw_entry(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/approve")
@endpoint("points.decide", tag="points", json=DecisionIn, body=EntryOut, idempotent=True,
          problems=DECIDING)
def approve_entry(entry_id: int):
    """Uphold a disputed entry, or approve an award above the approval threshold
    (with an optional reason)."""
    return _entry_body(entries.approve_entry(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/reject")
@endpoint("points.decide", tag="points", json=ReasonIn, body=EntryOut, idempotent=True,
          problems=DECIDING)
def reject_entry(entry_id: int):
    """Accept the objection or refuse the approval: the entry is cancelled."""
    return _entry_body(entries.reject_entry(g.user, entry_id, json_body()))


@bp.post("/entries/<int:entry_id>/reverse")
@endpoint("points.reverse", tag="points", json=ReasonIn, ok=201, body=EntryOut,
          idempotent=True, problems=ON_NOTICE)
def reverse_entry(entry_id: int):
    """Reverse a posted entry, once, by a new entry of the opposite points."""
    return serializers.entry(entries.reverse_entry(g.user, entry_id, json_body())), 201


@bp.get("/households/<int:household_id>/ledger")
@endpoint("households.read_register", tag="points", query=LedgerQuery, body=EntryPage,
          problems=(404,))
def household_ledger(household_id: int):
    """A household's entries, newest first (paginated)."""
    page, per_page = pagination()
    _, items, total = passbook.household_ledger(g.user, household_id, page=page, per_page=per_page)
    reversals = passbook.reversed_by(items)
    return paginated([serializers.entry(e, reversals.get(e.id)) for e in items],
                     page, per_page, total)


@bp.get("/evidence/<int:evidence_id>")
@endpoint("households.read_register", tag="points", media="image/jpeg", problems=(404,))
def get_evidence(evidence_id: int):
    """An evidence photo, for users who can see a household it backs."""
    ev, path = evidence.get_evidence(g.user, evidence_id)
    # Photos are small (at most 1600 px): read whole, so no file handle outlives the request.
    response = Response(path.read_bytes(), mimetype=ev.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
