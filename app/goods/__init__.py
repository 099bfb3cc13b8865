"""Goods pages: products, donors, receiving donations (with a barcode
scanner), receipts, stock, write-offs, transfers and stocktakes."""
from flask import Blueprint

bp = Blueprint("goods", __name__)

from app.goods import donations, donor_figures, pledges, products, stock, text  # noqa: E402,F401
