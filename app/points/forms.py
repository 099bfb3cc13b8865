"""Forms of the points pages: rendering and CSRF; the services do the real checks."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField


class AwardForm(FlaskForm):
    rule_code = SelectField(_l("Rule"), validate_choice=False)
    occurred_on = StringField(_l("Date"))
    note = TextAreaField(_l("Note"))
    evidence = FileField(_l("Photo as evidence"),
                         render_kw={"accept": "image/*", "capture": "environment"})


class RuleForm(FlaskForm):
    code = StringField(_l("Rule code"))
    category = StringField(_l("Category"))
    name = StringField(_l("Behaviour"))
    points = StringField(_l("Points"))
    unit = StringField(_l("Unit"))
    cap_per_month = StringField(_l("Monthly cap"))
    needs_evidence = BooleanField(_l("Needs a photo as evidence"))

    def data_for_service(self) -> dict:
        return {"code": self.code.data, "category": self.category.data, "name": self.name.data,
                "points": self.points.data, "unit": self.unit.data,
                "cap_per_month": self.cap_per_month.data,
                "needs_evidence": bool(self.needs_evidence.data)}


class RuleImportForm(FlaskForm):
    file = FileField(_l("Catalogue file (.xlsx or .csv)"),
                     validators=[FileRequired(_l("Choose a file to upload."))],
                     render_kw={"accept": ".xlsx,.csv"})


class ReasonForm(FlaskForm):
    """Objection, decision, withdrawal, reversal: a reason, who objected (an
    objection only), and the page to go back to."""
    reason = StringField(_l("Reason"))
    objector = StringField(_l("Who objected (optional, kept private)"))
    next = HiddenField()


class PinForm(FlaskForm):
    pin = StringField(_l("New PIN (6 digits)"))
