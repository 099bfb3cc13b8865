"""Races against a live server (many client threads at the same moment): the
monthly cap, all-or-nothing batches, single reversal, idempotent retries and
posting hold on SQLite and on PostgreSQL."""
import json
import urllib.request
from collections import Counter
from itertools import combinations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Household, LedgerEntry
from app.services.households import create_household
from app.services.ledger_check import check_ledger
from tests.points_helpers import at, award, make_rule, post_json, race, today

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
    assert check_ledger() == []


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
    assert check_ledger() == []
    assert db.session.scalar(select(func.count()).where(LedgerEntry.status == "posted")) == 20
