from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.api.auth import client_limit, username_limit
from app.auth import bp
from app.boundary import attempt
from app.auth.forms import LoginForm, PasswordForm
from app.extensions import db, login_manager
from app.forms import apply_errors
from app.main.views import safe_target
from app.models import User
from app.services.people import accounts
from app.services.errors import ValidationError


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


# What a user whose password an admin reset may still reach: everything
# else sends them to choose a new password first.
BEFORE_NEW_PASSWORD = {"auth.password", "auth.logout", "static", "main.set_language",
                       "main.healthz"}


@bp.before_app_request
def password_first():
    """After an admin's password reset, every page leads to the password form
    until the user has chosen a new one. The API is left alone: a token
    client cannot fill in a form (its login says must_change_password)."""
    if request.blueprint in ("api", "public") or request.endpoint in BEFORE_NEW_PASSWORD:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("auth.password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@username_limit()
@client_limit()
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            if user.must_change_password:
                return redirect(url_for("auth.password"))
            return redirect(safe_target(request.args.get("next")))
        g.login_failed = True
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    forced = current_user.must_change_password
    if forced:
        form.current_password.label.text = _("Temporary password")
    if form.validate_on_submit():
        with attempt(ValidationError) as refused:
            accounts.change_password(current_user, {
                "current_password": form.current_password.data,
                "new_password": form.new_password.data,
            })
        if refused:
            apply_errors(form, refused.error)
        else:
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form, forced=forced)
