"""A volunteer's view of the donors of their supermarkets (the reports are
for cadres): the same figures as the cadre's donations-by-donor report."""
from flask import render_template, request, url_for
from flask_login import current_user

from app.boundary import attempt
from app.exports import download, wanted
from app.forms import flash_refusal
from app.goods import bp
from app.reports.views import PERIODS, _period_args
from app.services.errors import ValidationError
from app.extensions import db
from app.services.people import policy, scope
from app.services.reports import goods as figures
from app.services.reports import period, tables


@bp.get("/supermarket-donors")
def supermarket_donors():
    policy.require(current_user, "stock.read")
    args = _period_args()
    sort = args.get("sort") if args.get("sort") in figures.DONOR_SORTS else "given"
    rows, markets = [], []
    with attempt(ValidationError) as refused:
        rows, markets = figures.supermarket_donations(current_user, args, period.parse(args), sort)
    if refused:
        flash_refusal(refused.error)
    elif fmt := wanted(args):
        return download("supermarket-donors", tables.donations(rows), fmt)
    keep = {k: args[k] for k in ("period", "from", "to", "supermarket_id") if args.get(k)}
    return render_template(
        "goods/supermarket_donors.html", rows=rows, markets=markets, args=args, periods=PERIODS,
        markets_all=list(db.session.scalars(scope.visible_supermarkets(current_user))),
        sort=sort, donor_link=policy.can(current_user, "donors.read"),
        sort_urls={s: url_for("goods.supermarket_donors", **keep, sort=s) for s in figures.DONOR_SORTS},
        exports={fmt: url_for("goods.supermarket_donors", **{**request.args.to_dict(), "format": fmt})
                 for fmt in ("csv", "xlsx")})
