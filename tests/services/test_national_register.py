"""The register as the national poverty information system exports it: one row
per person, under a title row, grouped into households; the household number
makes next year's register update them; .xls read too; tags kept."""
import csv
import io

import openpyxl
from flask_babel import force_locale
import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditRecord, Household
from app.services.errors import ValidationError
from app.services.people import register_import as imports
from app.services.people import tags
from tests.factories import count
from tests.xls import xls

ID = "11010519491231002X"
TITLE = ["东岭镇2026年建档立卡户花名册（导出日期：2026-03-01）"]
HEADER = ["序号", "乡镇", "行政村", "户编号", "姓名", "与户主关系", "证件号码", "贫困户属性", "主要致贫原因", "联系电话"]
# Six people in three households of 东坪村 (the world's v1, in 东岭镇).
PEOPLE = [
    [1, "东岭镇", "东坪村", "330100000001", "赵大山", "户主", ID, "一般贫困户", "因病", "13900000001"],
    [2, "东岭镇", "东坪村", "330100000001", "钱秀兰", "配偶", ID[:-1] + "1", "一般贫困户", "因病", None],
    [3, "东岭镇", "东坪村", "330100000001", "赵小虎", "之子", ID[:-1] + "2", "一般贫困户", "因病", None],
    [4, "东岭镇", "东坪村", "330100000002", "孙桂英", "户主", ID[:-1] + "3", "五保户", "缺劳力", None],
    [5, "东岭镇", "东坪村", "330100000003", "李长顺", "户主", ID[:-1] + "4", "低保贫困户", "因残", "13900000003"],
    [6, "东岭镇", "东坪村", "330100000003", "周玉", "之女", ID[:-1] + "5", "低保贫困户", "因残", None],
]


def register(people=PEOPLE, header=HEADER) -> list[list]:
    return [TITLE[:], header[:], *(row[:] for row in people)]


def as_csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def preview(world, data: bytes, filename: str = "花名册.csv", user: str = "staff"):
    return imports.preview_file(world.users[user], data, filename)


def by_register_no() -> dict[str, Household]:
    return {h.register_no: h for h in db.session.scalars(
        select(Household).where(Household.register_no.is_not(None)))}


def test_six_people_are_three_households(world):
    """The rows group by 户编号 into three households: the 户主 heads each, its rows counted,
    贫困户属性 mapped to tags, the household number kept; the ID column is not read."""
    p = preview(world, as_csv(register()))
    assert (p.lines, len(p.rows), p.good, p.bad) == (6, 3, 3, 0)
    assert [(r.fields["head_name"], r.fields["members"], r.fields["tags"], r.register_no, r.lines)
            for r in p.rows] == [
        ("赵大山", 3, ["建档立卡"], "330100000001", [3, 4, 5]),
        ("孙桂英", 1, ["五保"], "330100000002", [6]),
        ("李长顺", 2, ["建档立卡", "低保"], "330100000003", [7, 8])]
    assert p.rows[0].people == [("赵大山", "户主"), ("钱秀兰", "配偶"), ("赵小虎", "之子")]
    assert p.rows[0].fields["phone"] == "13900000001" and p.rows[0].village.id == world.v1.id
    assert "证件号码" in p.sheet.dropped and ID[:17] not in p.sheet.to_json()
    assert p.sheet.unknown == []


def test_import_makes_three_households_and_stores_no_id(world):
    """Importing the six rows adds three households (not six), with their numbers; no ID anywhere."""
    before = count(Household)
    created = imports.import_households(world.users["staff"], preview(world, as_csv(register())), only_good=False)
    db.session.commit()
    assert len(created) == 3 and count(Household) == before + 3
    found = by_register_no()
    assert (found["330100000001"].head_name, found["330100000001"].members) == ("赵大山", 3)
    assert found["330100000003"].tags == ["建档立卡", "低保"]
    for table in ("households", "audit_records"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")).all():
            assert ID[:17] not in " ".join(str(v) for v in row), table


def test_without_household_numbers_the_rows_after_a_head_are_its_household(world):
    """No 户编号 column: a 户主 row starts a household and the rows after it belong to it."""
    header = [h for h in HEADER if h != "户编号"]
    people = [[v for i, v in enumerate(row) if i != 3] for row in PEOPLE]
    p = preview(world, as_csv(register(people, header)))
    assert [(r.fields["head_name"], r.fields["members"]) for r in p.rows] == [
        ("赵大山", 3), ("孙桂英", 1), ("李长顺", 2)]
    assert p.good == 3


def test_a_household_without_a_head_or_with_two_is_refused(world):
    """Rows of a household number with no 户主, or two, are a clear error on that household."""
    people = [row[:] for row in PEOPLE]
    people[3][5] = "之父"       # 孙桂英's household has no head now
    people[5][5] = "户主"       # 李长顺's has two
    p = preview(world, as_csv(register(people)))
    assert [r.ok for r in p.rows] == [True, False, False]
    assert "户主" in str(p.rows[1].errors["head_name"][0])
    assert "7, 8" in str(p.rows[2].errors["head_name"][0])


def test_next_years_register_updates_the_households(world):
    """Importing the next year's register updates the households by their number (members,
    tags, phone, head) instead of adding them again; tags given by hand stay."""
    imports.import_households(world.users["staff"], preview(world, as_csv(register())), only_good=False)
    db.session.commit()
    first = by_register_no()
    first["330100000002"].tags = ["五保", "独居老人"]     # given by hand since
    db.session.commit()
    households_before = count(Household)

    people = [row[:] for row in PEOPLE]
    del people[2]                                          # 赵小虎 moved out
    people[0][9] = "13900000009"                           # a new phone
    people[2][7] = "低保户"                                 # 孙桂英: 低保 now, not 五保
    people[3][5], people[4][5] = "之父", "户主"              # 周玉 heads her household now
    people[3][9], people[4][9] = None, "13900000003"
    p = preview(world, as_csv(register(people)))
    assert (p.good, p.updates) == (3, 3)
    assert p.rows[0].existing.id == first["330100000001"].id
    assert p.rows[0].changes == ["members", "phone"]
    imports.import_households(world.users["staff"], p, only_good=False)
    db.session.commit()
    assert count(Household) == households_before
    after = by_register_no()
    assert (after["330100000001"].members, after["330100000001"].phone) == (2, "13900000009")
    assert after["330100000002"].tags == ["低保", "独居老人"]
    assert after["330100000003"].head_name == "周玉"
    updates = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.update")).all()
    assert len(updates) == 3


def test_a_household_added_by_hand_takes_its_number(world):
    """A household already registered by hand (same village, head, phone) is matched, not
    duplicated, and takes the register's number."""
    hh = world.households["v1a"]
    people = [[1, "东岭镇", "东坪村", "330100000042", hh.head_name, "户主", None, "一般贫困户", None, hh.phone]]
    p = preview(world, as_csv(register(people)))
    assert p.rows[0].ok and p.rows[0].existing.id == hh.id
    imports.import_households(world.users["staff"], p, only_good=False)
    db.session.commit()
    db.session.refresh(hh)
    assert hh.register_no == "330100000042" and "建档立卡" in hh.tags


def test_old_excel_xls_reads_like_the_csv(world):
    """An .xls (as old Excel and the national system save) is read like the same register as CSV
    or .xlsx; numbers such as the household number and phone read as text."""
    rows = register()
    for row in rows[2:]:
        row[3], row[9] = float(row[3]), float(row[9]) if row[9] else None
    sheets = [imports.parse_register(data, name) for data, name in (
        (xls(rows), "花名册.xls"), (as_xlsx(rows), "花名册.xlsx"), (as_csv(register()), "花名册.csv"))]
    assert sheets[0].records == sheets[1].records == sheets[2].records
    assert sheets[0].records[0].values["register_no"] == "330100000001"
    p = preview(world, xls(rows), "花名册.xls")
    assert (p.lines, len(p.rows), p.good) == (6, 3, 3)


def test_a_damaged_xls_is_refused_clearly(app):
    """A file named .xls that is not one is refused with the same clear message as a bad .xlsx."""
    with pytest.raises(ValidationError) as info:
        imports.parse_register(xls([["户主姓名"], ["甲"]])[:600], "r.xls")
    with force_locale("en"):
        assert "could not be read" in str(info.value.errors["file"][0])


# -- tags in the register -----------------------------------------------------------

def test_the_apps_own_tag_heading_and_several_tags_in_a_cell(world):
    """户类型标签 (the app's heading) is read, and a cell's tags split on ，、,;；/ and spaces."""
    data = as_csv([["户主姓名", "所在村", "户类型标签"], ["甲", "东坪村", "监测户,低保"],
                   ["乙", "东坪村", "残疾；独居老人"], ["丙", "东坪村", "建档立卡 五保/低保"],
                   ["丁", "东坪村", "边缘户、残疾，脱贫户"]])
    p = preview(world, data)
    assert p.sheet.columns["tags"] == "户类型标签" and p.sheet.unknown == []
    assert [r.fields["tags"] for r in p.rows] == [
        ["监测户", "低保"], ["残疾", "独居老人"], ["建档立卡", "五保", "低保"], ["边缘户", "残疾", "脱贫户"]]


@pytest.mark.parametrize("heading", ["户类型", "标签", "户属性", "贫困户属性", "tags"])
def test_usual_tag_headings(world, heading):
    """The usual headings all carry tags; 户类型 values such as 低保贫困户 are mapped."""
    p = preview(world, as_csv([["户主姓名", "所在村", heading], ["甲", "东坪村", "监测户，低保贫困户"]]))
    assert p.rows[0].fields["tags"] == ["监测户", "建档立卡", "低保"]


def test_an_unrecognised_column_is_a_warning(world):
    """A column neither read nor known to be left out is named as unrecognised, not dropped silently."""
    p = preview(world, as_csv([["户主姓名", "所在村", "帮扶措施", "序号"], ["甲", "东坪村", "产业", "1"]]))
    assert p.sheet.unknown == ["帮扶措施"] and p.sheet.dropped == ["序号"]
    assert p.summary["unknown"] == ["帮扶措施"]


def test_a_retired_tag_is_refused_in_a_register(world):
    """A tag an admin retired can no longer be given by an import; an added one can."""
    retired = next(t for t in tags.all_tags() if t.name == "边缘户")
    tags.set_active(world.users["admin"], retired.id, False)
    tags.add_tag(world.users["admin"], {"name": "易返贫户"})
    p = preview(world, as_csv([["户主姓名", "所在村", "标签"], ["甲", "东坪村", "边缘户"], ["乙", "东坪村", "易返贫户"]]))
    assert "边缘户" in str(p.rows[0].errors["tags"][0]) and p.rows[1].fields["tags"] == ["易返贫户"]
