"""The monthly briefing PDF: the month's figures, the villages and the flags,
in Chinese, as the township meeting reads them (text read back with pdftotext)."""
import shutil
import subprocess

import pytest

from tests.factories import login
from tests.reports_helpers import Data, build_report_data


@pytest.fixture
def data(app, world) -> Data:
    return build_report_data(world)


def pdf_text(raw: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "briefing.pdf"
    path.write_bytes(raw)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_briefing_of_a_month(client, world, data, tmp_path):
    login(client, "cadre")
    month = data.m1.strftime("%Y-%m")
    r = client.get("/reports/briefing.pdf", query_string={"month": month})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].endswith(f"briefing-{month}.pdf")
    text = pdf_text(r.get_data(), tmp_path)
    assert f"{data.m1.year}年{data.m1.month}月" in text
    # m1: v1a 5 and v3x 5 awarded, 3 deducted, one checkout of soap.
    assert "加分" in text and "扣分" in text
    lines = text.splitlines()
    assert any("10" in line for line in lines)
    for village in ("东坪村", "石门村", "西沟村"):
        assert village in text
    assert "公平性检查" in text and "累计兑换 2 户、2 次" in text


def test_briefing_refuses_a_bad_month_and_hides_flags_from_staff(client, world, data, tmp_path):
    login(client, "cadre")
    r = client.get("/reports/briefing.pdf", query_string={"month": "2026-13"}, follow_redirects=True)
    assert "请填写类似 2026-03 的月份" in r.get_data(as_text=True)
    client.post("/logout")
    login(client, "staff")
    r = client.get("/reports/briefing.pdf", query_string={"month": data.m1.strftime("%Y-%m")})
    assert r.status_code == 200
    text = pdf_text(r.get_data(), tmp_path)
    assert "东坪村" in text and "石门村" not in text and "公平性检查" not in text
