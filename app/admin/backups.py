"""The backups page (admin): the last backups and restores, how to schedule
them; and the warning every admin page carries while no good backup is recent."""
from flask import current_app, render_template
from flask_login import current_user

from app.admin import bp
from app.services.safekeeping import backups


@bp.route("/backups")
def backups_page():
    runs = backups.recent_runs(current_user)
    return render_template("admin/backups.html", runs=runs, warning=backups.overdue(current_user),
                           folder=backups.backup_folder(), keep_daily=current_app.config["BACKUP_KEEP_DAILY"],
                           keep_monthly=current_app.config["BACKUP_KEEP_MONTHLY"])


@bp.app_context_processor
def _backup_warning():
    """`backup_warning()` in templates: asked only on an admin's pages (base.html)."""
    def warning():
        if not current_user.is_authenticated:
            return None
        try:
            return backups.overdue(current_user)
        except Exception:  # the database is down: the 503 page must still draw
            current_app.logger.debug("backup warning skipped", exc_info=True)
            return None
    return {"backup_warning": warning}
