"""The register import: parsing, row checks, scope, all-or-nothing writes."""
import io
from pathlib import Path

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditRecord, Household
from app.services.people import register_import as imports
from app.services.errors import Forbidden, ValidationError
from app.services.people.regions import create_region
from tests.factories import count

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "households-sample-zh.csv"
ID_NUMBER = "11010519491231002X"
# Spreadsheet rows of the sample's bad lines: 序号 41-45 sit on rows 42-46 (the header is row 1).
BAD_ROWS = {42: "head_name", 43: "duplicate", 44: "members", 45: "phone", 46: "village"}


@pytest.fixture
def county(world):
    """The world plus the sample's other villages: 南岭村, 北塬村 (东岭镇), 柳树湾村 (西坡乡)."""
    for name, township in (("南岭村", world.east), ("北塬村", world.east), ("柳树湾村", world.west)):
        create_region(None, {"name": name, "level": "village", "parent_id": township.id})
    db.session.commit()
    return world


def households(ids: list[int]) -> list[Household]:
    """The imported households, in the order of the file."""
    by_id = {h.id: h for h in db.session.scalars(select(Household).where(Household.id.in_(ids)))}
    return [by_id[i] for i in ids]


def sample() -> bytes:
    return SAMPLE.read_bytes()


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def preview(world, data: bytes, filename: str = "register.csv", user: str = "admin"):
    return imports.preview_file(world.users[user], data, filename)


def file_error(data: bytes, filename: str) -> str:
    """The file-level message, in English (the msgid) whatever the catalogues say."""
    with pytest.raises(ValidationError) as info:
        imports.parse_register(data, filename)
    with force_locale("en"):
        return str(info.value.errors["file"][0])


def test_sample_has_40_good_rows_and_5_bad_ones(county):
    """The sample register: 40 good rows; rows 序号 41-45 each carry exactly their one error."""
    p = preview(county, sample(), "households-sample-zh.csv")
    assert (len(p.rows), p.good, p.bad) == (45, 40, 5)
    bad = {row.line: set(row.errors) for row in p.rows if not row.ok}
    assert bad == {line: {fld} for line, fld in BAD_ROWS.items()}
    assert p.summary["dropped"] == ["序号", "主要致贫原因", "帮扶责任人"] and p.summary["unknown"] == []
    assert p.summary["good"] == 40 and p.summary["bad"] == 5


def test_row_numbers_are_spreadsheet_rows(county):
    """Each row is reported by its row in the file, so 序号 41 is row 42 (after the header)."""
    lines = SAMPLE.read_text("utf-8-sig").splitlines()
    p = preview(county, sample())
    for row in p.rows:
        assert lines[row.line - 1].split(",")[0] == str(row.line - 1)
    assert "三" == next(r for r in p.rows if r.line == 44).values["members"]


def test_household_types_map_to_tags(county):
    """户类型 becomes the register's tags; a tags column adds to them."""
    data = csv_bytes(["户主姓名,所在村,户类型,标签",
                      "甲,东坪村,一般贫困户,",
                      "乙,东坪村,脱贫监测户,残疾",
                      "丙,东坪村,低保贫困户,",
                      "丁,东坪村,特困供养贫困户,独居老人、残疾",
                      "戊,东坪村,边缘易致贫户,",
                      "己,东坪村,脱贫户,",
                      "庚,东坪村,,低保，五保"])
    tags = [row.fields["tags"] for row in preview(county, data).rows]
    assert tags == [["建档立卡"], ["监测户", "残疾"], ["建档立卡", "低保"], ["建档立卡", "五保", "独居老人", "残疾"],
                    ["边缘户"], ["脱贫户"], ["低保", "五保"]]


def test_unknown_household_type_is_a_tags_error(county):
    """A 户类型 that is neither mapped nor a configured tag is refused on its row."""
    p = preview(county, csv_bytes(["户主姓名,所在村,户类型", "甲,东坪村,富裕户"]))
    assert set(p.rows[0].errors) == {"tags"}


def test_import_all_with_bad_rows_writes_nothing(county):
    """Importing all rows while any is bad raises and adds no household and no audit record."""
    before = (count(Household), count(AuditRecord))
    p = preview(county, sample())
    with pytest.raises(ValidationError) as info:
        imports.import_households(county.users["admin"], p, only_good=False)
    assert "rows" in info.value.errors
    db.session.rollback()
    assert (count(Household), count(AuditRecord)) == before


def test_only_good_rows_writes_exactly_40(county):
    """only_good adds the 40 good rows, each with a code and a household.create audit record."""
    before = count(Household)
    p = preview(county, sample())
    created = households(imports.import_households(county.users["admin"], p, only_good=True))
    db.session.commit()
    assert len(created) == 40 and count(Household) == before + 40
    assert len({h.code for h in created}) == 40
    audited = db.session.scalars(select(AuditRecord.object_id).where(AuditRecord.action == "household.create")).all()
    assert {h.id for h in created} <= set(audited)
    du = db.session.scalars(select(Household).where(Household.phone == "13900008778")).one()
    assert (du.head_name, du.members, du.village.name, du.address, du.tags) == ("杜玉梅", 4, "东坪村", "7组27号", ["建档立卡"])


def test_import_all_of_a_clean_file(county):
    """A file with no bad row imports entirely; a second look finds every row already registered."""
    data = csv_bytes(["户主姓名,家庭人口,联系电话,所在村", "甲,3,13800000001,东坪村", "乙,,,西沟村"])
    created = households(imports.import_households(county.users["admin"], preview(county, data), only_good=False))
    db.session.commit()
    assert [(h.head_name, h.members, h.phone) for h in created] == [("甲", 3, "13800000001"), ("乙", 1, None)]
    again = preview(county, data)
    assert again.good == 0 and all(set(r.errors) == {"duplicate"} for r in again.rows)


def test_no_good_rows_refused(county):
    """only_good with no good row raises rather than importing nothing silently."""
    p = preview(county, csv_bytes(["户主姓名,所在村", ",东坪村"]))
    with pytest.raises(ValidationError):
        imports.import_households(county.users["admin"], p, only_good=True)


def test_encodings_parse_identically(county):
    """UTF-8 with BOM, UTF-8 without BOM and GB18030 (Chinese Excel's CSV) give the same rows."""
    content = sample().decode("utf-8-sig")
    sheets = [imports.parse_register(content.encode(enc), "r.csv") for enc in ("utf-8-sig", "utf-8", "gb18030")]
    assert sheets[0].columns == sheets[1].columns == sheets[2].columns
    assert sheets[0].records == sheets[1].records == sheets[2].records
    assert len(sheets[0].records) == 45 and sheets[2].records[0].values["head_name"] == "杜玉梅"


def test_xlsx_built_with_openpyxl_imports(county):
    """An .xlsx with a title row, numeric cells and an ID column imports, numbers read as text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["东坪村建档立卡户花名册"])
    ws.append(["序号", "户主姓名", "身份证号", "家庭人口", "联系电话", "所在村", "家庭住址", "户类型"])
    ws.append([1, "王犇", ID_NUMBER, 5, 13912345678, "东坪村", "1组2号", "低保贫困户"])
    ws.append([2, "刘喆", None, 2.0, "13812345678", "石门村", None, None])
    ws.append([None, None, None, None, None, None, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    p = preview(county, buf.getvalue(), "花名册.xlsx")
    assert [r.line for r in p.rows] == [3, 4] and p.bad == 0
    assert p.sheet.dropped == ["序号", "身份证号"]
    created = households(imports.import_households(county.users["admin"], p, only_good=False))
    db.session.commit()
    assert [(h.head_name, h.members, h.phone, h.tags) for h in created] == [
        ("王犇", 5, "13912345678", ["建档立卡", "低保"]), ("刘喆", 2, "13812345678", [])]


def test_id_card_numbers_are_never_stored(county):
    """A 身份证号 column is dropped on reading: not in the kept sheet, the households or the audit trail."""
    data = csv_bytes(["户主姓名,身份证号,所在村,家庭人口", f"张三,{ID_NUMBER},东坪村,3", f"李四,{ID_NUMBER[:-1]}1,石门村,2"])
    p = preview(county, data)
    assert ID_NUMBER not in p.sheet.to_json() and "身份证号" not in p.sheet.columns
    imports.import_households(county.users["admin"], p, only_good=False)
    db.session.commit()
    for table in ("households", "audit_records"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")).all():
            dump = " ".join(str(v) for v in row)
            assert ID_NUMBER[:17] not in dump, table


def test_staff_gets_row_errors_for_other_villages(county):
    """Staff of 东坪村 may import its rows only; other villages' rows read as unknown, not as a leak."""
    p = preview(county, sample(), user="staff")
    by_village = {}
    for row in p.rows:
        by_village.setdefault(row.values["village"], []).append(row)
    for name, rows in by_village.items():
        if name == "东坪村":
            assert all("village" not in r.errors for r in rows)
        else:
            messages = {str(m) for r in rows for m in r.errors["village"]}
            assert len(messages) == 1, name
    assert by_village["石门村"][0].errors["village"] == by_village["不存在村"][0].errors["village"]
    assert p.good == 9  # 东坪村's 11 rows, less the empty name and the duplicate
    created = households(imports.import_households(county.users["staff"], p, only_good=True))
    assert {h.village_id for h in created} == {county.v1.id}


def test_township_staff_reach_their_villages(county):
    """Staff of 东岭镇 match 东坪村, 石门村, 南岭村 and 北塬村, not 西沟村 or 柳树湾村."""
    p = preview(county, sample(), user="staff_east")
    ok = {r.values["village"] for r in p.rows if r.ok}
    refused = {r.values["village"] for r in p.rows if "village" in r.errors}
    assert ok == {"东坪村", "石门村", "南岭村", "北塬村"}
    assert refused == {"西沟村", "柳树湾村", "不存在村"}


def test_only_staff_and_admin_may_import(county):
    """Cadres, volunteers and donors are refused by the service itself."""
    sheet = imports.parse_register(sample(), "r.csv")
    for name in ("cadre", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            imports.preview_import(county.users[name], sheet)
    p = preview(county, sample())
    with pytest.raises(Forbidden):
        imports.import_households(county.users["volunteer"], p, only_good=True)


def test_duplicate_of_register_names_the_household(county):
    """A row matching a registered household (village, head, phone) is flagged with its code."""
    p = preview(county, csv_bytes(["户主姓名,所在村", "杜玉梅,东坪村", "杜玉梅,石门村"]))
    assert set(p.rows[0].errors) == {"duplicate"}
    assert county.households["v1a"].code in str(p.rows[0].errors["duplicate"][0])
    assert p.rows[1].ok


def test_ambiguous_village_needs_township(county):
    """Two villages of one name: a row error, unless a 乡镇 column tells them apart."""
    create_region(None, {"name": "东坪村", "level": "village", "parent_id": county.west.id})
    db.session.commit()
    p = preview(county, csv_bytes(["户主姓名,所在村", "甲,东坪村"]))
    assert set(p.rows[0].errors) == {"village"}
    p = preview(county, csv_bytes(["户主姓名,乡镇,所在村", "甲,西坡乡,东坪村", "乙,东岭镇,东坪村"]))
    assert [r.village.parent.name for r in p.rows] == ["西坡乡", "东岭镇"]


def test_village_column_optional_for_one_village_staff(county):
    """Staff keeping a single village may leave the village out; others must give it."""
    data = csv_bytes(["姓名,人口,手机", "甲,２,139-1234-5678"])
    row = preview(county, data, user="staff").rows[0]
    assert row.ok and row.village.id == county.v1.id
    assert row.fields["members"] == 2 and row.fields["phone"] == "13912345678"
    assert set(preview(county, data, user="staff_east").rows[0].errors) == {"village"}


def test_english_headers_and_tab_separated(county):
    """English headers are read too, and a tab-separated export works like a CSV."""
    data = csv_bytes(["head_name\tmembers\tphone\tvillage\taddress\ttags", "Li\t3\t13800000002\t西沟村\tGroup 1\t低保,残疾"])
    row = preview(county, data).rows[0]
    assert row.ok and row.fields == {"head_name": "Li", "members": 3, "phone": "13800000002",
                                     "address": "Group 1", "tags": ["低保", "残疾"]}


@pytest.mark.parametrize("data, filename, expected", [
    (b"", "r.csv", "empty"),
    (b"\xef\xbb\xbf\r\n,,\r\n", "r.csv", "empty"),
    ("序号,身份证号\n1,2\n".encode(), "r.csv", "head of household"),
    ("户主姓名,所在村\n".encode(), "r.csv", "no households"),
    (b"PK\x03\x04 this is no workbook", "r.xlsx", "could not be read"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "r.csv", "could not be read"),
    (b"%PDF-1.4", "register.pdf", ".xlsx, .xls or .csv"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "r.xls", "could not be read"),
    (b"not an excel file at all", "r.xls", "could not be read"),
])
def test_unreadable_files_give_a_clear_error(app, data, filename, expected):
    """Empty, headerless, damaged and non-spreadsheet files are refused with a message saying why."""
    assert expected in file_error(data, filename)


def test_size_and_row_limits(app):
    """Over 5 MB or over 5,000 rows is refused before any row is checked."""
    assert "5 MB" in file_error(b"x" * (imports.MAX_BYTES + 1), "r.csv")
    rows = ["户主姓名,所在村"] + [f"户{i},东坪村" for i in range(imports.MAX_ROWS + 1)]
    assert "5000" in file_error(csv_bytes(rows), "r.csv")
    assert len(imports.parse_register(csv_bytes(rows[:-1]), "r.csv").records) == imports.MAX_ROWS


def test_nothing_written_by_a_refused_file(county):
    """A refused file leaves the register and the audit trail as they were."""
    before = (count(Household), count(AuditRecord))
    for data, name in ((b"", "r.csv"), (b"PK\x03\x04garbage", "r.xlsx")):
        with pytest.raises(ValidationError):
            preview(county, data, name)
    assert (count(Household), count(AuditRecord)) == before
