from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField

from app.services.people import policy
from app.households.forms import MultiCheckboxField, select_choices


class RegionForm(FlaskForm):
    name = StringField(_l("Name"))
    level = SelectField(_l("Level"), choices=select_choices([
        ("province", _l("province")), ("city", _l("city")), ("county", _l("county")),
        ("township", _l("township")), ("village", _l("village"))]))
    parent_id = SelectField(_l("Part of"), coerce=str)
    submit = SubmitField(_l("Add region"))


class SupermarketForm(FlaskForm):
    name = StringField(_l("Name"))
    region_id = SelectField(_l("Serves"), coerce=str)
    submit = SubmitField(_l("Add supermarket"))


class UserForm(FlaskForm):
    username = StringField(_l("Username"))
    display_name = StringField(_l("Name shown"))
    password = PasswordField(_l("Password"))
    role = SelectField(_l("Role"), choices=select_choices([
        (role, label) for role, label in policy.ROLE_LABELS.items()]))
    region_id = SelectField(_l("Region (staff, cadre)"), coerce=str)
    supermarket_ids = MultiCheckboxField(_l("Supermarkets (volunteer)"), coerce=str)
    donor_id = SelectField(_l("Donor (donor account)"), coerce=str)
    submit = SubmitField(_l("Create account"))


class ToggleForm(FlaskForm):
    submit = SubmitField()


class UserEditForm(FlaskForm):
    """Rendering and CSRF; the service checks every choice (accounts.update_user)."""
    display_name = StringField(_l("Name shown"))
    role = SelectField(_l("Role"), choices=select_choices([
        (role, label) for role, label in policy.ROLE_LABELS.items()]), validate_choice=False)
    region_id = SelectField(_l("Region (staff, cadre)"), coerce=str, validate_choice=False)
    supermarket_ids = MultiCheckboxField(_l("Supermarkets (volunteer)"), coerce=str,
                                         validate_choice=False)
    donor_id = SelectField(_l("Donor (donor account)"), coerce=str, validate_choice=False)
    submit = SubmitField(_l("Save changes"))


class RegionEditForm(FlaskForm):
    name = StringField(_l("Name"))
    parent_id = SelectField(_l("Part of"), coerce=str, validate_choice=False)
    submit = SubmitField(_l("Save changes"))


class SupermarketEditForm(FlaskForm):
    name = StringField(_l("Name"))
    region_id = SelectField(_l("Serves"), coerce=str, validate_choice=False)
    submit = SubmitField(_l("Save changes"))
