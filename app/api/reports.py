"""Reports for cadres (their region), admins (everything) and staff (their
villages): figures computed in SQL from the monthly totals."""
from flask import g, request

from app.api import bp
from app.api.common import paginated, pagination, json_body
from app.api.schemas.reports import (EngagementPage, EngagementQuery, ExplanationIn,
                                     ExplanationOut, ExportableRange, FairnessList, InactivePage,
                                     InactiveQuery, RangeQuery, SummaryOut, TrendList, TrendQuery,
                                     VillageList, VisitIn, VisitOut)
from app.exports import send_table, wanted
from app.api.spec import endpoint
from app.services.errors import Errors
from app.services.reports import fairness, figures, period, tables, visits


def _export(name: str, table, fmt: str, *, count: int | None = None):
    columns, rows = table
    return send_table(g.user, name, columns, rows, fmt, filters=request.args, count=count)


def _iso(row: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@bp.get("/reports/summary")
@endpoint("reports.read", tag="reports", query=RangeQuery, body=SummaryOut, problems=(404,))
def report_summary():
    """The dashboard's figures for a region and range."""
    return figures.summary(g.user, request.args, period.parse(request.args))


@bp.get("/reports/engagement")
@endpoint("reports.read", tag="reports", query=EngagementQuery, body=EngagementPage,
          problems=(404,), exports=True)
def report_engagement():
    """Per household: points earned, deducted and redeemed in the range, last
    award and redemption, balance, points by category (paginated)."""
    errors = Errors()
    sort = figures.sort_field(errors, request.args)
    errors.raise_if_any()
    rng = period.parse(request.args)
    if fmt := wanted(request.args):
        table, total = tables.engagement_download(g.user, request.args, rng, sort, fmt)
        return _export("engagement", table, fmt, count=total)
    page, per_page = pagination()
    rows, total = figures.engagement(g.user, request.args, rng, page=page, per_page=per_page,
                                     sort=sort)
    return paginated([_iso(r) for r in rows], page, per_page, total)


@bp.get("/reports/villages")
@endpoint("reports.read", tag="reports", query=ExportableRange, body=VillageList, problems=(404,),
          exports=True)
def report_villages():
    """Villages side by side, ranked (1, 2, 2, 4) by participation, then points per household."""
    rows = figures.villages(g.user, request.args, period.parse(request.args))
    if fmt := wanted(request.args):
        return _export("villages", tables.villages(rows), fmt)
    return {"items": rows}


@bp.get("/reports/trends")
@endpoint("reports.read", tag="reports", query=TrendQuery, body=TrendList, problems=(404,),
          exports=True)
def report_trends():
    """One row per calendar month the range touches (default: 12 months up to this one)."""
    rows = figures.trends(g.user, request.args, period.parse(request.args, default="months"))
    if fmt := wanted(request.args):
        return _export("trends", tables.trends(rows), fmt)
    return {"items": rows}


@bp.get("/reports/inactive")
@endpoint("reports.read", tag="reports", query=InactiveQuery, body=InactivePage, problems=(404,),
          exports=True)
def report_inactive():
    """Needs a visit: active households with no award and no checkout for `months`
    months and no visit since; never-active first, then the longest quiet."""
    if fmt := wanted(request.args):
        rows, _, _ = visits.inactive(g.user, request.args)
        return _export("inactive", tables.inactive(rows), fmt)
    page, per_page = pagination()
    rows, total, _ = visits.inactive(g.user, request.args, page=page, per_page=per_page)
    return paginated([_iso(r) for r in rows], page, per_page, total)


@bp.post("/households/<int:household_id>/visits")
@endpoint("visits.record", tag="reports", json=VisitIn, ok=201, body=VisitOut, problems=(404,))
def create_visit(household_id: int):
    """Record a helper's or cadre's visit to a household."""
    visit = visits.record_visit(g.user, household_id, json_body())
    return visit_body(visit), 201


def visit_body(visit) -> dict:
    return {"id": visit.id, "household_id": visit.household_id,
            "visited_on": visit.visited_on.isoformat(), "note": visit.note,
            "created_by": visit.created_by.username if visit.created_by else None,
            "created_at": visit.created_at.isoformat()}


@bp.get("/reports/fairness")
@endpoint("reports.fairness", tag="reports", query=ExportableRange, body=FairnessList,
          problems=(404,), exports=True)
def report_fairness():
    """Patterns worth a question (concentration, reversals, deductions, backdated,
    no-card), each with the entries behind it; never a sanction."""
    flags = fairness.flags(g.user, request.args)
    if fmt := wanted(request.args):
        return _export("fairness", tables.fairness(flags), fmt)
    return {"items": flags}


@bp.post("/reports/fairness/explanations")
@endpoint("reports.fairness", tag="reports", json=ExplanationIn, ok=201, body=ExplanationOut,
          problems=(404,))
def explain_flag():
    """A cadre's note on a flag: it stays listed, marked explained, for reports
    whose range overlaps the note's."""
    note = fairness.explain(g.user, json_body())
    return {"id": note.id, "kind": note.kind, "subject_type": note.subject_type,
            "subject_id": note.subject_id, "from": note.from_day.isoformat(),
            "to": note.to_day.isoformat(), "note": note.note, "by": g.user.username,
            "at": note.created_at.isoformat()}, 201
