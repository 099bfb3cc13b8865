from urllib.parse import urlparse

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from app.extensions import db
from app.i18n import COOKIE
from app.main import bp
from app.services.people import policy, scope


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # the request boundary rolls back a 503
        return {"status": "unavailable"}, 503
    return {"status": "ok"}


def safe_target(target: str | None) -> str:
    """A path on this site to send the browser on to, else the home page. Browsers
    read a backslash as a slash, so "/\\evil.example" would leave the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("main.index")
    return target


def _same_site_path(url: str | None) -> str | None:
    parsed = urlparse(url or "")
    if parsed.netloc != request.host:
        return None
    return parsed.path + ("?" + parsed.query if parsed.query else "")


@bp.get("/lang/<code>")
def set_language(code: str):
    response = redirect(safe_target(request.args.get("next") or _same_site_path(request.referrer)))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=bool(current_app.config["HTTPS"]))
    return response


@bp.get("/")
@login_required
def index():
    """Each role's home page (main/home_<role>.html); a cadre's is the dashboard."""
    user = current_user
    if policy.can(user, "reports.fairness") and policy.reach(user) == "region":
        from app.reports.views import dashboard
        return dashboard(home=True)
    if policy.can(user, "giving.own"):
        from app.donors.views import home
        return home()
    stats = {}
    if policy.can(user, "households.read_register"):
        hh = scope.visible_households(user).subquery()
        stats["households"] = db.session.scalar(select(func.count()).select_from(hh))
        stats["active"] = db.session.scalar(
            select(func.count()).select_from(hh).where(hh.c.status == "active"))
        stats["villages"] = len(db.session.scalars(scope.visible_villages(user)).all())
    supermarkets = db.session.scalars(scope.visible_supermarkets(user)).all()
    # Staff and cadres (whose reach is a region, not the whole county) see their villages listed.
    villages = db.session.scalars(scope.visible_villages(user)).all() \
        if stats and scope.region_paths(user) else []
    quiet = None
    if policy.can(user, "visits.record") and policy.can(user, "reports.read"):
        from app.services.reports import visits
        quiet = visits.inactive(user, {}, page=1, per_page=5)
    return render_template(f"main/home_{user.role}.html", stats=stats,
                           supermarkets=supermarkets, villages=villages, quiet=quiet)
