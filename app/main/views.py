from urllib.parse import urlparse

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from app.extensions import db
from app.i18n import COOKIE
from app.main import bp
from app.models import Household, Region
from app.services import scope


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return {"status": "unavailable"}, 503
    return {"status": "ok"}


@bp.get("/lang/<code>")
def set_language(code: str):
    target = request.args.get("next") or request.referrer or url_for("main.index")
    if urlparse(target).netloc not in ("", request.host):
        target = url_for("main.index")
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=bool(current_app.config["HTTPS"]))
    return response


@bp.get("/")
@login_required
def index():
    user = current_user
    stats = {}
    if user.role in ("admin", "cadre", "staff"):
        hh = scope.visible_households(user).subquery()
        stats["households"] = db.session.scalar(select(func.count()).select_from(hh))
        stats["active"] = db.session.scalar(
            select(func.count()).select_from(hh).where(hh.c.status == "active"))
        stats["villages"] = len(db.session.scalars(scope.visible_villages(user)).all())
    supermarkets = db.session.scalars(scope.visible_supermarkets(user)).all()
    villages = db.session.scalars(scope.visible_villages(user)).all() if user.role in ("staff", "cadre") else []
    return render_template(f"main/home_{user.role}.html", stats=stats,
                           supermarkets=supermarkets, villages=villages)
