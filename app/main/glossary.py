"""The glossary page: the words the pages and printouts use, and what they mean."""
from flask import render_template
from flask_login import login_required

from app.glossary import terms
from app.main import bp


@bp.get("/glossary")
@login_required
def glossary():
    return render_template("main/glossary.html", terms=terms())
