"""Rendering and CSRF for the goods pages; the services do the real checks."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from app.goods.text import DONOR_KINDS, REASONS
from app.households.forms import select_choices


class ProductForm(FlaskForm):
    name = StringField(_l("Name"))
    unit = StringField(_l("Unit"))
    points_price = StringField(_l("Points price"))
    category = StringField(_l("Category"))
    barcode = StringField(_l("Barcode (EAN-13, EAN-8, UPC-A or GTIN-14)"))
    low_stock_threshold = StringField(_l("Low-stock threshold"))
    submit = SubmitField(_l("Save"))

    def data_for_service(self) -> dict:
        return {k: getattr(self, k).data for k in
                ("name", "unit", "points_price", "category", "barcode", "low_stock_threshold")}


class ImportForm(FlaskForm):
    file = FileField(_l("Product list (.xlsx or .csv)"),
                     validators=[FileRequired(_l("Choose a file to upload."))],
                     render_kw={"accept": ".xlsx,.csv"})
    submit = SubmitField(_l("Import"))


class DonorForm(FlaskForm):
    name = StringField(_l("Name"))
    kind = SelectField(_l("Kind"), choices=select_choices(DONOR_KINDS.items()))
    contact = StringField(_l("Contact (phone, address, contact person)"))
    named_in_public = BooleanField(_l("The donor agrees to be named in public"))
    submit = SubmitField(_l("Save"))

    def data_for_service(self) -> dict:
        return {"name": self.name.data, "kind": self.kind.data, "contact": self.contact.data,
                "named_in_public": bool(self.named_in_public.data)}


class WriteoffForm(FlaskForm):
    product_id = SelectField(_l("Product"), coerce=str)
    # Any lot id goes to the service, which says why it is not one of this product here.
    lot_id = SelectField(_l("Lot"), coerce=str, validate_choice=False)
    quantity = StringField(_l("Quantity"))
    reason = SelectField(_l("Reason"), choices=select_choices(REASONS.items()))
    note = StringField(_l("Note"))
    submit = SubmitField(_l("Write off"))


class TransferForm(FlaskForm):
    product_id = SelectField(_l("Product"), coerce=str)
    quantity = StringField(_l("Quantity"))
    to_supermarket_id = SelectField(_l("To supermarket"), coerce=str)
    note = StringField(_l("Note"))
    submit = SubmitField(_l("Transfer"))


class CashForm(FlaskForm):
    donor_id = SelectField(_l("Donor"), coerce=str)
    supermarket_id = SelectField(_l("Supermarket"), coerce=str)
    amount = StringField(_l("Amount (yuan)"))
    received_on = DateField(_l("Received on"), validators=[Optional()])
    note = StringField(_l("Note"))
    submit = SubmitField(_l("Save and print receipt"))


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note"))
