"""The donor portal: the donor's home, a donation's trace page and the thank-you
card (PNG, A4 PDF): the numbers a donor sees, 404 for another donor's donation,
and no household's name, code or id in anything a donor gets."""
import io
import re
import shutil
import subprocess

import pytest
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import Donor, Household
from app.services import clock
from app.services.goods import writeoffs
from app.services.people.accounts import create_user
from tests.factories import login
from tests.goods_helpers import load_products, receive, redeem


@pytest.fixture
def gift(world):
    """10 bags of rice from the world's donor, all redeemed by 3 households in 2
    villages; 6 bars of soap, 1 redeemed and 1 written off; and a donation of
    another donor's."""
    products = load_products()
    rice, soap = products["大米 5kg"], products["香皂"]
    d = receive(world, [(rice, 10), (soap, 6)])
    hh = world.households
    for name, n in (("v1a", 4), ("v1b", 3), ("v2a", 3)):
        redeem(None, world.sm_east.id, rice.id, n, household=hh[name])
    redeem(None, world.sm_east.id, soap.id, 1, household=hh["v1a"])
    writeoffs.write_off(None, world.sm_east.id, {"product_id": soap.id, "quantity": 1, "reason": "damaged"})
    other = Donor(name="别家企业", kind="company")
    db.session.add(other)
    db.session.flush()
    world.users["other_donor"] = create_user(None, {"username": "other_donor", "password": "correct horse battery",
                                                    "role": "donor", "donor_id": other.id})
    theirs = receive(world, [(rice, 2)], donor=other)
    db.session.commit()
    return d, theirs


def as_user(client, name, password=None):
    r = login(client, name, *([password] if password else []))
    assert r.status_code == 302
    return client


def household_words() -> list[str]:
    """Every household's head name and code in the database."""
    rows = db.session.execute(select(Household.head_name, Household.code)).all()
    assert rows
    return [w for row in rows for w in row if w]


def assert_no_household(text: str) -> None:
    for word in household_words():
        assert word not in text
    assert "household_id" not in text and "/households/" not in text


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "card.pdf"
    path.write_bytes(content)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    from pypdf import PdfReader  # pragma: no cover
    return "".join(page.extract_text() for page in PdfReader(str(path)).pages)


def test_donor_home_sums_all_giving_and_lists_the_donations(client, world, gift):
    """The donor's home: units given, redeemed, written off, remaining, households, villages,
    the months, and each donation linking to its page; not the placeholder any more."""
    d, theirs = gift
    html = as_user(client, "donor").get("/").get_data(as_text=True)
    assert "去向将在" not in html
    stats = dict((label, int(n)) for n, label in re.findall(r"<b>(\d+)</b><span>([^<]+)</span>", html))
    assert stats == {"捐赠数量": 16, "已兑换": 11, "受益户数": 3, "受益村数": 2, "已报损": 1, "仍在货架上": 4}
    assert f'/giving/donations/{d.id}"' in html and f"/giving/donations/{theirs.id}" not in html
    assert clock.local_today().strftime("%Y-%m") in html  # the timeline by month
    assert "东坪村 8" in html and "石门村 3" in html
    assert_no_household(html)


def test_donation_page_traces_each_line(client, world, gift):
    d, _theirs = gift
    html = as_user(client, "donor").get(f"/giving/donations/{d.id}").get_data(as_text=True)
    today = clock.local_today().isoformat()
    assert "大米 5kg" in html and "香皂" in html
    rice = html[html.index("大米 5kg"):html.index("香皂")]
    assert re.findall(r"<dd>([^<]+)</dd>", rice) == ["10", "10", "0", "0", "3", today, today]
    assert "东坪村 7" in rice and "石门村 3" in rice
    assert f"/giving/donations/{d.id}/thanks.png" in html and f"/giving/donations/{d.id}/thanks.pdf" in html
    assert_no_household(html)


def test_another_donors_donation_is_404_everywhere(client, world, gift):
    """Page, API trace, card picture and PDF: 404 to another donor, as if it did not exist."""
    d, _theirs = gift
    as_user(client, "other_donor", "correct horse battery")
    for path in (f"/giving/donations/{d.id}", f"/giving/donations/{d.id}/thanks.png",
                 f"/giving/donations/{d.id}/thanks.pdf", f"/giving/donors/{world.donor.id}/thanks.png",
                 f"/giving/donors/{world.donor.id}/thanks.pdf"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/api/v1/donations/{d.id}/trace",
                      headers=world.headers("other_donor")).status_code == 404


def test_who_else_opens_the_donation_page(client, world, gift):
    """A volunteer of the donation's supermarket and a cadre over it open the page; a volunteer
    elsewhere gets 404, village staff 403 (donations are not theirs to read)."""
    d, _theirs = gift
    for name, status in (("volunteer", 200), ("cadre", 200), ("volunteer_west", 404), ("staff", 403)):
        client.post("/logout")
        as_user(client, name)
        assert client.get(f"/giving/donations/{d.id}").status_code == status, name
    client.post("/logout")
    as_user(client, "volunteer")
    assert f"/giving/donations/{d.id}\"" in client.get(f"/goods/donations/{d.id}").get_data(as_text=True)


def test_thank_you_card_png_and_pdf(client, world, gift, tmp_path):
    """The card says, in Chinese, what reached how many households in how many villages, when
    and at which supermarket; a PNG a phone can share and an A4 PDF; no household in either."""
    d, _theirs = gift
    as_user(client, "donor")
    r = client.get(f"/giving/donations/{d.id}/thanks.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = Image.open(io.BytesIO(r.data))
    assert img.size == (1080, 1350)
    r = client.get(f"/giving/donations/{d.id}/thanks.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data, tmp_path)
    flat = re.sub(r"\s+", "", text)
    assert "您捐赠的16件物资中，已有11件送到2个村的3户家庭" in flat
    day = clock.local_today()
    assert f"发放日期：{day.year}年{day.month}月{day.day}日" in flat
    assert "爱心超市：东岭镇爱心超市" in flat and "大米5kg：捐赠10袋，已兑换10" in flat
    assert_no_household(text)
    # One product, all of it redeemed: the sentence.
    rice_only = receive(world, [(db.session.get(type(d.lines[0].product), d.lines[0].product_id), 2)])
    # The other donor's 2 bags are older (lower id, same day): 4 takes theirs, then these.
    redeem(None, world.sm_east.id, d.lines[0].product_id, 4, household=world.households["v2a"])
    db.session.commit()
    whole = pdf_text(client.get(f"/giving/donations/{rice_only.id}/thanks.pdf").data, tmp_path)
    assert "您捐赠的2袋大米5kg已送到1个村的1户家庭" in re.sub(r"\s+", "", whole)
    # All the donor's giving.
    r = client.get(f"/giving/donors/{world.donor.id}/thanks.pdf")
    flat = re.sub(r"\s+", "", pdf_text(r.data, tmp_path))
    assert "您捐赠的18件物资中，已有13件送到2个村的3户家庭" in flat and "2笔捐赠" in flat
    assert_no_household(flat)
    assert client.get(f"/giving/donors/{world.donor.id}/thanks.png").mimetype == "image/png"


def test_donor_json_has_no_household(client, world, gift):
    d, _theirs = gift
    for path in (f"/api/v1/donations/{d.id}/trace", f"/api/v1/donors/{world.donor.id}/trace",
                 f"/api/v1/donations/{d.id}", "/api/v1/donations"):
        r = client.get(path, headers=world.headers("donor"))
        assert r.status_code == 200, path
        assert_no_household(r.get_data(as_text=True))
