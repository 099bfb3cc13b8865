from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import Optional

from app.services.people import tags

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples
    SelectChoice = None


def select_choices(pairs) -> list:
    """(value, label) pairs as WTForms wants them: SelectChoice from 3.3 on,
    where tuples are deprecated (and go in 3.4)."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class HouseholdForm(FlaskForm):
    """Rendering and CSRF; the service does the real checks."""
    village_id = SelectField(_l("Village"), coerce=int)
    head_name = StringField(_l("Head of household"))
    members = IntegerField(_l("Household size"), validators=[Optional()])
    phone = StringField(_l("Mobile phone"))
    address = StringField(_l("Address"))
    tags = MultiCheckboxField(_l("Tags"))
    status = SelectField(_l("Status"), choices=select_choices([("active", _l("Active")), ("exited", _l("Exited"))]))
    submit = SubmitField(_l("Save"))

    def __init__(self, villages, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.village_id.choices = select_choices((v.id, v.name) for v in villages)
        # The tags that may be given, and the retired ones this household still carries.
        carried = list(getattr(kwargs.get("obj"), "tags", None) or [])
        active = tags.active_names()
        self.tags.choices = select_choices(
            [(t, t) for t in active]
            + [(t, _l("%(tag)s (retired)", tag=t)) for t in carried if t not in active])

    def data_for_service(self) -> dict:
        raw = self.members.raw_data[0] if self.members.raw_data else None
        data = {
            "head_name": self.head_name.data,
            "members": raw if raw not in (None, "") else None,
            "phone": self.phone.data,
            "address": self.address.data,
            "tags": self.tags.data or [],
        }
        # The add page drops status and the edit page village_id (del form.x leaves None).
        if self.village_id is not None:
            data["village_id"] = self.village_id.data
        if self.status is not None:
            data["status"] = self.status.data
        return data


class ImportForm(FlaskForm):
    """The register upload; the import service reads and checks the file."""
    file = FileField(_l("Register file (.xlsx, .xls or .csv)"),
                     validators=[FileRequired(_l("Choose a file to upload."))],
                     render_kw={"accept": ".xlsx,.xls,.csv"})
    submit = SubmitField(_l("Preview"))
