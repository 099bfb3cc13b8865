"""Report pages over app.services.reports: the same figures as /api/v1/reports/*."""
from datetime import date, timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from app.boundary import attempt
from app.exports import download, wanted
from app.extensions import db
from app.forms import flash_refusal, page_number
from app.models import LedgerEntry
from app.reports import bp
from app.services.clock import local_today
from app.services import audit
from app.services.errors import ValidationError
from app.services.people import policy, scope, tags
from app.services.reports import briefing, fairness, figures, goods, period, tables, visits
from app.services.errors import Errors
from app.services.reports.period import month_of

PERIODS = ("month", "quarter", "year", "days30", "custom")
# The pages that answer ?format=csv|xlsx (the dashboard, also a cadre's /, does not).
EXPORTABLE = ("reports.engagement", "reports.villages", "reports.trends", "reports.inactive",
              "reports.fairness_page", "reports.supermarkets", "reports.donations")


@bp.before_request
@login_required
def _readers():
    policy.require(current_user, "reports.read")


def _period_args() -> dict:
    """The query string with `from`/`to` filled in from ?period= (this month by default)."""
    args = request.args.to_dict()
    today = local_today()
    chosen = args.get("period") or ("custom" if args.get("from") or args.get("to") else "month")
    starts = {"month": month_of(today),
              "quarter": date(today.year, 3 * ((today.month - 1) // 3) + 1, 1),
              "year": date(today.year, 1, 1), "days30": today - timedelta(days=29)}
    if chosen in starts:
        args["from"], args["to"] = starts[chosen].isoformat(), today.isoformat()
    args["period"] = chosen if chosen in PERIODS else "custom"
    return args


def _context(args: dict) -> dict:
    """What every report page shows above its figures: the period and region choosers."""
    regions = [r for r in db.session.scalars(scope.visible_regions(current_user))]
    return {"args": args, "periods": PERIODS, "regions": regions,
            "villages": [r for r in regions if r.level == "village"],
            "tags": tags.known_names(),
            "can_fairness": policy.can(current_user, "reports.fairness"),
            "exports": _exports() if request.endpoint in EXPORTABLE else None}


def _exports() -> dict:
    """This page's own address, asking for a CSV or an Excel file."""
    query = request.args.to_dict()
    return {fmt: url_for(request.endpoint, **{**query, "format": fmt}) for fmt in ("csv", "xlsx")}


def _keep(args: dict, *names) -> dict:
    """The filters a link to another report carries along."""
    return {k: args[k] for k in ("period", "from", "to", "region_id", *names) if args.get(k)}


def _refused(err) -> str:
    flash_refusal(err)
    return redirect(url_for("reports.dashboard"))


@bp.get("/")
def dashboard(home: bool = False):
    """The cadre's home (also at /, with a greeting): the region's figures for
    the period, the trend and the villages."""
    args = _period_args()
    with attempt(ValidationError) as refused:
        rng = period.parse(args)
    if refused:
        return _refused(refused.error)
    village_rows = figures.villages(current_user, args, rng, redeeming=True)
    summary = figures.summary(current_user, args, rng, village_rows)
    year = period.parse({"region_id": args.get("region_id")}, default="months")
    trend = figures.trends(current_user, args, year, by_category=False)
    quiet = visits.inactive_count(current_user, {"region_id": args.get("region_id")})
    return render_template("reports/dashboard.html", summary=summary, trend=trend, home=home,
                           quiet=quiet, keep=_keep(args), **_context(args),
                           charts={"trend": _trend_chart(trend), "villages": _village_chart(village_rows)})


def _trend_chart(rows) -> dict:
    return {"kind": "bars", "labels": [r["month"] for r in rows], "series": [
        {"name": _("Points awarded"), "data": [r["points_awarded"] for r in rows]},
        {"name": _("Points redeemed"), "data": [r["points_redeemed"] for r in rows]},
        {"name": _("Points deducted"), "data": [r["points_deducted"] for r in rows]}]}


def _village_chart(rows) -> dict:
    rows = rows[:30]
    return {"kind": "hbars", "labels": [r["name"] for r in rows], "percent": True, "series": [
        {"name": _("Participation rate"),
         "data": [round(100 * (r["participation_rate"] or 0), 1) for r in rows]}]}


def _category_chart(rows) -> dict:
    categories = sorted({c for r in rows for c in r["by_category"]})
    return {"kind": "stacked", "labels": [r["month"] for r in rows], "series": [
        {"name": c, "data": [r["by_category"].get(c, 0) for r in rows]} for c in categories]}


@bp.get("/engagement")
def engagement():
    args = _period_args()
    page = page_number()
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    errors = Errors()
    sort = figures.sort_field(errors, args)
    fmt = wanted(args)
    with attempt(ValidationError) as refused:
        rng = period.parse(args)
        if fmt:
            table, total = tables.engagement_download(current_user, args, rng, sort, fmt)
        else:
            rows, total = figures.engagement(current_user, args, rng, sort=sort, page=page,
                                             per_page=per_page)
    if refused:
        return _refused(refused.error)
    if fmt:
        return download("engagement", table, fmt, count=total)
    context = _context(args)
    return render_template("reports/engagement.html", rows=rows, total=total, page=page,
                           per_page=per_page, sort=sort,
                           names={v.id: v.name for v in context["villages"]},
                           keep=_keep(args, "village_id", "tag"), **context)


@bp.get("/villages")
def villages():
    args = _period_args()
    with attempt(ValidationError) as refused:
        rows = figures.villages(current_user, args, period.parse(args))
    if refused:
        return _refused(refused.error)
    if fmt := wanted(args):
        return download("villages", tables.villages(rows), fmt)
    return render_template("reports/villages.html", rows=rows, keep=_keep(args),
                           charts={"villages": _village_chart(rows)}, **_context(args))


@bp.get("/trends")
def trends():
    args = request.args.to_dict()
    args.setdefault("period", "custom")
    with attempt(ValidationError) as refused:
        rng = period.parse(args, default="months")
        rows = figures.trends(current_user, args, rng)
    if refused:
        return _refused(refused.error)
    if fmt := wanted(args):
        return download("trends", tables.trends(rows), fmt)
    return render_template("reports/trends.html", rows=rows, keep=_keep(args),
                           top=figures.top_rules(current_user, args, rng),
                           charts={"trend": _trend_chart(rows), "categories": _category_chart(rows)},
                           **_context(args))


@bp.get("/supermarkets")
def supermarkets():
    """Checkouts, goods out and stock at the supermarkets serving the region."""
    args = _period_args()
    with attempt(ValidationError) as refused:
        found = goods.supermarkets(current_user, args, period.parse(args))
    if refused:
        return _refused(refused.error)
    if fmt := wanted(args):
        return download("supermarkets", tables.supermarkets(found["items"]), fmt)
    days = found["days"]
    chart = {"kind": "bars", "labels": [d["day"] for d in days], "series": [
        {"name": _("Checkouts"), "data": [d["checkouts"] for d in days]}]}
    return render_template("reports/supermarkets.html", found=found, keep=_keep(args),
                           charts={"days": chart}, can_stock=policy.can(current_user, "stock.read"),
                           **_context(args))


@bp.get("/donations")
def donations():
    """Per donor: what came in and what went out to households; this period's
    gifts followed to today (share redeemed, median days, write-offs)."""
    args = _period_args()
    sort = args.get("sort") if args.get("sort") in goods.DONOR_SORTS else "given"
    with attempt(ValidationError) as refused:
        rows = goods.donations(current_user, args, period.parse(args), sort)
    if refused:
        return _refused(refused.error)
    if fmt := wanted(args):
        return download("donations", tables.donations(rows), fmt)
    keep = _keep(args)
    return render_template("reports/donations.html", rows=rows, keep=keep, sort=sort,
                           sort_urls={s: url_for("reports.donations", **keep, sort=s)
                                      for s in goods.DONOR_SORTS},
                           donor_link=policy.can(current_user, "donors.read"), **_context(args))


@bp.get("/inactive")
def inactive():
    args = request.args.to_dict()
    page = page_number()
    per_page = current_app.config["PER_PAGE_DEFAULT"]
    fmt = wanted(args)
    with attempt(ValidationError) as refused:
        rows, total, since = visits.inactive(
            current_user, args, **({} if fmt else {"page": page, "per_page": per_page}))
    if refused:
        return _refused(refused.error)
    if fmt:
        return download("inactive", tables.inactive(rows), fmt)
    context = _context(args)
    return render_template("reports/inactive.html", rows=rows, total=total, page=page,
                           per_page=per_page, since=since, today=local_today(),
                           names={v.id: v.name for v in context["villages"]},
                           months=visits.quiet_since(args)[0], form=FlaskForm(),
                           keep=_keep(args, "village_id", "tag", "months"),
                           can_visit=policy.can(current_user, "visits.record"), **context)


@bp.post("/visits/<int:household_id>")
def record_visit(household_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    with attempt(ValidationError) as refused:
        hh = visits.record_visit(current_user, household_id, request.form).household
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("Visit to %(name)s recorded.", name=hh.head_name), "success")
    back = request.form.get("next") or ""
    return redirect(back if back.startswith("/reports/") else url_for("reports.inactive"))


@bp.get("/fairness")
def fairness_page():
    policy.require(current_user, "reports.fairness")
    args = _period_args()
    with attempt(ValidationError) as refused:
        flags = fairness.flags(current_user, args)
    if refused:
        return _refused(refused.error)
    if fmt := wanted(args):
        return download("fairness", tables.fairness(flags), fmt)
    # Where each entry behind a flag lives: its household's passbook (a checkout: its receipt).
    entry_ids = [i for f in flags if f["kind"] != "no-card" for i in f["entry_ids"]]
    households = dict(db.session.execute(
        select(LedgerEntry.id, LedgerEntry.household_id).where(LedgerEntry.id.in_(entry_ids)))
        .all()) if entry_ids else {}
    return render_template("reports/fairness.html", flags=flags, form=FlaskForm(),
                           households=households, keep=_keep(args), **_context(args))


@bp.post("/fairness/explain")
def explain():
    if not FlaskForm().validate_on_submit():
        abort(400)
    with attempt(ValidationError) as refused:
        fairness.explain(current_user, request.form)
    if refused:
        flash_refusal(refused.error)
    else:
        flash(_("The note is kept with the flag."), "success")
    back = request.form.get("next") or ""
    return redirect(back if back.startswith("/reports/") else url_for("reports.fairness_page"))



@bp.get("/briefing.pdf")
def briefing_pdf():
    """The month's briefing for the township meeting (A4, Chinese)."""
    with attempt(ValidationError) as refused:
        content, filename = briefing.briefing_pdf(current_user, request.args)
    if refused:
        return _refused(refused.error)
    audit.record_ref(current_user, "export", "briefing", None, format="pdf",
                     month=request.args.get("month"), region_id=request.args.get("region_id"))
    return Response(content, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename={filename}", "Cache-Control": "no-store"})
