from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField


class PassbookForm(FlaskForm):
    """Card number and PIN; checked together by the passbook service."""
    card_number = StringField(_l("Card number"))
    pin = PasswordField(_l("PIN"))
