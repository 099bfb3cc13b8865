"""Races against a live server (many client threads at the same moment): the
monthly cap, all-or-nothing batches, single reversal, idempotent retries and
posting hold on SQLite and on PostgreSQL."""
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from itertools import combinations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Household, LedgerEntry
from app.services.people.households import create_household
from app.services.ledger.writer import post_due_on
from app.services.invariants import check_invariants
from tests.live import race
from tests.points_helpers import at, award, make_rule, post_json, today

CLIENTS = 12


def entries_by_household(rule_code: str) -> Counter:
    db.session.rollback()
    rows = db.session.execute(
        select(LedgerEntry.household_id, func.count()).where(LedgerEntry.rule_code == rule_code)
        .group_by(LedgerEntry.household_id)).all()
    return Counter(dict(rows))


def no_server_errors(results) -> None:
    assert not [r for r in results if isinstance(r, Exception) or r[0] >= 500], results


def test_cap_of_one_holds_under_twelve_simultaneous_awards(world, live):
    """Twelve staff requests award the same household a cap-1 rule at once: exactly one 201,
    eleven 422 cap-exceeded, one entry."""
    make_rule("T-CAP1", 5, cap=1)
    tokens = [world.token("staff"), world.token("staff_east")]
    body = {"household_ids": [world.households["v1a"].id], "rule_code": "T-CAP1", "occurred_on": today()}
    with live() as base:
        results = race([lambda i=i: post_json(base, "/api/v1/awards", tokens[i % 2], body)
                        for i in range(CLIENTS)])
    no_server_errors(results)
    assert sorted(status for status, _ in results) == [201] + [422] * (CLIENTS - 1)
    assert {b["type"] for status, b in results if status == 422} == {"cap-exceeded"}
    assert entries_by_household("T-CAP1") == {world.households["v1a"].id: 1}


def test_cap_of_three_holds_for_racing_two_household_batches(world, live):
    """Twelve batches for the same two households with a cap of 3: exactly three succeed, each
    household ends with three entries."""
    make_rule("T-CAP3", 2, cap=3)
    token = world.token("staff")
    pair = [world.households["v1a"].id, world.households["v1b"].id]
    body = {"household_ids": pair, "rule_code": "T-CAP3", "occurred_on": today()}
    with live() as base:
        results = race([lambda: post_json(base, "/api/v1/awards", token, body)] * CLIENTS)
    no_server_errors(results)
    assert sorted(status for status, _ in results) == [201] * 3 + [422] * (CLIENTS - 3)
    assert entries_by_household("T-CAP3") == {pair[0]: 3, pair[1]: 3}


def test_overlapping_batches_are_all_or_nothing_under_the_cap(world, live):
    """Overlapping batches race over six households with a cap of 1: no household passes the cap,
    every 201 batch got all its entries and every refused batch none."""
    make_rule("T-ONCE", 5, cap=1)
    admin = world.users["admin"]
    for name in ("赵一", "钱二", "孙三", "周四"):
        create_household(admin, {"village_id": world.v1.id, "head_name": name})
    db.session.commit()
    hids = db.session.scalars(select(Household.id).where(Household.village_id == world.v1.id)
                              .order_by(Household.id)).all()
    assert len(hids) == 6
    batches = [list(c) for c in combinations(hids, 2)][:CLIENTS]
    tokens = [world.token("staff"), world.token("staff_east")]
    day = today()
    with live() as base:
        results = race([lambda b=b, i=i: post_json(base, "/api/v1/awards", tokens[i % 2], {
            "household_ids": b, "rule_code": "T-ONCE", "occurred_on": day})
            for i, b in enumerate(batches)])
    no_server_errors(results)
    won = [b for b, (status, _) in zip(batches, results) if status == 201]
    assert won and all(status == 422 and body["type"] == "cap-exceeded"
                       for status, body in results if status != 201)
    got = entries_by_household("T-ONCE")
    assert max(got.values()) == 1
    assert sorted(got) == sorted(h for b in won for h in b)
    for b, (status, body) in zip(batches, results):
        if status == 201:
            assert [e["household_id"] for e in body["items"]] == b


def test_two_simultaneous_reversals_one_wins(app, world, live):
    """Ten cadres and admins reverse the same posted entry at once: exactly one 201, the rest 409."""
    make_rule("T-A", 10)
    app.config["POINTS_NOTICE_DAYS"] = 0
    [entry] = award(world, "staff", ["v1a"], "T-A")
    tokens = [world.token("cadre"), world.token("admin")]
    url = f"/api/v1/entries/{entry.id}/reverse"
    with live() as base:
        results = race([lambda i=i: post_json(base, url, tokens[i % 2], {"reason": f"撤销 {i}"})
                        for i in range(10)])
    no_server_errors(results)
    assert sorted(status for status, _ in results) == [201] + [409] * 9
    assert {b["type"] for status, b in results if status == 409} == {"conflict"}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(LedgerEntry.reversal_of == entry.id)) == 1
    assert check_invariants() == []


def test_simultaneous_retries_with_one_key_write_once(world, live):
    """Ten retries of one award with the same Idempotency-Key at the same moment write one entry;
    each answer is that award's 201 or a 409 (still running)."""
    make_rule("T-A", 10)
    token = world.token("staff")
    body = {"household_ids": [world.households["v1a"].id], "rule_code": "T-A", "occurred_on": today()}
    with live() as base:
        results = race([lambda: post_json(base, "/api/v1/awards", token, body,
                                          {"Idempotency-Key": "tablet-7/award/42"})] * 10)
    no_server_errors(results)
    created = [b for status, b in results if status == 201]
    assert created and all(b == created[0] for b in created)
    assert all(status in (201, 409) for status, _ in results)
    assert entries_by_household("T-A") == {world.households["v1a"].id: 1}


def test_due_entries_post_once_under_simultaneous_reads(world, live):
    """Entries whose notice ended are posted by whichever of twelve simultaneous reads comes
    first, exactly once: every read answers 200 and the ledger checks clean."""
    make_rule("T-A", 10)
    made = at(-6)
    for _ in range(5):
        award(world, "admin", ["v1a", "v1b", "v2a", "v3a"], "T-A", now=made, occurred_on=today(made))
    token = world.token("admin")
    hids = [h.id for h in world.households.values()]

    def read(hid):
        req = urllib.request.Request(f"{base}/api/v1/households/{hid}",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)

    with live() as base:
        results = race([lambda i=i: read(hids[i % 4]) for i in range(CLIENTS)])
    no_server_errors(results)
    assert {status for status, _ in results} == {200}
    assert {b["balance"] for _, b in results} == {50}
    db.session.rollback()
    assert check_invariants() == []
    assert db.session.scalar(select(func.count()).where(LedgerEntry.status == "posted")) == 20


def test_posting_approvals_and_reversals_racing_on_the_same_households(app, world, live):
    """Reads that post due entries, approvals that post at once and reversals, twelve at the
    same moment on the same four households: no errors, and every balance adds up."""
    make_rule("T-A", 10)
    make_rule("T-BIG", 60)
    names = ["v1a", "v1b", "v2a", "v3a"]
    app.config["POINTS_NOTICE_DAYS"] = 0
    posted = award(world, "admin", names, "T-A")
    app.config["POINTS_NOTICE_DAYS"] = 3
    made = at(-6)
    for _ in range(3):
        award(world, "admin", names, "T-A", now=made, occurred_on=today(made))
    big = award(world, "admin", names, "T-BIG", now=made, occurred_on=today(made))
    reader, cadre = world.token("admin"), world.token("cadre")
    hids = [world.households[n].id for n in names]
    big_ids, posted_ids = [e.id for e in big], [e.id for e in posted]

    def read(hid):
        req = urllib.request.Request(f"{base}/api/v1/households/{hid}",
                                     headers={"Authorization": f"Bearer {reader}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as err:
            return err.code, None

    calls = []
    for i in range(4):
        calls.append(lambda i=i: read(hids[i]))
        calls.append(lambda i=i: post_json(base, f"/api/v1/entries/{big_ids[i]}/approve", cadre, {}))
        calls.append(lambda i=i: post_json(base, f"/api/v1/entries/{posted_ids[i]}/reverse", cadre,
                                           {"reason": "重复录入"}))
    with live() as base:
        results = race(calls)
    no_server_errors(results)
    assert sorted(status for status, _ in results) == [200] * 8 + [201] * 4
    db.session.rollback()
    assert check_invariants() == []
    for hid in hids:
        assert db.session.get(Household, hid).balance == 3 * 10 + 60 + 10 - 10


def test_posting_waits_for_a_held_household_before_locking_its_entries(app, world):
    """PostgreSQL: while a checkout holds a household (and then posts its due entries
    itself), a concurrent poster waits for that household before touching its entries,
    so the two never deadlock and the entry is posted once."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite's write transaction is exclusive")
    make_rule("T-A", 10)
    made = at(-6)
    award(world, "staff", ["v1a"], "T-A", now=made, occurred_on=today(made))
    hid = world.households["v1a"].id
    db.session.commit()
    outcome = {}

    def cron():
        with app.app_context(), db.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            outcome["cron"] = post_due_on(conn)

    with db.engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            conn.execute(select(Household.id).where(Household.id == hid).with_for_update())
            poster = threading.Thread(target=cron)
            poster.start()
            time.sleep(0.5)  # the poster is now waiting (for the household, not holding the entry)
            outcome["checkout"] = post_due_on(conn, household_ids=[hid])
        poster.join(30)
    assert outcome == {"checkout": 1, "cron": 0}
    db.session.rollback()
    assert db.session.get(Household, hid).balance == 10
