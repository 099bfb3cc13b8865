"""Import a household register from .xlsx or .csv (placeholder, filled in by the import work)."""
from flask import render_template
from flask_login import current_user

from app.households import bp
from app.services import scope


@bp.route("/import", methods=["GET", "POST"])
def import_register():
    scope.require_role(current_user, "admin", "staff")
    return render_template("households/import.html")
