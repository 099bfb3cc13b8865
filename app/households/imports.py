"""Import a household register from .xlsx, .xls or .csv: upload, preview, confirm.

Between preview and confirm, what was kept of the upload (the recognised
columns only, never ID numbers) waits in instance/imports/<token>.json; the
token lives in the user's session, so no name ever appears in a URL. Every
POST here is covered by the app-wide CSRF protection."""
import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.boundary import attempt
from app.forms import apply_errors, flash_refusal
from app.households import bp
from app.households.forms import ImportForm
from app.services.people import register_import as service
from app.services.people import policy
from app.services.errors import ValidationError

SESSION_KEY = "household_import"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")
# A preview nobody confirmed is deleted after a day.
MAX_AGE_SECONDS = 24 * 3600


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _pending() -> Path | None:
    """The file of this user's waiting import, if there is one."""
    pending = session.get(SESSION_KEY)
    if not isinstance(pending, dict) or pending.get("user") != current_user.id:
        return None
    token = pending.get("token")
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    path = _folder() / f"{token}.json"
    return path if path.is_file() else None


def _discard() -> None:
    path = _pending()
    session.pop(SESSION_KEY, None)
    if path is not None:
        path.unlink(missing_ok=True)


def _sweep() -> None:
    """Delete previews left waiting too long (the user walked away)."""
    cutoff = time.time() - MAX_AGE_SECONDS
    for path in _folder().iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


def _keep(sheet: service.Sheet) -> None:
    _discard()
    _sweep()
    token = secrets.token_urlsafe(32)
    path = _folder() / f"{token}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(sheet.to_json())
    session[SESSION_KEY] = {"token": token, "user": current_user.id}


def _field_labels() -> dict:
    return {"head_name": _("Head of household"), "members": _("Household size"),
            "phone": _("Mobile phone"), "village": _("Village"), "address": _("Address"),
            "tags": _("Tags"), "duplicate": _("Duplicate"),
            "register_no": _("Household number (户编号)")}


@bp.route("/import", methods=["GET", "POST"])
def import_register():
    policy.require(current_user, "households.import")
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(service.MAX_BYTES + 1)
        try:
            sheet = service.parse_register(data, upload.filename or "")
        except ValidationError as err:
            apply_errors(form, err)
        else:
            _keep(sheet)
            return redirect(url_for("households.import_register"))
    elif request.method == "GET" and (path := _pending()) is not None:
        preview = service.preview_import(current_user, service.Sheet.from_json(path.read_text("utf-8")))
        only_bad = request.args.get("show") == "bad"
        rows = [r for r in preview.rows if not r.ok] if only_bad else preview.rows
        return render_template("households/import_preview.html", preview=preview, rows=rows,
                               only_bad=only_bad, labels=_field_labels())
    return render_template("households/import.html", form=form,
                           max_rows=service.MAX_ROWS, max_mb=service.MAX_BYTES // (1024 * 1024))


@bp.post("/import/confirm")
def import_confirm():
    policy.require(current_user, "households.import")
    path = _pending()
    claimed = path.with_suffix(".claimed") if path is not None else None
    try:
        # Claiming the file first means a double click cannot import the rows twice.
        os.rename(path, claimed)
    except (TypeError, FileNotFoundError):
        flash(_("No import is waiting: upload the file again."), "warning")
        return redirect(url_for("households.import_register"))
    try:
        preview = service.preview_import(current_user, service.Sheet.from_json(claimed.read_text("utf-8")))
        only_good = request.form.get("mode") == "good"
        expected = request.form.get("expected", type=int)
        if expected is not None and expected != (preview.good if only_good else len(preview.rows)):
            os.rename(claimed, path)
            flash(_("The register changed since the preview: check the rows again."), "warning")
            return redirect(url_for("households.import_register"))
        with attempt(ValidationError) as refused:
            created = service.import_households(current_user, preview, only_good=only_good)
    except BaseException:
        os.rename(claimed, path)
        raise
    if refused:
        os.rename(claimed, path)
        flash_refusal(refused.error)
        return redirect(url_for("households.import_register"))
    # The request commits the households when it ends; if that failed, the
    # upload would have to be made again (nothing of it would be written).
    claimed.unlink(missing_ok=True)
    session.pop(SESSION_KEY, None)
    updated = sum(1 for r in preview.rows if r.ok and r.existing is not None)
    added = len(created) - updated
    flash(ngettext("%(num)d household added.", "%(num)d households added.", added), "success")
    if updated:
        flash(ngettext("%(num)d household updated from the register.",
                       "%(num)d households updated from the register.", updated), "success")
    return redirect(url_for("households.index"))


@bp.post("/import/cancel")
def import_cancel():
    policy.require(current_user, "households.import")
    _discard()
    flash(_("The import was cancelled; nothing was written."), "info")
    return redirect(url_for("households.import_register"))
