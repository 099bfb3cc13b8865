"""Points pages: awarding (one, many, scanned), the rule catalogue, review,
objections, reversals, the public notice and the household's own passbook."""
import csv
import io
import re
import time
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Household, LedgerEntry, Rule
from app.services.checkout import cards
from app.services.ledger import writer as posting
from app.services.people.households import update_household
from app.services.points.notices import mask_name
from app.services import clock
from tests.factories import PASSWORD, count, login
from tests.points_helpers import at, award, make_rule, photo, today


def entries(**where) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    for key, value in where.items():
        query = query.where(getattr(LedgerEntry, key) == value)
    db.session.rollback()
    return list(db.session.scalars(query))


def post_award(client, world, names, code, **extra):
    data = {"household_ids": [world.households[n].id for n in names], "rule_code": code,
            "occurred_on": today(), "note": "", **extra}
    return client.post("/points/award", data=data, content_type="multipart/form-data")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def issue(world, name: str):
    card = cards.issue_card(world.users["admin"], world.households[name].id)
    db.session.commit()
    return card


# -- awarding ------------------------------------------------------------------------------

def test_award_one_household_through_the_page(client, world):
    """Staff award one household: one pending entry with an audit row, and the page says so."""
    make_rule("HJ-01", 5, cap=1)
    login(client, "staff")
    page = text_of(client.get("/points/award"))
    assert "HJ-01" in page and "杜玉梅" in page and 'capture="environment"' in page
    r = post_award(client, world, ["v1a"], "HJ-01", note="院子干净")
    assert r.status_code == 302
    made = entries()
    assert [(e.household_id, e.points, e.status, e.note) for e in made] == [
        (world.households["v1a"].id, 5, "pending", "院子干净")]
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "points.award")).all()
    follow = text_of(client.get(r.headers["Location"]))
    assert "5" in follow and "flash-success" in follow


def test_award_many_households_from_the_village_list(client, world):
    """Ticking several households of a village awards each of them once, in one act."""
    make_rule("GY-01", 5)
    login(client, "staff")
    fragment = text_of(client.get(f"/points/award/households?village_id={world.v1.id}"))
    assert "杜玉梅" in fragment and "王喆" in fragment and "select-all" in fragment
    r = post_award(client, world, ["v1a", "v1b"], "GY-01")
    assert r.status_code == 302
    assert sorted(e.household_id for e in entries()) == sorted(
        [world.households["v1a"].id, world.households["v1b"].id])


def test_batch_with_one_blocked_household_writes_nothing_and_names_it(client, world):
    """Over the cap or exited: nothing of the batch is written and the page names who blocked it."""
    make_rule("HJ-01", 5, cap=1)
    award(world, "staff", ["v1a"], "HJ-01")
    login(client, "staff")
    r = post_award(client, world, ["v1a", "v1b"], "HJ-01")
    page = text_of(r)
    assert r.status_code == 200
    assert "杜玉梅" in page and "award-blocked" in page and "pick-item blocked" in page
    assert len(entries()) == 1

    make_rule("GY-02", 5)
    update_household(world.users["admin"], world.households["v1b"].id, {"status": "exited"})
    db.session.commit()
    r = post_award(client, world, ["v1a", "v1b"], "GY-02")
    page = text_of(r)
    assert "王喆" in page and "award-blocked" in page
    assert len(entries()) == 1


def test_photo_required_where_the_rule_asks(client, world):
    """A rule needing evidence refuses an award without a photo and takes one with it."""
    make_rule("QL-01", 10, evidence=True)
    login(client, "staff")
    r = post_award(client, world, ["v1a"], "QL-01")
    assert r.status_code == 200 and "has-error" in text_of(r)
    assert entries() == []
    r = post_award(client, world, ["v1a"], "QL-01",
                   evidence=(io.BytesIO(photo(800, 600)), "photo.jpg"))
    assert r.status_code == 302
    entry = entries()[0]
    assert entry.evidence_id is not None
    shown = client.get(f"/points/evidence/{entry.evidence_id}")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    shown.close()
    client.post("/logout")
    login(client, "staff_west")
    assert client.get(f"/points/evidence/{entry.evidence_id}").status_code == 404


def test_scan_endpoint_adds_households_by_payload_or_number(client, world):
    """The scan field's endpoint answers a QR payload or a typed number (spaces allowed), and refuses what it must."""
    card = issue(world, "v1a")
    login(client, "staff")
    r = client.post("/points/cards/resolve", json={"code": cards.qr_payload(card)})
    assert r.status_code == 200 and r.get_json()["household"]["id"] == world.households["v1a"].id
    spaced = cards.format_number(card.number)
    r = client.post("/points/cards/resolve", json={"code": spaced})
    assert r.status_code == 200 and r.get_json()["household"]["head_name"] == "杜玉梅"
    assert client.post("/points/cards/resolve", json={"code": "8" * 41}).status_code == 404
    assert client.post("/points/cards/resolve", json={"code": ""}).status_code == 422
    issue(world, "v1a")
    r = client.post("/points/cards/resolve", json={"code": card.number})
    assert r.status_code == 410 and r.get_json()["detail"]
    west = issue(world, "v3a")
    assert client.post("/points/cards/resolve", json={"code": west.number}).status_code == 404


def test_scan_endpoint_needs_the_csrf_header(make_app, world):
    """With CSRF on (as in production), the scan endpoint wants the page's token in X-CSRFToken."""
    card = issue(world, "v1a")
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.test_client() as c:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text_of(c.get("/login"))).group(1)
        c.post("/login", data={"username": "staff", "password": PASSWORD, "csrf_token": token})
        page = text_of(c.get("/points/award"))
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        assert c.post("/points/cards/resolve", json={"code": card.number}).status_code == 400
        r = c.post("/points/cards/resolve", json={"code": card.number}, headers={"X-CSRFToken": token})
        assert r.status_code == 200 and r.get_json()["household"]["code"] == world.households["v1a"].code


def test_award_page_preselects_a_household_from_its_page(client, world):
    """Coming from a household's page, that household is already chosen."""
    make_rule("HJ-01", 5)
    login(client, "staff")
    hh = world.households["v1b"]
    page = text_of(client.get(f"/points/award?household_id={hh.id}"))
    assert f'value="{hh.id}" checked' in page
    detail = text_of(client.get(f"/households/{hh.id}"))
    assert f"/points/award?household_id={hh.id}" in detail and 'id="points"' in detail


# -- the rule catalogue ---------------------------------------------------------------------

def rule_form(**fields):
    data = {"code": "HJ-09", "category": "环境卫生", "name": "门前三包", "points": "5",
            "unit": "每次", "cap_per_month": "2"}
    data.update(fields)
    return data


def test_rule_change_makes_a_version_and_old_awards_keep_their_value(client, world):
    """Changing a rule's points on the page adds a version; the earlier award keeps 5, a new one gets 8."""
    login(client, "admin")
    assert client.post("/points/rules/new", data=rule_form()).status_code == 302
    taken = client.post("/points/rules/new", data=rule_form(name="再来一次"))
    assert taken.status_code == 200 and "has-error" in text_of(taken)
    first = award(world, "staff", ["v1a"], "HJ-09")[0]
    r = client.post("/points/rules/HJ-09/edit", data=rule_form(points="8"))
    assert r.status_code == 302
    page = text_of(client.get("/points/rules"))
    assert "+8" in page and "v2" in page and "环境卫生" in page
    second = award(world, "staff", ["v1b"], "HJ-09")[0]
    db.session.rollback()
    assert db.session.get(LedgerEntry, first.id).points == 5
    assert db.session.get(LedgerEntry, second.id).points == 8
    versions = db.session.scalars(select(Rule.version).where(Rule.code == "HJ-09")).all()
    assert sorted(versions) == [1, 2]
    unchanged = client.post("/points/rules/HJ-09/edit", data=rule_form(points="8"), follow_redirects=True)
    assert unchanged.status_code == 200
    assert sorted(db.session.scalars(select(Rule.version).where(Rule.code == "HJ-09")).all()) == [1, 2]


def test_retired_rule_leaves_the_award_page(client, world):
    """A retired rule is no longer offered and an award with it is refused; its past awards stay."""
    make_rule("HJ-02", 3)
    award(world, "staff", ["v1a"], "HJ-02")
    login(client, "admin")
    assert client.post("/points/rules/HJ-02/retire").status_code == 302
    assert 'value="HJ-02"' not in text_of(client.get("/points/award"))
    r = post_award(client, world, ["v1b"], "HJ-02")
    assert r.status_code == 200 and "has-error" in text_of(r)
    assert len(entries()) == 1
    assert "HJ-02" in text_of(client.get("/points/rules"))


def test_rules_import_export_round_trip(client, world):
    """The exported catalogue imports unchanged; an edited row becomes a new version; a bad file imports nothing."""
    make_rule("HJ-01", 5, cap=1, category="环境卫生")
    make_rule("GY-01", 5, evidence=True, category="公益参与")
    login(client, "admin")
    exported = client.get("/points/rules/export?format=csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    r = client.post("/points/rules/import", data={"file": (io.BytesIO(exported.data), "rules.csv")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "0" in text_of(r) and count(Rule) == 2

    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    rows[1][rows[0].index("points")] = "7"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    r = client.post("/points/rules/import", data={"file": (io.BytesIO(out.getvalue().encode()), "rules.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 302 and count(Rule) == 3

    xlsx = client.get("/points/rules/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.cell(1, 1).value == "code" and sheet.max_row == 3
    r = client.post("/points/rules/import", data={"file": (io.BytesIO(xlsx.data), "rules.xlsx")},
                    content_type="multipart/form-data")
    assert r.status_code == 302 and count(Rule) == 3

    bad = "code,category,name,points\nXX-1,测试,好的,5\nXX-2,测试,坏的,零\n".encode()
    r = client.post("/points/rules/import", data={"file": (io.BytesIO(bad), "bad.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "flash-error" in text_of(r) and "3" in text_of(r)
    assert count(Rule) == 3


def test_rule_pages_are_for_admins(client, world):
    """Staff and cadres read the catalogue; only admins change it."""
    make_rule("HJ-01", 5)
    login(client, "staff")
    assert client.get("/points/rules").status_code == 200
    assert client.get("/points/rules/new").status_code == 403
    assert client.post("/points/rules/HJ-01/retire").status_code == 403
    assert client.get("/points/rules/import").status_code == 403


# -- review, objections, reversals --------------------------------------------------------

def test_cadre_approves_and_rejects_on_the_review_page(client, world):
    """A large award waits for a cadre: approve lets it count, reject (with a reason) cancels it."""
    make_rule("BIG", 60)
    first, second = award(world, "staff", ["v1a", "v1b"], "BIG")
    login(client, "cadre")
    page = text_of(client.get("/points/review"))
    assert "杜玉梅" in page and "王喆" in page and f"/points/entries/{first.id}/approve" in page
    r = client.post(f"/points/entries/{first.id}/approve", data={"next": "/points/review"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/review")
    no_reason = client.post(f"/points/entries/{second.id}/reject", data={"reason": " "},
                            follow_redirects=True)
    assert "flash-error" in text_of(no_reason)
    client.post(f"/points/entries/{second.id}/reject", data={"reason": "重复申报"})
    db.session.rollback()
    assert db.session.get(LedgerEntry, first.id).approved_at is not None
    assert db.session.get(LedgerEntry, second.id).status == "cancelled"
    assert db.session.get(LedgerEntry, second.id).decision_reason == "重复申报"


def test_nobody_approves_their_own_award(client, world):
    """An admin who made a large award cannot approve it: the page shows the service's message."""
    make_rule("BIG", 60)
    entry = award(world, "admin", ["v1a"], "BIG")[0]
    login(client, "admin")
    page = text_of(client.get("/points/review"))
    assert "须由其他帮扶干部处理" in page  # "another cadre decides"
    r = client.post(f"/points/entries/{entry.id}/approve", follow_redirects=True)
    assert "不能处理自己登记的记录" in text_of(r)  # "Nobody decides on an entry they made themselves."
    db.session.rollback()
    assert db.session.get(LedgerEntry, entry.id).approved_at is None


def test_staff_record_an_objection_during_the_notice(client, world):
    """Staff record a villager's objection with a reason: the entry is disputed, once."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01")[0]
    login(client, "staff")
    page = text_of(client.get("/points/review"))
    assert f"/points/entries/{entry.id}/objection" in page
    assert f"/points/entries/{entry.id}/approve" not in page
    r = client.post(f"/points/entries/{entry.id}/objection", data={"reason": ""}, follow_redirects=True)
    assert "flash-error" in text_of(r)
    r = client.post(f"/points/entries/{entry.id}/objection", data={"reason": "邻居说没有打扫"},
                    follow_redirects=True)
    assert "flash-success" in text_of(r)
    db.session.rollback()
    assert db.session.get(LedgerEntry, entry.id).status == "disputed"
    again = client.post(f"/points/entries/{entry.id}/objection", data={"reason": "再次"},
                        follow_redirects=True)
    assert "flash-error" in text_of(again)
    assert client.post(f"/points/entries/{entry.id}/approve").status_code == 403


def test_cadre_reverses_a_posted_entry_once(client, world):
    """A posted entry is reversed with a reason from the passbook page; a second reversal is refused."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01", now=at(-10))[0]
    posting.post_due()
    db.session.commit()
    hh = world.households["v1a"]
    login(client, "cadre")
    page = text_of(client.get(f"/points/households/{hh.id}"))
    assert f"/points/entries/{entry.id}/reverse" in page
    r = client.post(f"/points/entries/{entry.id}/reverse", data={"reason": "记错了户"},
                    follow_redirects=True)
    assert "flash-success" in text_of(r)
    again = client.post(f"/points/entries/{entry.id}/reverse", data={"reason": "again"},
                        follow_redirects=True)
    assert "此记录已撤销" in text_of(again)  # "already been reversed"
    db.session.rollback()
    reversals = entries(kind="reversal")
    assert len(reversals) == 1 and reversals[0].reversal_of == entry.id
    assert db.session.get(Household, hh.id).balance == 0
    page = text_of(client.get(f"/points/households/{hh.id}"))
    assert f'href="#e-{reversals[0].id}"' in page and f'href="#e-{entry.id}"' in page


# -- the public notice -------------------------------------------------------------------

def test_notice_is_public_masked_with_deadline_and_ranking(client, world):
    """Without a login the village notice lists the month's awards with masked names, the deadline and the ranking."""
    make_rule("HJ-01", 5)
    make_rule("GY-04", 20)
    award(world, "staff", ["v1a", "v1b"], "HJ-01", note="清扫村道")
    award(world, "staff", ["v1b"], "GY-04")
    award(world, "staff_east", ["v2a"], "GY-04")
    r = client.get(f"/notice/{world.v1.id}")
    page = text_of(r)
    assert r.status_code == 200
    assert "杜*梅" in page and "王*" in page and "杜玉梅" not in page and "王喆" not in page
    assert "清扫村道" in page and "钟*英" not in page
    deadline = clock.local_today() + timedelta(days=3)
    assert deadline.isoformat() in page
    ranking = page[page.index('class="ranking"'):]
    assert ranking.index("王*") < ranking.index("杜*梅")
    assert "25" in ranking and "print.css" in page
    month = clock.local_today().strftime("%Y-%m")
    assert client.get(f"/notice/{world.v1.id}/{month}").status_code == 200
    assert client.get(f"/notice/{world.v1.id}/2099-01").status_code == 404
    assert client.get(f"/notice/{world.east.id}").status_code == 404
    assert client.get("/notice/999999").status_code == 404


def test_notice_names_unmasked_when_configured(client, world, app):
    """POINTS_NOTICE_MASK_NAMES off shows full names."""
    make_rule("HJ-01", 5)
    award(world, "staff", ["v1a"], "HJ-01")
    app.config["POINTS_NOTICE_MASK_NAMES"] = False
    assert "杜玉梅" in text_of(client.get(f"/notice/{world.v1.id}"))


def test_mask_name():
    """Names keep their first and last character; two characters keep the first."""
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("王喆") == "王*"
    assert mask_name("堃") == "堃"


# -- the household's own passbook ------------------------------------------------------------

def set_pin(client, world, name="v1a", pin="482913"):
    login(client, "staff")
    r = client.post(f"/points/households/{world.households[name].id}/pin", data={"pin": pin},
                    follow_redirects=True)
    client.post("/logout")
    return r


def test_staff_set_a_pin_which_is_stored_hashed(client, world):
    """Setting a PIN keeps only its hash and audits the act; weak PINs are refused; empty makes a random one."""
    r = set_pin(client, world, pin="123456")
    assert "flash-error" in text_of(r)
    set_pin(client, world)
    hh = db.session.get(Household, world.households["v1a"].id)
    db.session.refresh(hh)
    assert hh.passbook_pin_hash and "482913" not in hh.passbook_pin_hash
    assert db.session.scalars(select(AuditRecord).where(
        AuditRecord.action == "household.passbook_pin")).all()
    r = set_pin(client, world, pin="")
    assert "flash-success" in text_of(r)
    login(client, "cadre")
    assert client.post(f"/points/households/{hh.id}/pin", data={"pin": "482913"}).status_code == 403


def test_passbook_right_pin_shows_history_and_nothing_else(client, world):
    """The right card number and PIN open the passbook (no PIN or number in the URL); nothing else opens."""
    make_rule("HJ-01", 5)
    award(world, "staff", ["v1a"], "HJ-01", note="院子干净")
    card = issue(world, "v1a")
    set_pin(client, world)
    r = client.post("/passbook", data={"card_number": cards.format_number(card.number), "pin": "482913"})
    assert r.status_code == 302 and r.headers["Location"] == "/passbook"
    page = text_of(client.get("/passbook"))
    assert "杜玉梅" in page and "院子干净" in page and "482913" not in page
    assert "/points/entries/" not in page
    assert client.get("/households/").status_code == 302
    assert client.get(f"/points/households/{world.households['v1a'].id}").status_code == 302
    assert client.get("/points/award").status_code == 302
    assert client.get(f"/api/v1/households/{world.households['v1a'].id}/ledger").status_code == 401
    client.post("/passbook/close")
    assert "杜玉梅" not in text_of(client.get("/passbook"))


def test_passbook_closes_by_itself(client, world):
    """An opened passbook stays open only a short while."""
    card = issue(world, "v1a")
    set_pin(client, world)
    client.post("/passbook", data={"card_number": card.number, "pin": "482913"})
    with client.session_transaction() as session:
        session["passbook"] = {**session["passbook"], "until": time.time() - 1}
    assert "杜玉梅" not in text_of(client.get("/passbook"))


def test_passbook_wrong_pin_is_throttled(client, world):
    """Five wrong PINs for a card number: the sixth try is 429, even with the right PIN; other cards still open."""
    card = issue(world, "v1a")
    other = issue(world, "v1b")
    set_pin(client, world)
    set_pin(client, world, name="v1b", pin="913482")
    for _ in range(5):
        r = client.post("/passbook", data={"card_number": card.number, "pin": "000111"})
        assert r.status_code == 200 and "flash-error" in text_of(r)
    r = client.post("/passbook", data={"card_number": card.number, "pin": "482913"})
    assert r.status_code == 429
    r = client.post("/passbook", data={"card_number": other.number, "pin": "913482"})
    assert r.status_code == 302


def test_passbook_failures_throttled_per_client(make_app, world):
    """Many wrong tries over many card numbers from one client end in 429."""
    app = make_app(PASSBOOK_FAILURES_PER_CLIENT="3 per 15 minutes")
    with app.test_client() as c:
        for i in range(3):
            assert c.post("/passbook", data={"card_number": f"{i:010d}", "pin": "111222"}).status_code == 200
        assert c.post("/passbook", data={"card_number": "9999999999", "pin": "111222"}).status_code == 429


def test_revoked_card_or_no_pin_does_not_open(client, world):
    """A revoked card, or a household without a PIN, never opens a passbook."""
    old = issue(world, "v1a")
    set_pin(client, world)
    issue(world, "v1a")
    assert client.post("/passbook", data={"card_number": old.number, "pin": "482913"}).status_code == 200
    nopin = issue(world, "v1b")
    assert client.post("/passbook", data={"card_number": nopin.number, "pin": "482913"}).status_code == 200
    assert "王喆" not in text_of(client.get("/passbook"))


# -- roles and scope ------------------------------------------------------------------------

@pytest.mark.parametrize("user", ["volunteer", "donor"])
def test_volunteers_and_donors_get_403(client, world, user):
    """Volunteers and donors do not use the points pages."""
    login(client, user)
    for url in ("/points/award", "/points/review", "/points/rules", "/points/notices"):
        assert client.get(url).status_code == 403, url
    assert client.post("/points/award", data={}).status_code == 403


def test_cadres_do_not_award(client, world):
    """Cadres review and reverse but do not award."""
    make_rule("HJ-01", 5)
    login(client, "cadre")
    assert client.get("/points/award").status_code == 403
    assert post_award(client, world, ["v1a"], "HJ-01").status_code == 403
    assert entries() == []


def test_out_of_scope_household_is_404(client, world):
    """Staff of another village get 404 for a household's passbook, an award to it or an objection, and nothing is written."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01")[0]
    login(client, "staff_west")
    hh = world.households["v1a"]
    assert client.get(f"/points/households/{hh.id}").status_code == 404
    assert client.post(f"/points/households/{hh.id}/pin", data={"pin": "482913"}).status_code == 404
    r = post_award(client, world, ["v1a"], "HJ-01")
    assert r.status_code == 404
    assert client.post(f"/points/entries/{entry.id}/objection", data={"reason": "x"}).status_code == 404
    assert client.get(f"/points/award/households?village_id={world.v1.id}").status_code == 404
    assert len(entries()) == 1 and entries()[0].status == "pending"


# -- withdrawal, the objector apart, a reason for upholding (issue 10) ----------------------

def test_author_withdraws_a_mistaken_award_from_the_passbook_page(client, world):
    """The author sees a withdraw action (reason required, a confirmation on the button) on
    the household page; other staff in scope do not; withdrawn, the passbook says 已撤回."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01")[0]
    hh = world.households["v1a"]
    action = f"/points/entries/{entry.id}/withdraw"
    login(client, "staff_east")
    assert action not in text_of(client.get(f"/points/households/{hh.id}"))
    r = client.post(action, data={"reason": "录错了"}, follow_redirects=True)
    assert "flash-error" in text_of(r)
    assert entries()[0].status == "pending"
    client.post("/logout")
    login(client, "staff")
    page = text_of(client.get(f"/points/households/{hh.id}"))
    form = page[page.index(f'action="{action}"'):]
    form = form[:form.index("</form>")]
    assert 'name="reason"' in form and "required" in form and "data-confirm=" in form
    r = client.post(action, data={"reason": " ", "next": f"/points/households/{hh.id}"},
                    follow_redirects=True)
    assert "flash-error" in text_of(r) and entries()[0].status == "pending"
    r = client.post(action, data={"reason": "录错户了", "next": f"/points/households/{hh.id}"},
                    follow_redirects=True)
    page = text_of(r)
    assert "flash-success" in page
    [e] = entries()
    assert (e.status, e.withdrawn, e.decision_reason) == ("cancelled", True, "录错户了")
    book = page[page.index(f'id="e-{entry.id}"'):]
    assert "已撤回" in book and "录错户了" in book and action not in page
    assert db.session.get(Household, hh.id).balance == 0


def test_withdraw_on_the_review_page_for_author_and_cadres_only(client, world):
    """The review page offers withdraw on the author's own entries on notice and to cadres."""
    make_rule("HJ-01", 5)
    mine = award(world, "staff", ["v1a"], "HJ-01")[0]
    theirs = award(world, "staff_east", ["v1b"], "HJ-01")[0]
    login(client, "staff")
    page = text_of(client.get("/points/review"))
    assert f"/points/entries/{mine.id}/withdraw" in page
    assert f"/points/entries/{theirs.id}/withdraw" not in page
    client.post("/logout")
    login(client, "cadre")
    page = text_of(client.get("/points/review"))
    assert f"/points/entries/{mine.id}/withdraw" in page and f"/points/entries/{theirs.id}/withdraw" in page
    client.post(f"/points/entries/{theirs.id}/withdraw", data={"reason": "重复录入"})
    assert {e.id: e.withdrawn for e in entries()} == {mine.id: False, theirs.id: True}


def test_objection_asks_the_reason_and_keeps_the_objector_out_of_public(client, world):
    """The objection form asks the reason and, apart, who objected; staff see both; the
    public passbook, the public notice and the passbook export show the reason only."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01")[0]
    hh = world.households["v1a"]
    card = issue(world, "v1a")
    login(client, "staff")
    page = text_of(client.get("/points/review"))
    assert "异议人及理由" not in page and 'name="objector"' in page
    r = client.post(f"/points/entries/{entry.id}/objection",
                    data={"reason": "那天没有打扫", "objector": "邻居萧桂兰"}, follow_redirects=True)
    assert "flash-success" in text_of(r)
    e = entries()[0]
    assert (e.status, e.objection_reason, e.objector) == ("disputed", "那天没有打扫", "邻居萧桂兰")
    staff_page = text_of(client.get(f"/points/households/{hh.id}"))
    assert "那天没有打扫" in staff_page and "邻居萧桂兰" in staff_page
    for fmt in ("csv", "xlsx"):
        r = client.get(f"/points/households/{hh.id}?format={fmt}")
        assert r.status_code == 200
        if fmt == "csv":
            assert "邻居萧桂兰" not in r.get_data(as_text=True)
        else:
            sheet = load_workbook(io.BytesIO(r.data)).active
            cells = {str(c.value) for row in sheet.iter_rows() for c in row}
            assert not any("邻居萧桂兰" in c for c in cells)
    client.post("/logout")
    set_pin(client, world)
    notice = text_of(client.get(f"/notice/{world.v1.id}"))
    assert "邻居萧桂兰" not in notice and "萧桂兰" not in notice
    client.post("/passbook", data={"card_number": cards.format_number(card.number), "pin": "482913"})
    book = text_of(client.get("/passbook"))
    assert "那天没有打扫" in book and "萧桂兰" not in book


def test_cadre_upholds_with_a_reason_shown_with_the_decision(client, world):
    """Upholding an objection may record a reason; the passbook shows it as the decision."""
    make_rule("HJ-01", 5)
    entry = award(world, "staff", ["v1a"], "HJ-01")[0]
    login(client, "staff")
    client.post(f"/points/entries/{entry.id}/objection", data={"reason": "有人说没打扫"})
    client.post("/logout")
    login(client, "cadre")
    page = text_of(client.get("/points/review"))
    approve = page[page.index(f'action="/points/entries/{entry.id}/approve"'):]
    assert 'name="reason"' in approve[:approve.index("</form>")]
    client.post(f"/points/entries/{entry.id}/approve", data={"reason": "村委会核实已打扫"})
    e = entries()[0]
    assert (e.status, e.decision_reason) == ("pending", "村委会核实已打扫")
    page = text_of(client.get(f"/points/households/{world.households['v1a'].id}"))
    assert "村委会核实已打扫" in page


def test_notice_tells_same_masked_names_apart_and_ranks_first(client, world):
    """Beside each masked name the notice shows the last 4 digits of the household number;
    the ranking comes before the list of entries."""
    from app.services.people.households import create_household
    make_rule("HJ-01", 5)
    twins = [create_household(world.users["admin"], {"village_id": world.v1.id, "head_name": name})
             for name in ("萧桂兰", "萧桂芝")]
    db.session.commit()
    from app.services.points.awards import award_points
    award_points(world.users["staff"], {"household_ids": [h.id for h in twins], "rule_code": "HJ-01",
                                        "occurred_on": today()})
    db.session.commit()
    page = text_of(client.get(f"/notice/{world.v1.id}"))
    digits = [h.code[-4:] for h in twins]
    assert digits[0] != digits[1]
    for d in digits:
        assert page.count(f"尾号{d}") == 2          # in the ranking and in the list
    assert page.index('class="ranking"') < page.index('class="notice-table"')
    assert "萧桂兰" not in page and "萧桂芝" not in page


def test_public_list_of_village_notices(client, world):
    """Without a login, /notices lists the villages by township, each linking to its notice;
    the login page and the passbook page link to it."""
    r = client.get("/notices")
    page = text_of(r)
    assert r.status_code == 200
    for v in (world.v1, world.v2, world.v3):
        assert f'href="/notice/{v.id}"' in page and v.name in page
    assert page.index("东岭镇") < page.index("东坪村") < page.index("西坡乡") < page.index("西沟村")
    assert "杜玉梅" not in page and "杜*梅" not in page
    assert 'href="/notices"' in text_of(client.get("/login"))
    assert 'href="/notices"' in text_of(client.get("/passbook"))
