"""The product list: add, edit, retire, look up by barcode, the shipped
default list and spreadsheet import/export for the admin page."""
import csv
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from stdnum import ean

from app.extensions import db
from app.models import Product, User, utcnow
from app.services import audit
from app.services.errors import Errors, NotFound, ValidationError
from app.services.people import policy
from app.services.spreadsheets import export_table, read_table
from app.services.validate import as_id, contains, integer, text

DEFAULT_PRODUCTS = Path(__file__).resolve().parents[2] / "data" / "products-zh.csv"
COLUMNS = ("name", "unit", "points_price", "category", "barcode", "low_stock_threshold")
EXPORT_COLUMNS = COLUMNS + ("active",)
EDITABLE = COLUMNS
HEADER_ALIASES = {
    "名称": "name", "商品": "name", "商品名称": "name", "品名": "name",
    "单位": "unit", "计量单位": "unit",
    "积分": "points_price", "积分价": "points_price", "兑换积分": "points_price", "所需积分": "points_price",
    "类别": "category", "分类": "category",
    "条码": "barcode", "条形码": "barcode", "商品条码": "barcode",
    "库存预警": "low_stock_threshold", "预警数量": "low_stock_threshold", "低库存": "low_stock_threshold",
    "在用": "active", "状态": "active",
}
MAX_PRICE = 100_000
MAX_QUANTITY = 1_000_000
MAX_FEN = 10**12
NAME_MAX = 100
UNIT_MAX = 20
CATEGORY_MAX = 50
DEFAULT_THRESHOLD = 5
BARCODE_FORMAT = _l("A barcode is 8, 12, 13 or 14 digits (EAN-8, UPC-A, EAN-13 or GTIN-14).")
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000


# -- barcodes ------------------------------------------------------------------
# Donated goods carry EAN-13, EAN-8 (small packs), UPC-A (imported goods: a
# scanner sends its 12 digits, or 13 with a leading 0) and GTIN-14 (cases).
# All are GTINs: the same number padded with zeros to 14 digits, the check
# digit unchanged. One normal form is stored and looked up, so a product is
# found however the scanner sends it.

GTIN_RE = re.compile(r"[0-9]{8}|[0-9]{12,14}")


def normal_gtin(code: str) -> str:
    """The stored form of a valid GTIN: an EAN-8 as 8 digits, a GTIN-14 whose
    indicator digit is not 0 as 14, every other as 13 (a UPC-A with a leading 0;
    today's EAN-13s unchanged)."""
    gtin14 = code.zfill(14)
    if gtin14.startswith("000000"):  # GS1 keeps 00000 in 13 digits for EAN-8s
        return gtin14[6:]
    if gtin14.startswith("0"):
        return gtin14[1:]
    return gtin14


def ean13_check_digit(first12: str) -> int:
    """The 13th digit of an EAN-13 whose first twelve digits are given."""
    return int(ean.calc_check_digit(first12))


def is_gtin(code) -> bool:
    """A GTIN-8, -12, -13 or -14 with its check digit right."""
    return isinstance(code, str) and GTIN_RE.fullmatch(code) is not None and ean.is_valid(code)


def searched_barcode(q: str) -> str:
    """Text typed in a search box: a valid GTIN in its stored form (a UPC-A
    finds the product stored with 13 digits), anything else as it is."""
    return normal_gtin(q) if is_gtin(q) else q


def clean_barcode(value) -> str | None:
    """A barcode as text without spaces or dashes; spreadsheets hand it over as a number."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # A number lost its leading zeros (a UPC-A as 11 digits); padding a
        # GTIN with zeros keeps its check digit, so the 14-digit form is it.
        value = str(value)
        if 7 <= len(value) < 14:
            value = value.zfill(14)
    if not isinstance(value, str):
        return None
    value = re.sub(r"[\s-]", "", value)
    return value or None


def barcode(errors: Errors, data: dict, field: str = "barcode") -> str | None:
    """A barcode field in its normal form (normal_gtin), or None when empty."""
    raw = data.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    code = clean_barcode(raw)
    if code is None or not GTIN_RE.fullmatch(code):
        errors.add(field, BARCODE_FORMAT)
        return None
    if not ean.is_valid(code):
        errors.add(field, _l("The barcode's check digit is wrong: scan or type it again."))
        return None
    return normal_gtin(code)


# -- money and quantities (shared with donations and stock) ---------------------

def quantity(errors: Errors, value, field: str) -> int | None:
    """A positive whole number of units; zero, negatives and fractions are refused."""
    probe = Errors()
    number = integer(probe, {"q": value}, "q", required=True, minimum=1, maximum=MAX_QUANTITY)
    for message in probe.errors.get("q", []):
        errors.add(field, message)
    return number


def money_fen(errors: Errors, value, field: str, *, required: bool,
              allow_zero: bool = True) -> int | None:
    """An amount in yuan (a number or text, at most two decimals) as whole fen."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, _l("This field is required."))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors.add(field, _l("Must be an amount in yuan, like 12.50."))
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("¥", "").replace("￥", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        errors.add(field, _l("Must be an amount in yuan, like 12.50."))
        return None
    fen = amount * 100
    if fen != fen.to_integral_value():
        errors.add(field, _l("At most two decimals."))
        return None
    fen = int(fen)
    if fen < 0:
        errors.add(field, _l("Must not be negative."))
        return None
    if fen == 0 and not allow_zero:
        errors.add(field, _l("Must be more than zero."))
        return None
    if fen > MAX_FEN:
        errors.add(field, _l("This amount is too large."))
        return None
    return fen


def yuan(fen: int | None):
    """Fen as a JSON number of yuan (12.5), or None."""
    if fen is None:
        return None
    return fen // 100 if fen % 100 == 0 else fen / 100


# -- products ------------------------------------------------------------------

def validate_product(data: dict, *, partial: bool = False) -> tuple[dict, Errors]:
    """Check product fields; with partial, only those present."""
    errors = Errors()
    out = {}

    def wanted(field):
        return not partial or field in data

    if wanted("name"):
        name = text(errors, data, "name", required=True, max_len=NAME_MAX)
        out["name"] = name.strip() if name else name
    if wanted("unit"):
        unit = text(errors, data, "unit", required=True, max_len=UNIT_MAX)
        out["unit"] = unit.strip() if unit else unit
    if wanted("points_price"):
        out["points_price"] = integer(errors, data, "points_price", required=True, minimum=1,
                                      maximum=MAX_PRICE)
    if wanted("category"):
        category = text(errors, data, "category", required=False, max_len=CATEGORY_MAX)
        out["category"] = category.strip() if category else None
    if wanted("barcode"):
        out["barcode"] = barcode(errors, data)
    if wanted("low_stock_threshold"):
        threshold = integer(errors, data, "low_stock_threshold", required=False, minimum=0,
                            maximum=MAX_QUANTITY)
        if threshold is None and "low_stock_threshold" not in errors.errors:
            threshold = DEFAULT_THRESHOLD
        out["low_stock_threshold"] = threshold
    return out, errors


def _check_unique(errors: Errors, fields: dict, exclude_id: int | None = None,
                  prefix: str = "") -> None:
    for field in ("name", "barcode"):
        value = fields.get(field)
        if value is None:
            continue
        query = select(Product.id).where(getattr(Product, field) == value)
        if exclude_id is not None:
            query = query.where(Product.id != exclude_id)
        if db.session.scalar(query.limit(1)) is not None:
            errors.add(prefix + field, _l("Another product already has this %(what)s.",
                                          what=_l("name") if field == "name" else _l("barcode")))


def _flush_unique(fields: dict) -> None:
    """Flush; a name or barcode taken at the same moment by someone else is a 422."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        errors = Errors()
        _check_unique(errors, fields)
        if not errors:
            errors.add("name", _l("Another product already has this %(what)s.", what=_l("name")))
        errors.raise_if_any()


def create_product(actor: User | None, data: dict) -> Product:
    if actor is not None:
        policy.require(actor, "products.manage")
    fields, errors = validate_product(data)
    if not errors:
        _check_unique(errors, fields)
    errors.raise_if_any()
    product = Product(**fields, active=True, created_at=utcnow())
    db.session.add(product)
    _flush_unique(fields)
    audit.record(actor, "product.create", product, name=product.name, barcode=product.barcode,
                 points_price=product.points_price)
    return product


def get_product(product_id) -> Product:
    product_id = as_id(product_id)
    product = db.session.get(Product, product_id) if product_id is not None else None
    if product is None:
        raise NotFound()
    return product


def update_product(actor: User | None, product_id, data: dict) -> Product:
    if actor is not None:
        policy.require(actor, "products.manage")
    product = get_product(product_id)
    fields, errors = validate_product({k: v for k, v in data.items() if k in EDITABLE}, partial=True)
    if not errors:
        _check_unique(errors, fields, exclude_id=product.id)
    errors.raise_if_any()
    changed = [k for k, v in fields.items() if getattr(product, k) != v]
    for key in changed:
        setattr(product, key, fields[key])
    if changed:
        product.updated_at = utcnow()
        _flush_unique(fields)
        audit.record(actor, "product.update", product, fields=changed)
    return product


def set_product_active(actor: User | None, product_id, active: bool) -> Product:
    """Retire a product (no new donations of it) or bring it back; stock stays as it is."""
    if actor is not None:
        policy.require(actor, "products.manage")
    product = get_product(product_id)
    if product.active != active:
        product.active = active
        product.retired_at = None if active else utcnow()
        audit.record(actor, "product.reactivate" if active else "product.retire", product)
    return product


def products_query(*, barcode_value: str | None = None, q: str | None = None,
                   active: bool | None = None, category: str | None = None):
    query = select(Product)
    if barcode_value is not None:
        query = query.where(Product.barcode == barcode_value)
    if q:
        query = query.where(contains(searched_barcode(q), Product.name, Product.barcode,
                                     Product.category))
    if active is not None:
        query = query.where(Product.active.is_(active))
    if category:
        query = query.where(Product.category == category)
    return query


def search_products(*, barcode_value=None, q=None, active=None, category=None,
                    page: int = 1, per_page: int = 50) -> tuple[list[Product], int]:
    """A page of products with the total. A barcode is checked first: a
    misread scan (bad check digit) is a 422, not an empty answer."""
    if barcode_value is not None:
        errors = Errors()
        barcode_value = barcode(errors, {"barcode": barcode_value})
        errors.raise_if_any()
        if barcode_value is None:
            raise ValidationError({"barcode": [BARCODE_FORMAT]})
    q = (q or "").replace("\x00", "").strip()[:100]
    query = products_query(barcode_value=barcode_value, q=q, active=active, category=category)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return [], total
    items = db.session.scalars(
        query.order_by(Product.category, Product.name, Product.id).limit(per_page).offset(offset)
    ).all()
    return list(items), total


def active_products() -> list[Product]:
    return list(db.session.scalars(
        select(Product).where(Product.active.is_(True)).order_by(Product.category, Product.name)))


def categories() -> list[str]:
    return [c for c in db.session.scalars(
        select(Product.category).where(Product.category.is_not(None)).distinct()
        .order_by(Product.category)) if c]


# -- the default list, import and export ----------------------------------------

def load_default_products(actor: User | None = None) -> int:
    """Add the shipped products whose name and barcode are not in the list yet; returns how many."""
    with open(DEFAULT_PRODUCTS, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    added = 0
    for row in rows:
        fields, errors = validate_product(row)
        errors.raise_if_any()
        taken = Errors()
        _check_unique(taken, fields)
        if taken:
            continue
        create_product(actor, row)
        added += 1
    return added


def _rows(table: list[list]) -> list[tuple[int, dict]]:
    header = []
    for cell in table[0]:
        name = str(cell).strip() if cell is not None else ""
        header.append(HEADER_ALIASES.get(name, name.lower()))
    missing = [c for c in ("name", "unit", "points_price") if c not in header]
    if missing:
        raise ValidationError({"file": [_l("Missing columns: %(columns)s", columns=", ".join(missing))]})
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = {}
        for name, value in zip(header, values):
            if name not in EXPORT_COLUMNS:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if name in ("name", "unit", "category") and isinstance(value, int):
                value = str(value)
            row[name] = value.strip() if isinstance(value, str) else value
        rows.append((number, row))
    return rows


YES = {"yes", "y", "true", "1", "是", "在用", "启用"}
NO = {"no", "n", "false", "0", "否", "停用", "已停用"}


def import_products(actor: User | None, filename: str, raw: bytes) -> dict:
    """Import a product list from .csv or .xlsx, all rows or none. A row
    matches an existing product by barcode, else by name: matched products are
    updated, others added. An `active` column may retire or restore products."""
    if actor is not None:
        policy.require(actor, "products.manage")
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValidationError({"file": [_l("The file is too large.")]})
    table = read_table(raw, filename, max_rows=MAX_IMPORT_ROWS)
    errors = Errors()
    plan = []
    seen = {"name": {}, "barcode": {}}
    for number, row in _rows(table):
        fields, row_errors = validate_product(row)
        for field, messages in row_errors.errors.items():
            for message in messages:
                errors.add(f"rows.{number}.{field}", message)
        active = row.get("active")
        if isinstance(active, bool):
            pass
        elif active is None or (isinstance(active, str) and not active.strip()):
            active = None
        elif str(active).strip().lower() in YES:
            active = True
        elif str(active).strip().lower() in NO:
            active = False
        else:
            errors.add(f"rows.{number}.active", _l("Must be yes or no."))
        for field in ("name", "barcode"):
            value = fields.get(field)
            if value is None:
                continue
            if value in seen[field]:
                errors.add(f"rows.{number}.{field}", _l(
                    "Also on row %(row)d.", row=seen[field][value]))
            else:
                seen[field][value] = number
        if row_errors:
            continue
        existing = None
        if fields.get("barcode"):
            existing = db.session.scalar(select(Product).where(Product.barcode == fields["barcode"]))
        if existing is None:
            existing = db.session.scalar(select(Product).where(Product.name == fields["name"]))
        taken = Errors()
        _check_unique(taken, fields, exclude_id=existing.id if existing else None,
                      prefix=f"rows.{number}.")
        for field, messages in taken.errors.items():
            for message in messages:
                errors.add(field, message)
        if existing is not None:
            # Only the columns the file has: a list without categories keeps ours.
            # An empty barcode cell keeps the barcode too (clear it on the edit page).
            fields = {k: v for k, v in fields.items()
                      if k in row and not (k == "barcode" and v is None)}
        plan.append((existing, fields, active))
    if not plan and not errors:
        errors.add("file", _l("The file has no products."))
    errors.raise_if_any()
    summary = {"added": 0, "updated": 0, "unchanged": 0}
    for existing, fields, active in plan:
        if existing is None:
            continue
        changed = [k for k, v in fields.items() if getattr(existing, k) != v]
        if active is not None and existing.active != active:
            changed.append("active")
        if not changed:
            summary["unchanged"] += 1
            continue
        for key in changed:
            if key == "active":
                existing.active = active
                existing.retired_at = None if active else utcnow()
            else:
                setattr(existing, key, fields[key])
        existing.updated_at = utcnow()
        summary["updated"] += 1
    db.session.flush()
    for existing, fields, active in plan:
        if existing is not None:
            continue
        db.session.add(Product(**fields, active=True if active is None else active,
                               retired_at=None if active is not False else utcnow(),
                               created_at=utcnow()))
        summary["added"] += 1
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ValidationError({"file": [_l(
            "Two products would share a name or a barcode; check the file against the list.")]})
    audit.record(actor, "product.import", None, **summary)
    return summary


def _export_row(p: Product) -> list:
    return [p.name, p.unit, p.points_price, p.category or "", p.barcode or "",
            p.low_stock_threshold, "yes" if p.active else "no"]


def export_products(fmt: str = "csv") -> tuple[bytes, str, str]:
    """The whole list as (content, mimetype, filename); CSV has a BOM for Excel."""
    products = db.session.scalars(select(Product).order_by(Product.category, Product.name)).all()
    return export_table("products", EXPORT_COLUMNS, [_export_row(x) for x in products], fmt, text_columns=(5,))


def product_ref(errors: Errors, data: dict, field: str = "product_id", *,
                active_only: bool = False) -> Product | None:
    """The product named by an id in the body; an unknown one is a validation
    error (422), not a 404: it names what is acted with, not where or to whom."""
    raw = data.get(field)
    if raw is None or raw == "":
        errors.add(field, _l("This field is required."))
        return None
    product_id = as_id(raw)
    product = db.session.get(Product, product_id) if product_id is not None else None
    if product is None:
        errors.add(field, _l("Unknown product."))
        return None
    if active_only and not product.active:
        errors.add(field, _l("This product is retired."))
        return None
    return product


def product_by_barcode(code) -> Product:
    """The active product with this barcode: a misread scan is a 422, an unknown one a 404."""
    items, _total = search_products(barcode_value=code if isinstance(code, str) else "",
                                    active=True, per_page=1)
    if not items:
        raise NotFound(_l("No product has the barcode %(code)s.", code=code))
    return items[0]
