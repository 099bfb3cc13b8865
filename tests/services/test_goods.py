"""The product list: barcodes, uniqueness, the default list, import and export."""
import csv
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.extensions import db
from app.goods.text import rmb_upper
from app.models import AuditRecord, Product
from app.services.goods import products as goods
from app.services.errors import Errors, Forbidden, ValidationError
from tests.factories import count


def test_gtin_check_digit():
    """Every barcode of the shipped list passes; EAN-8, UPC-A and GTIN-14 pass with their
    check digit; a changed digit or a length no GTIN has does not."""
    with open(goods.DEFAULT_PRODUCTS, encoding="utf-8-sig") as f:
        codes = [row["barcode"] for row in csv.DictReader(f) if row["barcode"]]
    assert codes and all(goods.is_gtin(c) for c in codes)
    for good in ("4006381333931", "96385074", "036000291452", "10012345678902"):
        assert goods.is_gtin(good), good
    for bad in ("4006381333932", "96385075", "036000291453", "10012345678903",
                "400638133393" + "11", "4006381333", "40063813339a1",
                "４００６３８１３３３９３１"):  # full-width digits are not a scan
        assert not goods.is_gtin(bad), bad


@pytest.mark.parametrize("sent, stored", [
    ("4006381333931", "4006381333931"),      # EAN-13: as it is (today's data unchanged)
    ("04006381333931", "4006381333931"),     # ... sent as GTIN-14
    ("036000291452", "0036000291452"),       # UPC-A: 13 digits with its leading 0
    ("0036000291452", "0036000291452"),      # ... as the scanner set to EAN-13 sends it
    ("00036000291452", "0036000291452"),     # ... as GTIN-14
    ("96385074", "96385074"),                # EAN-8 stays 8 digits
    ("0000096385074", "96385074"),           # ... in its 13-digit form
    ("00000096385074", "96385074"),          # ... in its 14-digit form
    ("10012345678902", "10012345678902"),    # a case (indicator 1) is a GTIN-14 of its own
    (" 4006-381333931 ", "4006381333931"),   # spaces and dashes typed along
    (4006381333931, "4006381333931"),        # a spreadsheet's number
])
def test_one_normal_form_for_every_way_a_scanner_sends_a_barcode(sent, stored):
    errors = Errors()
    assert goods.barcode(errors, {"barcode": sent}) == stored and not errors


@pytest.mark.parametrize("sent, message", [
    ("036000291453", "check digit"),
    ("96385075", "check digit"),
    ("4006381333", "8, 12, 13 or 14 digits"),
    ("400638133393111", "8, 12, 13 or 14 digits"),
])
def test_a_bad_barcode_says_what_is_wrong(sent, message):
    errors = Errors()
    assert goods.barcode(errors, {"barcode": sent}) is None
    assert message in str(errors.errors["barcode"][0])


def test_the_same_barcode_in_another_form_is_the_same_product(world):
    """A product made with a UPC-A is found by its 13- and 14-digit forms and by the
    counter's lookup; adding the 13-digit form to another product is a duplicate."""
    admin = world.users["admin"]
    p = goods.create_product(admin, {"name": "Peanut butter", "unit": "瓶", "points_price": 9,
                                     "barcode": "036000291452"})
    small = goods.create_product(admin, {"name": "口香糖", "unit": "包", "points_price": 1,
                                         "barcode": "00000096385074"})
    db.session.commit()
    assert (p.barcode, small.barcode) == ("0036000291452", "96385074")
    for form in ("036000291452", "0036000291452", "00036000291452"):
        assert goods.product_by_barcode(form).id == p.id
        items, total = goods.search_products(barcode_value=form)
        assert [x.id for x in items] == [p.id] and total == 1
    assert goods.product_by_barcode("96385074").id == small.id
    with pytest.raises(ValidationError) as e:
        goods.create_product(admin, {"name": "别的", "unit": "瓶", "points_price": 9,
                                     "barcode": "0036000291452"})
    assert "barcode" in e.value.errors
    with pytest.raises(ValidationError) as e:
        goods.update_product(admin, small.id, {"barcode": "00036000291452"})
    assert "barcode" in e.value.errors


def test_create_product(world):
    """An admin adds a product; the fields are stored as given and the act is audited."""
    p = goods.create_product(world.users["admin"], {
        "name": "小米 2kg", "unit": "袋", "points_price": "18", "category": "粮油",
        "barcode": "4006381333931", "low_stock_threshold": 3})
    db.session.commit()
    assert (p.name, p.unit, p.points_price, p.category, p.barcode, p.low_stock_threshold, p.active) == \
        ("小米 2kg", "袋", 18, "粮油", "4006381333931", 3, True)
    assert db.session.scalar(select(AuditRecord.action).where(AuditRecord.object_id == p.id,
                                                              AuditRecord.object_type == "products")) \
        == "product.create"


@pytest.mark.parametrize("fields,field", [
    ({"barcode": "4006381333932"}, "barcode"), ({"barcode": "12345"}, "barcode"),
    ({"barcode": "abcdefghijklm"}, "barcode"), ({"points_price": 0}, "points_price"),
    ({"points_price": -5}, "points_price"), ({"points_price": 2.5}, "points_price"),
    ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"unit": None}, "unit"),
    ({"low_stock_threshold": -1}, "low_stock_threshold"),
])
def test_bad_products_are_refused(world, fields, field):
    """Bad barcodes, prices, names and thresholds are field errors, and nothing is written."""
    body = {"name": "小米", "unit": "袋", "points_price": 10, **fields}
    with pytest.raises(ValidationError) as err:
        goods.create_product(world.users["admin"], body)
    assert field in err.value.errors
    db.session.rollback()
    assert count(Product) == 0


def test_names_and_barcodes_are_unique(world):
    """A second product with the same name or barcode is refused; editing keeps its own."""
    admin = world.users["admin"]
    p = goods.create_product(admin, {"name": "小米", "unit": "袋", "points_price": 10,
                                     "barcode": "4006381333931"})
    db.session.commit()
    for clash, field in (({"name": "小米"}, "name"), ({"barcode": "4006381333931"}, "barcode")):
        with pytest.raises(ValidationError) as err:
            goods.create_product(admin, {"name": "别的", "unit": "个", "points_price": 1, **clash})
        assert field in err.value.errors
    goods.update_product(admin, p.id, {"name": "小米", "barcode": "4006381333931", "points_price": 12})
    db.session.commit()
    assert p.points_price == 12


def test_only_admins_keep_the_list(world):
    """Volunteers, cadres, staff and donors cannot add, edit or retire products."""
    for user in ("volunteer", "cadre", "staff", "donor"):
        with pytest.raises(Forbidden):
            goods.create_product(world.users[user], {"name": "x", "unit": "个", "points_price": 1})


def test_load_default_products_once(world):
    """The shipped list loads once; loading again adds nothing."""
    assert goods.load_default_products() == 18
    db.session.commit()
    assert goods.load_default_products() == 0
    rice = db.session.scalar(select(Product).where(Product.name == "大米 5kg"))
    assert (rice.unit, rice.points_price, rice.category, rice.barcode) == ("袋", 50, "粮油", "6901234500011")


def test_search_by_barcode(world):
    """A barcode finds its product; a misread one (bad check digit) is a validation error."""
    goods.load_default_products()
    items, total = goods.search_products(barcode_value="6901234500011")
    assert [p.name for p in items] == ["大米 5kg"] and total == 1
    assert goods.search_products(barcode_value="4006381333931") == ([], 0)
    with pytest.raises(ValidationError):
        goods.search_products(barcode_value="6901234500012")


def _csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def test_import_adds_and_updates(world):
    """Import matches by barcode, then by name: matched products are updated, others added; columns absent are kept."""
    goods.load_default_products()
    db.session.commit()
    raw = _csv([["名称", "单位", "积分", "条码"],
                ["大米 5kg 新包装", "袋", "55", "6901234500011"],   # same barcode: renamed, repriced
                ["香皂", "块", "5", ""],                            # same name: repriced
                ["手电筒", "个", "20", "4006381333931"]])           # new
    summary = goods.import_products(world.users["admin"], "list.csv", raw)
    db.session.commit()
    assert summary == {"added": 1, "updated": 2, "unchanged": 0}
    rice = db.session.scalar(select(Product).where(Product.barcode == "6901234500011"))
    assert (rice.name, rice.points_price, rice.category) == ("大米 5kg 新包装", 55, "粮油")
    soap = db.session.scalar(select(Product).where(Product.name == "香皂"))
    assert soap.points_price == 5 and soap.barcode == "6901234500097"
    assert count(Product) == 19


def test_import_is_all_or_nothing(world):
    """One bad row (bad barcode, duplicate, missing price) and nothing is imported; errors name the rows."""
    raw = _csv([["name", "unit", "points_price", "barcode"],
                ["甲", "个", "1", "4006381333931"],
                ["乙", "个", "", "4006381333932"],
                ["甲", "个", "2", ""]])
    with pytest.raises(ValidationError) as err:
        goods.import_products(world.users["admin"], "list.csv", raw)
    assert {"rows.3.points_price", "rows.3.barcode", "rows.4.name"} <= set(err.value.errors)
    db.session.rollback()
    assert count(Product) == 0
    for name, content in (("list.pdf", b"x"), ("list.csv", b""), ("list.xlsx", b"not a zip"),
                          ("list.csv", _csv([["foo", "bar"], ["1", "2"]]))):
        with pytest.raises(ValidationError) as err:
            goods.import_products(world.users["admin"], name, content)
        assert "file" in err.value.errors


def test_import_reads_excel_csv_in_gb18030_and_tabs(world):
    """A product list saved by Chinese Excel (GB18030, or tab-separated text) imports like a UTF-8 one."""
    rows = [["名称", "单位", "积分"], ["手电筒", "个", "20"], ["雨伞", "把", "15"]]
    gbk = _csv(rows).decode("utf-8").encode("gb18030")
    assert goods.import_products(world.users["admin"], "list.csv", gbk)["added"] == 2
    tabs = "\n".join("\t".join(r) for r in [["名称", "单位", "积分"], ["草帽", "顶", "8"]]).encode("utf-8")
    assert goods.import_products(world.users["admin"], "list.txt", tabs)["added"] == 1
    db.session.commit()
    assert {p.name for p in db.session.scalars(select(Product))} == {"手电筒", "雨伞", "草帽"}


def test_export_then_import_xlsx_changes_nothing(world):
    """The Excel export imports back unchanged, barcodes kept as text; retiring works through the active column."""
    goods.load_default_products()
    db.session.commit()
    content, mimetype, filename = goods.export_products("xlsx")
    assert filename == "products.xlsx" and "spreadsheetml" in mimetype
    assert goods.import_products(world.users["admin"], filename, content) == \
        {"added": 0, "updated": 0, "unchanged": 18}
    wb = load_workbook(io.BytesIO(content))
    ws = wb.active
    assert ws["E2"].value and isinstance(ws["E2"].value, str)
    ws["G2"] = "no"
    out = io.BytesIO()
    wb.save(out)
    assert goods.import_products(world.users["admin"], filename, out.getvalue())["updated"] == 1
    assert count(Product) == 18
    assert len(goods.search_products(active=False)[0]) == 1


def test_import_reads_barcodes_typed_as_numbers(world):
    """A spreadsheet that stored the barcode as a number still imports it as 13 digits."""
    wb = Workbook()
    ws = wb.active
    ws.append(["name", "unit", "points_price", "barcode"])
    ws.append(["手电筒", "个", 20, 4006381333931])
    out = io.BytesIO()
    wb.save(out)
    goods.import_products(world.users["admin"], "a.xlsx", out.getvalue())
    assert db.session.scalar(select(Product.barcode)) == "4006381333931"


def test_import_finds_a_product_by_any_form_of_its_barcode(world):
    """A list that has the UPC-A as 12 digits updates the product stored with 13; a number
    cell that lost the leading zeros is read as the same code; the same code twice in two
    forms is refused with the row named."""
    admin = world.users["admin"]
    p = goods.create_product(admin, {"name": "Peanut butter", "unit": "瓶", "points_price": 9,
                                     "barcode": "0036000291452"})
    db.session.commit()
    summary = goods.import_products(admin, "list.csv", _csv([
        ["名称", "单位", "积分", "条码"], ["花生酱", "瓶", "12", "036000291452"]]))
    assert summary == {"added": 0, "updated": 1, "unchanged": 0}
    assert (p.name, p.points_price, p.barcode) == ("花生酱", 12, "0036000291452")
    wb = Workbook()
    ws = wb.active
    ws.append(["name", "unit", "points_price", "barcode"])
    ws.append(["花生酱", "瓶", 13, 36000291452])
    out = io.BytesIO()
    wb.save(out)
    assert goods.import_products(admin, "a.xlsx", out.getvalue())["updated"] == 1
    assert (p.points_price, p.barcode) == (13, "0036000291452") and count(Product) == 1
    with pytest.raises(ValidationError) as err:
        goods.import_products(admin, "list.csv", _csv([
            ["名称", "单位", "积分", "条码"], ["甲", "个", "1", "96385074"],
            ["乙", "个", "1", "0000096385074"]]))
    assert "rows.3.barcode" in err.value.errors


def test_csv_export_has_a_bom(world):
    """The CSV export opens in Excel with the Chinese intact."""
    goods.load_default_products()
    content, mimetype, _ = goods.export_products("csv")
    assert content.startswith("\ufeff".encode()) and "大米 5kg".encode() in content
    assert mimetype.startswith("text/csv")


@pytest.mark.parametrize("value,fen", [("12.5", 1250), (12, 1200), (0.1, 10), ("1,000.00", 100000),
                                       ("¥3", 300), ("0", 0)])
def test_money(value, fen):
    """Amounts in yuan become whole fen."""
    errors = Errors()
    assert goods.money_fen(errors, value, "v", required=True) == fen and not errors


@pytest.mark.parametrize("value", ["1.234", "-1", "abc", "nan", "inf", True, [1]])
def test_bad_money(value):
    """Three decimals, negatives and non-numbers are refused."""
    errors = Errors()
    assert goods.money_fen(errors, value, "v", required=True) is None and errors


def test_amount_in_chinese_capitals():
    """Receipts write amounts in capitals, with the zeros where an accountant puts them."""
    assert rmb_upper(12345678) == "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"
    assert rmb_upper(100100) == "壹仟零壹元整"
    assert rmb_upper(1000010000) == "壹仟万零壹佰元整"
    assert rmb_upper(50) == "伍角整"
    assert rmb_upper(10010) == "壹佰元壹角整"
    assert rmb_upper(10001) == "壹佰元零壹分"
