"""Points over the API: rules, awards (JSON and multipart), objections, approvals,
reversals, the household ledger, evidence photos and Idempotency-Key."""
import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Evidence, IdempotencyKey, LedgerEntry
from tests.api.problems import assert_problem
from tests.factories import count
from tests.points_helpers import at, award, make_rule, photo, today


@pytest.fixture
def catalogue(world):
    make_rule("T-A", 10)
    make_rule("T-CAP1", 5, cap=1)
    make_rule("T-BIG", 60)
    make_rule("T-PHOTO", 8, evidence=True)
    make_rule("T-KF", -10)


def ids(world, *names):
    return [world.households[n].id for n in names]


def post_award(client, world, user="staff", names=("v1a",), code="T-A", headers=None, **extra):
    body = {"household_ids": ids(world, *names), "rule_code": code, "occurred_on": today(), **extra}
    return client.post("/api/v1/awards", json=body, headers={**world.headers(user), **(headers or {})})


# -- rules ---------------------------------------------------------------------------

def test_rules_list_create_version_retire(client, world):
    """Admins add rules (201), re-posting a code makes version 2, retiring sets active false;
    everyone logged in reads the catalogue."""
    admin = world.headers("admin")
    body = {"code": "GY-09", "category": "公益参与", "name": "清扫村道", "points": 5,
            "cap_per_month": 2, "needs_evidence": True}
    r = client.post("/api/v1/rules", json=body, headers=admin)
    assert r.status_code == 201
    assert {k: r.get_json()[k] for k in ("code", "points", "cap_per_month", "needs_evidence", "active", "version")} == \
        {"code": "GY-09", "points": 5, "cap_per_month": 2, "needs_evidence": True, "active": True, "version": 1}
    r = client.post("/api/v1/rules", json={**body, "points": 6, "cap_per_month": None}, headers=admin)
    assert (r.status_code, r.get_json()["version"], r.get_json()["cap_per_month"]) == (201, 2, None)
    r = client.post("/api/v1/rules/GY-09/retire", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is False
    r = client.get("/api/v1/rules", headers=world.headers("volunteer"))
    assert r.status_code == 200
    assert r.get_json()["items"] == [{"code": "GY-09", "category": "公益参与", "name": "清扫村道",
                                      "points": 6, "cap_per_month": None, "needs_evidence": True,
                                      "active": False, "version": 2, "unit": None,
                                      "id": r.get_json()["items"][0]["id"]}]


def test_rules_writes_are_admin_only_and_validated(client, world):
    """Non-admins get 403; zero points is 422 naming the field; an unknown code to retire is 404."""
    body = {"code": "X-1", "category": "c", "name": "n", "points": 5}
    for user in ("cadre", "staff"):
        assert_problem(client.post("/api/v1/rules", json=body, headers=world.headers(user)), 403, "forbidden")
        assert_problem(client.post("/api/v1/rules/X-1/retire", headers=world.headers(user)), 403, "forbidden")
    assert_problem(client.post("/api/v1/rules", json={**body, "points": 0}, headers=world.headers("admin")),
                   422, "validation-error", "points")
    assert_problem(client.post("/api/v1/rules/NOPE/retire", headers=world.headers("admin")), 404, "not-found")
    assert client.get("/api/v1/rules").status_code == 401


# -- awards --------------------------------------------------------------------------

def test_award_batch_json(client, world, catalogue):
    """POST /awards gives one pending entry per household with the contract's fields."""
    r = post_award(client, world, names=("v1a", "v1b"), note="村道清扫")
    assert r.status_code == 201, r.get_json()
    items = r.get_json()["items"]
    assert [e["household_id"] for e in items] == ids(world, "v1a", "v1b")
    e = items[0]
    assert {k: e[k] for k in ("kind", "points", "status", "rule_code", "note", "occurred_on", "reversal_of")} == \
        {"kind": "award", "points": 10, "status": "pending", "rule_code": "T-A", "note": "村道清扫",
         "occurred_on": today(), "reversal_of": None}
    assert e["created_at"].endswith("+00:00") and e["notice_ends_at"]
    r = client.get(f"/api/v1/households/{e['household_id']}", headers=world.headers("staff"))
    assert (r.get_json()["balance"], r.get_json()["pending"]) == (0, 10)


def test_deduction_over_the_api(client, world, catalogue):
    """A negative rule makes deduction entries the same way."""
    r = post_award(client, world, code="T-KF")
    assert r.status_code == 201 and r.get_json()["items"][0]["kind"] == "deduction"
    assert r.get_json()["items"][0]["points"] == -10


@pytest.mark.parametrize("extra,field", [
    ({"household_ids": []}, "household_ids"),
    ({"rule_code": "NOPE"}, "rule_code"),
    ({"occurred_on": "FUTURE"}, "occurred_on"),
    ({"occurred_on": "yesterday"}, "occurred_on"),
])
def test_award_validation_errors(client, world, catalogue, extra, field):
    """Empty households, unknown rule, a future date: 422 validation-error naming the field; nothing written."""
    body = {"household_ids": ids(world, "v1a"), "rule_code": "T-A", "occurred_on": today(), **extra}
    if body["occurred_on"] == "FUTURE":
        body["occurred_on"] = today(at(2))
    r = client.post("/api/v1/awards", json=body, headers=world.headers("staff"))
    assert_problem(r, 422, "validation-error", field)
    assert count(LedgerEntry) == 0


def test_retired_rule_is_a_validation_error(client, world, catalogue):
    """Awarding a retired rule is 422 validation-error on rule_code."""
    client.post("/api/v1/rules/T-A/retire", headers=world.headers("admin"))
    assert_problem(post_award(client, world), 422, "validation-error", "rule_code")


def test_award_refusals_write_nothing(client, world, catalogue):
    """Out of scope is 404, an exited household 422 household-inactive, over the cap
    422 cap-exceeded naming the household; each writes nothing for the whole batch."""
    assert_problem(post_award(client, world, names=("v1a", "v3a")), 404, "not-found")
    world.households["v1b"].status = "exited"
    db.session.commit()
    body = assert_problem(post_award(client, world, names=("v1a", "v1b")), 422, "household-inactive")
    assert list(body["errors"]) == [f"households.{world.households['v1b'].id}"]
    assert count(LedgerEntry) == 0
    assert post_award(client, world, code="T-CAP1").status_code == 201
    r = post_award(client, world, names=("v2a", "v1a"), code="T-CAP1", user="staff_east")
    body = assert_problem(r, 422, "cap-exceeded", f"households.{world.households['v1a'].id}")
    assert list(body["errors"]) == [f"households.{world.households['v1a'].id}"]
    assert "杜玉梅" in body["errors"][f"households.{world.households['v1a'].id}"][0]
    assert count(LedgerEntry) == 1


def test_award_roles(client, world, catalogue):
    """Cadres, volunteers and donors may not award (403)."""
    for user in ("cadre", "volunteer", "donor"):
        assert_problem(post_award(client, world, user=user), 403, "forbidden")


def test_award_multipart_with_evidence(client, world, catalogue):
    """A form upload (household_ids as a comma list) with a photo: 201, the photo served
    as a clean JPEG to users in scope, 404 to others."""
    data = {"household_ids": ",".join(map(str, ids(world, "v1a", "v1b"))), "rule_code": "T-PHOTO",
            "occurred_on": today(), "note": "庭院整洁",
            "evidence": (io.BytesIO(photo(2400, 1800)), "IMG_0001.JPG")}
    r = client.post("/api/v1/awards", data=data, headers=world.headers("staff"),
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    items = r.get_json()["items"]
    assert len(items) == 2 and items[0]["evidence_id"] == items[1]["evidence_id"] is not None
    url = f"/api/v1/evidence/{items[0]['evidence_id']}"
    r = client.get(url, headers=world.headers("cadre"))
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(r.data)) as img:
        assert img.size == (1600, 1200) and not img.getexif()
    assert_problem(client.get(url, headers=world.headers("staff_west")), 404, "not-found")
    assert client.get(url).status_code == 401


def test_award_multipart_repeated_ids_and_missing_photo(client, world, catalogue):
    """household_ids may be repeated form fields; a rule needing evidence without one is 422 on `evidence`;
    a non-image is 422 too."""
    base = {"household_ids": [str(i) for i in ids(world, "v1a", "v1b")], "rule_code": "T-PHOTO",
            "occurred_on": today()}
    r = client.post("/api/v1/awards", data=base, headers=world.headers("staff"),
                    content_type="multipart/form-data")
    assert_problem(r, 422, "validation-error", "evidence")
    r = client.post("/api/v1/awards", data={**base, "evidence": (io.BytesIO(b"MZ\x90\x00"), "x.jpg")},
                    headers=world.headers("staff"), content_type="multipart/form-data")
    assert_problem(r, 422, "validation-error", "evidence")
    assert (count(LedgerEntry), count(Evidence)) == (0, 0)
    r = client.post("/api/v1/awards", data={**base, "rule_code": "T-A"}, headers=world.headers("staff"),
                    content_type="multipart/form-data")
    assert r.status_code == 201 and len(r.get_json()["items"]) == 2


# -- notice, objection, approval, reversal --------------------------------------------

def test_objection_then_reject(client, world, catalogue):
    """Anyone in scope objects during the notice (200, disputed); a cadre rejects it (200, cancelled)."""
    entry_id = post_award(client, world).get_json()["items"][0]["id"]
    r = client.post(f"/api/v1/entries/{entry_id}/objection", json={"reason": "不属实"},
                    headers=world.headers("volunteer"))
    assert r.status_code == 200 and r.get_json()["status"] == "disputed"
    assert_problem(client.post(f"/api/v1/entries/{entry_id}/objection", json={"reason": "again"},
                               headers=world.headers("volunteer")), 409, "conflict")
    assert_problem(client.post(f"/api/v1/entries/{entry_id}/objection", json={"reason": "x"},
                               headers=world.headers("staff_west")), 404, "not-found")
    assert_problem(client.post(f"/api/v1/entries/{entry_id}/reject", json={},
                               headers=world.headers("cadre")), 422, "validation-error", "reason")
    r = client.post(f"/api/v1/entries/{entry_id}/reject", json={"reason": "核实不属实"},
                    headers=world.headers("cadre"))
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert r.get_json()["decision_reason"] == "核实不属实"


def test_objection_then_uphold(client, world, catalogue):
    """A cadre upholds a disputed entry: 200, pending again until its notice ends."""
    entry_id = post_award(client, world).get_json()["items"][0]["id"]
    client.post(f"/api/v1/entries/{entry_id}/objection", json={"reason": "?"}, headers=world.headers("staff"))
    r = client.post(f"/api/v1/entries/{entry_id}/approve", headers=world.headers("cadre"))
    assert r.status_code == 200 and r.get_json()["status"] == "pending"


def test_large_award_approval_and_self_approval(client, world, catalogue):
    """An award above the threshold needs approval; its maker cannot approve it (403);
    staff cannot (403); a cadre out of region gets 404; a cadre can."""
    r = post_award(client, world, user="admin", code="T-BIG")
    entry = r.get_json()["items"][0]
    assert entry["needs_approval"] is True and entry["status"] == "pending"
    url = f"/api/v1/entries/{entry['id']}/approve"
    assert_problem(client.post(url, headers=world.headers("admin")), 403, "forbidden")
    assert_problem(client.post(url, headers=world.headers("staff")), 403, "forbidden")
    assert_problem(client.post(url, headers=world.headers("cadre_west")), 404, "not-found")
    r = client.post(url, headers=world.headers("cadre"))
    assert r.status_code == 200 and r.get_json()["approved_at"]
    assert_problem(client.post(url, headers=world.headers("cadre")), 409, "conflict")


def test_reverse_once(app, client, world, catalogue):
    """Reversing a posted entry is 201 with a reversal entry; the ledger shows the original
    posted with reversed_by; a second reversal is 409 conflict."""
    app.config["POINTS_NOTICE_DAYS"] = 0
    entry = post_award(client, world).get_json()["items"][0]
    assert entry["status"] == "posted"
    url = f"/api/v1/entries/{entry['id']}/reverse"
    assert_problem(client.post(url, json={"reason": "x"}, headers=world.headers("staff")), 403, "forbidden")
    r = client.post(url, json={"reason": "录错户"}, headers=world.headers("cadre"))
    assert r.status_code == 201
    rev = r.get_json()
    assert (rev["kind"], rev["points"], rev["status"], rev["reversal_of"]) == ("reversal", -10, "posted", entry["id"])
    assert_problem(client.post(url, json={"reason": "again"}, headers=world.headers("admin")), 409, "conflict")
    r = client.get(f"/api/v1/households/{entry['household_id']}/ledger", headers=world.headers("staff"))
    items = r.get_json()["items"]
    assert [(e["id"], e["kind"], e["status"], e["reversed_by"]) for e in items] == \
        [(rev["id"], "reversal", "posted", None), (entry["id"], "award", "posted", rev["id"])]
    assert client.get(f"/api/v1/households/{entry['household_id']}",
                      headers=world.headers("staff")).get_json()["balance"] == 0


def test_ledger_is_paginated_newest_first_and_scoped(app, client, world, catalogue):
    """The ledger pages newest first with the contract's fields; out of scope is 404."""
    for _ in range(3):
        post_award(client, world)
    hid = world.households["v1a"].id
    r = client.get(f"/api/v1/households/{hid}/ledger?per_page=2", headers=world.headers("cadre"))
    body = r.get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (1, 2, 3, 2)
    assert body["items"][0]["id"] > body["items"][1]["id"]
    assert {"id", "kind", "points", "status", "rule_code", "note", "occurred_on", "created_at",
            "reversal_of", "reversed_by"} <= set(body["items"][0])
    r = client.get(f"/api/v1/households/{hid}/ledger?page=2&per_page=2", headers=world.headers("cadre"))
    assert len(r.get_json()["items"]) == 1
    assert_problem(client.get(f"/api/v1/households/{hid}/ledger", headers=world.headers("staff_west")),
                   404, "not-found")


def test_due_entries_post_before_a_balance_is_read(client, world, catalogue):
    """An award whose notice ended while nobody acted shows in the balance on the next read."""
    made = at(-6)
    [entry] = award(world, "staff", ["v1a"], "T-A", now=made, occurred_on=today(made))
    entry_id, hid = entry.id, world.households["v1a"].id
    assert entry.status == "pending"
    r = client.get(f"/api/v1/households/{hid}", headers=world.headers("staff"))
    assert (r.get_json()["balance"], r.get_json()["pending"]) == (10, 0)
    rec = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "points.post")).one()
    assert rec.user_id is None and rec.details["entries"] == [entry_id]


# -- idempotency ---------------------------------------------------------------------

def test_idempotent_retry_returns_the_first_answer_and_writes_nothing(client, world, catalogue):
    """The same key and body again: the same 201 and body, no new entry; another body: 409."""
    headers = {"Idempotency-Key": "award-2026-0001"}
    first = post_award(client, world, names=("v1a", "v1b"), headers=headers)
    assert first.status_code == 201
    again = post_award(client, world, names=("v1a", "v1b"), headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert count(LedgerEntry) == 2 and count(IdempotencyKey) == 1
    other = post_award(client, world, names=("v1a",), headers=headers)
    assert_problem(other, 409, "conflict")
    assert count(LedgerEntry) == 2


def test_idempotency_key_is_per_user_and_validated(client, world, catalogue):
    """Another user's identical key is a different request; a key with a control character is 422."""
    headers = {"Idempotency-Key": "same"}
    assert post_award(client, world, headers=headers).status_code == 201
    assert post_award(client, world, user="staff_east", headers=headers).status_code == 201
    assert count(LedgerEntry) == 2
    r = post_award(client, world, headers={"Idempotency-Key": "bad\tkey"})
    assert_problem(r, 422, "validation-error", "Idempotency-Key")
    r = post_award(client, world, headers={"Idempotency-Key": "k" * 201})
    assert_problem(r, 422, "validation-error", "Idempotency-Key")


def test_refusals_are_not_stored_under_the_key(client, world, catalogue):
    """A refused request stores nothing, so a corrected retry with the same key and body can succeed."""
    headers = {"Idempotency-Key": "retry-me"}
    world.households["v1a"].status = "exited"
    db.session.commit()
    assert post_award(client, world, headers=headers).status_code == 422
    world.households["v1a"].status = "active"
    db.session.commit()
    assert post_award(client, world, headers=headers).status_code == 201


def test_multipart_retry_with_the_same_photo_is_replayed(client, world, catalogue):
    """A form upload retried with the same key and photo is answered from the first; another photo is 409."""
    def send(content):
        data = {"household_ids": str(world.households["v1a"].id), "rule_code": "T-PHOTO",
                "occurred_on": today(), "evidence": (io.BytesIO(content), "p.jpg")}
        return client.post("/api/v1/awards", data=data, content_type="multipart/form-data",
                           headers={**world.headers("staff"), "Idempotency-Key": "form-1"})
    pic = photo(200, 100)
    first = send(pic)
    assert first.status_code == 201
    assert send(pic).get_json() == first.get_json()
    assert_problem(send(photo(201, 100)), 409, "conflict")
    assert (count(LedgerEntry), count(Evidence)) == (1, 1)


def test_purge_keeps_keys_a_day(app, client, world, catalogue):
    """`flask ledger purge-keys` forgets answers older than the keep period, never younger than 24 h."""
    post_award(client, world, headers={"Idempotency-Key": "old"})
    row = db.session.scalars(select(IdempotencyKey)).one()
    row.created_at = at(-1.5)
    db.session.commit()
    app.config["IDEMPOTENCY_KEEP_HOURS"] = 1
    result = app.test_cli_runner().invoke(args=["ledger", "purge-keys"])
    assert "purged 1" in result.output
    assert count(IdempotencyKey) == 0


def test_openapi_documents_the_points_routes(client):
    """Every points route is in the OpenAPI document."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/rules", "/rules/{code}/retire", "/awards", "/entries/{entry_id}/objection",
                 "/entries/{entry_id}/approve", "/entries/{entry_id}/reject", "/entries/{entry_id}/withdraw",
                 "/entries/{entry_id}/reverse", "/households/{household_id}/ledger",
                 "/evidence/{evidence_id}"):
        assert path in paths


# -- withdrawal, the objector, a reason for upholding ------------------------------------

def test_author_withdraws_a_mistaken_award(client, world, catalogue):
    """The author takes back an award still on notice: 200, cancelled, withdrawn: true,
    with who and why on the entry and in the audit trail; it never counts."""
    entry = post_award(client, world).get_json()["items"][0]
    assert entry["withdrawn"] is False
    url = f"/api/v1/entries/{entry['id']}/withdraw"
    r = client.post(url, json={"reason": "录错户了"}, headers=world.headers("staff"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["withdrawn"], body["decision_reason"]) == ("cancelled", True, "录错户了")
    row = db.session.get(LedgerEntry, entry["id"])
    db.session.refresh(row)
    assert row.decided_by_id == world.users["staff"].id
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "points.withdraw")).one()
    assert (audit.user_id, audit.object_id, audit.details["reason"]) == \
        (world.users["staff"].id, entry["id"], "录错户了")
    hh = client.get(f"/api/v1/households/{entry['household_id']}", headers=world.headers("staff")).get_json()
    assert (hh["balance"], hh["pending"]) == (0, 0)
    items = client.get(f"/api/v1/households/{entry['household_id']}/ledger",
                       headers=world.headers("staff")).get_json()["items"]
    assert [(e["id"], e["status"], e["withdrawn"]) for e in items] == [(entry["id"], "cancelled", True)]
    assert_problem(client.post(url, json={"reason": "again"}, headers=world.headers("staff")),
                   409, "conflict")


def test_withdraw_refusals(app, client, world, catalogue):
    """Missing reason 422 naming it; another staff member 403 (in scope) or 404 (out of
    scope); a volunteer or donor 403; a posted entry 409 (reverse it instead); nothing changes."""
    entry = post_award(client, world).get_json()["items"][0]
    url = f"/api/v1/entries/{entry['id']}/withdraw"
    assert_problem(client.post(url, json={}, headers=world.headers("staff")), 422,
                   "validation-error", "reason")
    assert_problem(client.post(url, json={"reason": " "}, headers=world.headers("staff")), 422,
                   "validation-error", "reason")
    assert_problem(client.post(url, json={"reason": "x"}, headers=world.headers("staff_west")),
                   404, "not-found")
    assert_problem(client.post(url, json={"reason": "x"}, headers=world.headers("cadre_west")),
                   404, "not-found")
    for user in ("volunteer", "donor"):
        assert_problem(client.post(url, json={"reason": "x"}, headers=world.headers(user)),
                       403, "forbidden")
    other = post_award(client, world, user="admin").get_json()["items"][0]
    assert_problem(client.post(f"/api/v1/entries/{other['id']}/withdraw", json={"reason": "x"},
                               headers=world.headers("staff")), 403, "forbidden")
    app.config["POINTS_NOTICE_DAYS"] = 0
    posted = post_award(client, world).get_json()["items"][0]
    assert posted["status"] == "posted"
    assert_problem(client.post(f"/api/v1/entries/{posted['id']}/withdraw", json={"reason": "x"},
                               headers=world.headers("staff")), 409, "conflict")
    statuses = {e.id: (e.status, e.withdrawn) for e in db.session.scalars(select(LedgerEntry))}
    assert statuses == {entry["id"]: ("pending", False), other["id"]: ("pending", False),
                        posted["id"]: ("posted", False)}


def test_cadre_withdraws_a_disputed_deduction(client, world, catalogue):
    """A cadre in scope may withdraw someone else's entry, also once it is disputed."""
    entry = post_award(client, world, code="T-KF").get_json()["items"][0]
    client.post(f"/api/v1/entries/{entry['id']}/objection", json={"reason": "不属实"},
                headers=world.headers("staff"))
    r = client.post(f"/api/v1/entries/{entry['id']}/withdraw", json={"reason": "扣错了"},
                    headers=world.headers("cadre"))
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["withdrawn"]) == ("cancelled", True)


def test_objector_kept_apart_from_the_reason(client, world, catalogue):
    """The objection takes the reason and, apart, an optional objector; staff and cadres
    read both; an objection without objector still works; a too long objector is 422."""
    entry = post_award(client, world, names=("v1a", "v1b")).get_json()["items"]
    url = f"/api/v1/entries/{entry[0]['id']}/objection"
    assert_problem(client.post(url, json={"reason": "x", "objector": "王" * 101},
                               headers=world.headers("staff")), 422, "validation-error", "objector")
    r = client.post(url, json={"reason": "没有参加清扫", "objector": "邻居王大妈"},
                    headers=world.headers("staff"))
    assert r.status_code == 200
    assert (r.get_json()["objection_reason"], r.get_json()["objector"]) == ("没有参加清扫", "邻居王大妈")
    r = client.get(f"/api/v1/households/{entry[0]['household_id']}/ledger", headers=world.headers("cadre"))
    assert r.get_json()["items"][0]["objector"] == "邻居王大妈"
    r = client.post(f"/api/v1/entries/{entry[1]['id']}/objection", json={"reason": "?"},
                    headers=world.headers("staff"))
    assert r.status_code == 200 and r.get_json()["objector"] is None


def test_upholding_may_record_a_reason(client, world, catalogue):
    """approve takes an optional reason, shown as decision_reason; without a body it still works."""
    first, second = post_award(client, world, names=("v1a", "v1b")).get_json()["items"]
    for e in (first, second):
        client.post(f"/api/v1/entries/{e['id']}/objection", json={"reason": "?"},
                    headers=world.headers("staff"))
    r = client.post(f"/api/v1/entries/{first['id']}/approve", json={"reason": "核实属实"},
                    headers=world.headers("cadre"))
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["decision_reason"]) == ("pending", "核实属实")
    r = client.post(f"/api/v1/entries/{second['id']}/approve", headers=world.headers("cadre"))
    assert r.status_code == 200 and r.get_json()["decision_reason"] is None
    assert_problem(client.post(f"/api/v1/entries/{second['id']}/approve", json={"reason": 5},
                               headers=world.headers("cadre")), 422, "validation-error", "reason")
