"""The trail as a page (?before= / ?after= page through it) and as a file
(?format=csv|xlsx, every record matching the filters; the export is itself
recorded). Filters are ids, a household's code, a kind and dates: never a name."""
from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.audit import bp
from app.audit.labels import (ACTIONS, FAMILIES, action_label, details_text, object_label,
                              value_text)
from app.boundary import attempt
from app.exports import send_table, wanted
from app.services import audit_trail
from app.services.clock import local_zone
from app.services.errors import ValidationError
from app.services.people import policy

FILTERS = ("user_id", "household", "village_id", "kind", "from", "to")


@bp.before_request
@login_required
def _readers():
    policy.require(current_user, "audit.read")


@bp.get("/")
def index():
    args = {k: request.args.get(k, "") for k in FILTERS}
    fmt = wanted(request.args)
    page = None
    with attempt(ValidationError) as refused:
        filters = audit_trail.parse_filters(current_user, args)
        if fmt:
            rows = audit_trail.export_rows(current_user, filters)
        else:
            page = audit_trail.records(current_user, filters,
                                       per_page=current_app.config["PER_PAGE_DEFAULT"],
                                       before=request.args.get("before"),
                                       after=request.args.get("after"))
    if not refused and fmt:
        return send_table(current_user, "audit", *_table(rows), fmt, filters=filters.recorded())
    keep = {k: v for k, v in args.items() if v}
    return render_template(
        "audit/index.html", args=args, keep=keep, page=page,
        errors=refused.error.errors if refused else {}, families=FAMILIES,
        actions=sorted(ACTIONS.items(), key=lambda kv: kv[0]), action_label=action_label,
        object_label=object_label, value_text=value_text, can_open=policy.can(current_user, "households.read_register"),
        **audit_trail.choices(current_user))


def _when(moment) -> str:
    """A stored moment as local date and time, to the second."""
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _table(rows) -> tuple[list, list[list]]:
    columns = [_l("Time"), _l("User"), _l("Action"), _l("Action code"), _l("Object"),
               _l("Household code"), _l("Village"), _l("Client address"), _l("Details")]
    return columns, [[_when(r["at"]), r["username"] or "", action_label(r["action"]), r["action"],
                      object_label(r["object_type"], r["object_id"]), r["household_code"] or "",
                      r["village"] or "", r["address"] or "", details_text(r["details"])]
                     for r in rows]
