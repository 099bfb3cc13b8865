"""The register import pages: upload, preview, confirm, cancel; roles and what stays on disk."""
import io
import re
from pathlib import Path

import pytest
from flask import current_app

from app.extensions import db
from app.models import AuditRecord, Household
from app.services.people.regions import create_region
from tests.factories import count, login

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "households-sample-zh.csv"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def county(world):
    """The world plus the sample's other villages."""
    for name, township in (("南岭村", world.east), ("北塬村", world.east), ("柳树湾村", world.west)):
        create_region(None, {"name": name, "level": "village", "parent_id": township.id})
    db.session.commit()
    return world


def upload(client, data: bytes, filename: str = "register.csv", **kwargs):
    return client.post("/households/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", **kwargs)


def pending_files() -> list[Path]:
    folder = Path(current_app.instance_path) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def english(client):
    client.set_cookie("lang", "en")


@pytest.mark.parametrize("user", ["volunteer", "donor", "cadre"])
def test_page_forbidden_to_other_roles(client, world, user):
    """Volunteers, donors and cadres get 403 on the import pages."""
    login(client, user)
    assert client.get("/households/import").status_code == 403
    assert upload(client, SAMPLE.read_bytes()).status_code == 403
    assert client.post("/households/import/confirm", data={"mode": "good"}).status_code == 403
    assert pending_files() == []


def test_upload_form(client, world):
    """Staff see a file upload form that accepts .xlsx, .xls and .csv."""
    login(client, "staff")
    r = client.get("/households/import")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'type="file"' in html and 'accept=".xlsx,.xls,.csv"' in html and 'enctype="multipart/form-data"' in html


def test_preview_then_import_good_rows(client, county):
    """Upload shows the preview (5 bad rows marked); importing only the good rows adds 40 and cleans up."""
    english(client)
    login(client, "admin")
    before = count(Household)
    r = upload(client, SAMPLE.read_bytes(), "households-sample-zh.csv")
    assert r.status_code == 302 and r.headers["Location"].endswith("/households/import")
    assert "杜" not in r.headers["Location"]
    r = client.get("/households/import")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert len(re.findall(r'<tr id="row-\d+" class="bad">', html)) == 5
    assert len(re.findall(r'<tr id="row-\d+"', html)) == 45
    assert "45 rows, 45 households" in html
    assert "Good: 40 (of which already in the register, to be updated: 0). With errors: 5." in html
    assert re.search(r'value="all" class="primary" disabled', html)
    assert "Import only the good households (40)" in html
    assert "序号、主要致贫原因、帮扶责任人" in html and 'id="unknown-columns"' not in html
    r = client.get("/households/import?show=bad")
    assert len(re.findall(r'<tr id="row-\d+"', r.get_data(as_text=True))) == 5
    assert len(pending_files()) == 1

    r = client.post("/households/import/confirm", data={"mode": "good", "expected": "40"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/households/")
    assert count(Household) == before + 40
    assert pending_files() == []
    r = client.get("/households/")
    assert "40 households added." in r.get_data(as_text=True)
    # The preview is gone: a second confirm writes nothing.
    r = client.post("/households/import/confirm", data={"mode": "good", "expected": "40"}, follow_redirects=True)
    assert "No import is waiting" in r.get_data(as_text=True)
    assert count(Household) == before + 40


def test_import_all_refused_with_bad_rows(client, county):
    """Import all on a file with bad rows writes nothing and keeps the preview."""
    english(client)
    login(client, "admin")
    before = (count(Household), count(AuditRecord))
    upload(client, SAMPLE.read_bytes())
    r = client.post("/households/import/confirm", data={"mode": "all", "expected": "45"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Households with errors: 5. Nothing was imported" in html
    assert '<tr id="row-42" class="bad">' in html
    assert (count(Household), count(AuditRecord)) == before
    assert len(pending_files()) == 1


def test_clean_file_imports_all(client, world):
    """A file without errors imports every row with Import all."""
    login(client, "staff")
    data = "户主姓名,家庭人口,联系电话\r\n甲,3,13800000001\r\n乙,2,\r\n".encode("gb18030")
    upload(client, data)
    html = client.get("/households/import").get_data(as_text=True)
    assert "disabled" not in html and 'value="good"' not in html
    r = client.post("/households/import/confirm", data={"mode": "all", "expected": "2"})
    assert r.status_code == 302
    assert count(Household) == 6


def test_changed_register_asks_to_check_again(client, county):
    """If the good rows changed since the preview, confirm writes nothing and shows the preview again."""
    english(client)
    login(client, "admin")
    before = count(Household)
    upload(client, SAMPLE.read_bytes())
    r = client.post("/households/import/confirm", data={"mode": "good", "expected": "39"}, follow_redirects=True)
    assert "changed since the preview" in r.get_data(as_text=True)
    assert count(Household) == before and len(pending_files()) == 1


@pytest.mark.parametrize("data, filename, message", [
    (b"", "empty.csv", "The file is empty."),
    (b"PK\x03\x04\x00garbage", "register.xlsx", "could not be read as a spreadsheet"),
    (b"%PDF-1.4 ...", "register.pdf", "Upload an .xlsx, .xls or .csv file."),
])
def test_bad_upload_shows_error_and_writes_nothing(client, world, data, filename, message):
    """An empty, damaged or non-spreadsheet upload is answered on the form; nothing is kept or written."""
    english(client)
    login(client, "staff")
    before = (count(Household), count(AuditRecord))
    r = upload(client, data, filename)
    assert r.status_code == 200
    assert message in r.get_data(as_text=True)
    assert (count(Household), count(AuditRecord)) == before
    assert pending_files() == []


def test_id_numbers_not_kept_between_preview_and_confirm(client, world):
    """The file waiting for confirmation holds no ID-card numbers, nor do the register or the audit trail."""
    login(client, "staff")
    data = f"户主姓名,身份证号,家庭人口\r\n张三,{ID_NUMBER},3\r\n".encode()
    upload(client, data)
    [path] = pending_files()
    assert ID_NUMBER not in path.read_text("utf-8") and "张三" in path.read_text("utf-8")
    with client.session_transaction() as sess:
        assert "张三" not in str(dict(sess))
    assert client.post("/households/import/confirm", data={"mode": "all", "expected": "1"}).status_code == 302
    hh = db.session.query(Household).filter_by(head_name="张三").one()
    assert ID_NUMBER not in str(vars(hh))
    assert all(ID_NUMBER not in str(a.details) for a in db.session.query(AuditRecord))


def test_cancel_discards_the_preview(client, world):
    """Cancel deletes the waiting file and returns to the upload form."""
    login(client, "staff")
    upload(client, "户主姓名\r\n张三\r\n".encode())
    assert len(pending_files()) == 1
    r = client.post("/households/import/cancel")
    assert r.status_code == 302 and pending_files() == []
    assert 'type="file"' in client.get("/households/import").get_data(as_text=True)


def test_preview_is_per_user(client, county):
    """Another user in the same browser does not see or confirm the previous user's preview."""
    login(client, "staff")
    upload(client, "户主姓名\r\n张三\r\n".encode())
    client.post("/logout")
    login(client, "admin")
    html = client.get("/households/import").get_data(as_text=True)
    assert 'type="file"' in html and "张三" not in html
    client.post("/households/import/confirm", data={"mode": "all"})
    assert count(Household) == 4


def national_register() -> bytes:
    """Six people in three households, as the national system exports them (title row first)."""
    from tests.services.test_national_register import as_csv, register
    return as_csv(register())


def test_national_register_preview_shows_households_and_members(client, world):
    """The preview of a six-person national register says 6 rows, 3 households, lists each
    household's people, never shows the ID numbers, and importing adds three households."""
    english(client)
    login(client, "staff")
    upload(client, national_register(), "花名册.csv")
    html = client.get("/households/import").get_data(as_text=True)
    assert "6 rows, 3 households" in html
    assert len(re.findall(r'<tr id="row-\d+"', html)) == 3
    assert "钱秀兰" in html and "（配偶）" in html and "赵小虎" in html
    assert ID_NUMBER[:10] not in html and "330100000001" in html
    before = count(Household)
    r = client.post("/households/import/confirm", data={"mode": "all", "expected": "3"}, follow_redirects=True)
    assert "3 households added." in r.get_data(as_text=True)
    assert count(Household) == before + 3
    # The same register again updates them: nothing added.
    upload(client, national_register(), "花名册.csv")
    html = client.get("/households/import").get_data(as_text=True)
    assert html.count("Updates ") == 3
    r = client.post("/households/import/confirm", data={"mode": "all", "expected": "3"}, follow_redirects=True)
    assert count(Household) == before + 3 and "3 households updated from the register." in r.get_data(as_text=True)


def test_unrecognised_column_is_a_visible_warning(client, world):
    """A column the import does not know is named in a warning, not dropped with a grey note."""
    english(client)
    login(client, "staff")
    upload(client, "户主姓名,帮扶措施\r\n甲,产业\r\n".encode())
    html = client.get("/households/import").get_data(as_text=True)
    assert re.search(r'id="unknown-columns">Columns not recognised, not imported: 帮扶措施', html)
