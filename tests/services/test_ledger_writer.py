"""The ledger's one writer: nothing else writes entries, balances or the monthly
totals, and the totals follow every act that changes what counts."""
import random
import re
import traceback
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, event, select, update

from app.extensions import db
from app.models import AuthorMonth, CategoryMonth, HouseholdMonth, LedgerEntry
from app.services.checkout.cards import issue_card, qr_payload
from app.services.invariants import check_invariants
from app.services.ledger import totals, writer
from app.services.points import entries, expiry
from app.services.points.awards import adjust_points
from tests.checkout_helpers import give_points, stocked
from tests.points_helpers import at, award, make_rule

APP = Path(__file__).resolve().parents[2] / "app"
LEDGER = APP / "services" / "ledger"
WRITER = LEDGER / "writer.py"
LEDGER_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(ledger_entries|household_months|category_months|author_months)\b",
                          re.I)
BALANCE_WRITE = re.compile(r"^\s*UPDATE\s+households\s+SET\b.*\bbalance\s*=", re.I | re.S)


class Writers:
    """Every statement that writes the ledger, the totals or a balance, with the
    innermost module of the app on the stack when it ran."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[tuple[str, str]] = []
        self.household_inserts: list = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.record)

    def record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO HOUSEHOLDS"):
            self.household_inserts.append(parameters)
        if not (LEDGER_WRITE.match(statement) or BALANCE_WRITE.match(statement)):
            return
        ours = [f.filename for f in traceback.extract_stack()
                if f.filename.startswith(str(APP)) and not f.filename.endswith("database.py")]
        # The writer's own frame nearest the statement (it may call its totals helper).
        ledger = [f for f in ours if f.startswith(str(LEDGER))]
        if ours and ours[-1].startswith(str(LEDGER)) and str(WRITER) in ledger:
            where = str(WRITER)
        else:
            where = ours[-1] if ours else "<outside the app>"
        self.seen.append((statement.split("(")[0].split(" SET ")[0].strip(), where))


def test_only_the_writer_writes_entries_balances_and_totals(app, client, world, make_app):
    """Every act that touches points, through services, pages and the API, writes the
    ledger, the balances and the monthly totals only from app/services/ledger/writer.py."""
    app.config.update(POINTS_YEAR_END_EXPIRY=True)
    rules_ = [make_rule("W-A", 10), make_rule("W-BIG", 80), make_rule("W-D", -5)]
    assert rules_
    admin, cadre = world.users["admin"], world.users["cadre"]
    products = stocked(world)
    with Writers(db.engine) as writers:
        give_points(world, world.households["v1a"], 200)                       # adjustment, posted
        made = award(world, "staff", ["v1a", "v1b"], "W-A")                     # on notice
        award(world, "staff", ["v1a"], "W-D")                                   # a deduction
        big = award(world, "staff", ["v1b"], "W-BIG")[0]                        # awaiting approval
        entries.raise_objection(admin, made[1].id, {"reason": "没参加"})
        entries.reject_entry(cadre, made[1].id, {"reason": "核实不属实"})
        entries.approve_entry(cadre, big.id)
        db.session.commit()
        writer.post_due(at(5))                                                  # notice over
        db.session.commit()
        entries.reverse_entry(cadre, made[0].id, {"reason": "重复录入"})
        db.session.commit()
        award(world, "staff", ["v1a"], "W-A")
        app.config["POINTS_NOTICE_DAYS"] = 0
        assert client.get("/healthz").status_code == 200                        # no posting here
        card = issue_card(admin, world.households["v1a"].id)
        db.session.commit()
        headers = world.headers("volunteer")
        r = client.post("/api/v1/checkouts", headers=headers, json={           # due entries post first
            "supermarket_id": world.sm_east.id, "card_payload": qr_payload(card),
            "lines": [{"product_id": products["香皂"].id, "quantity": 2}]})
        assert r.status_code == 201, r.get_json()
        r = client.post(f"/api/v1/checkouts/{r.get_json()['id']}/void", headers=headers,
                        json={"reason": "扫错了"})
        assert r.status_code == 200, r.get_json()
        db.session.rollback()
        last_year = date.today().year - 1
        expiry.expire_year(last_year, now=at(0))
        adjust_points(admin, world.households["v2a"].id, {"points": 7, "reason": "纸质存折"})
        db.session.commit()
        rule = db.session.scalars(select(LedgerEntry.rule_id).where(LedgerEntry.rule_code == "W-A")).first()
        writer.add_many([(world.households["v3a"].id, "award", 10, "posted", rule, "W-A",
                          date.today(), at(0), admin.id, at(0), at(0), at(0), False)],
                        at(0), categories={rule: "测试"})
        db.session.commit()
    kinds = {kind for kind, _ in writers.seen}
    assert {"INSERT INTO ledger_entries", "UPDATE ledger_entries", "UPDATE households",
            "INSERT INTO household_months", "INSERT INTO category_months",
            "INSERT INTO author_months"} <= kinds
    outsiders = {(kind, where) for kind, where in writers.seen if where != str(WRITER)}
    assert outsiders == set()
    assert check_invariants() == []


def test_a_household_is_created_with_no_points(client, world):
    """Creating households (one, or a register import) writes no balance but zero."""
    with Writers(db.engine) as writers:
        r = client.post("/api/v1/households", headers=world.headers("staff"),
                        json={"village_id": world.v1.id, "head_name": "新户"})
        assert r.status_code == 201
    assert writers.household_inserts and writers.seen == []
    assert r.get_json()["balance"] == 0


def kept(world, key: str) -> dict[tuple, dict]:
    """The household's monthly totals, without the zero rows: awards and
    deductions by rule category (its village's, where it is the only one
    awarded), checkouts under category ""."""
    hh = world.households[key]
    out = {}
    for r in db.session.scalars(select(CategoryMonth).where(CategoryMonth.village_id == hh.village_id)):
        for f in totals.CATEGORY_FIGURES:          # summed over the category's rules
            if getattr(r, f):
                row = out.setdefault((r.month, r.category), {})
                row[f] = row.get(f, 0) + getattr(r, f)
    for r in db.session.scalars(select(HouseholdMonth).where(HouseholdMonth.household_id == hh.id)):
        figures = {f: getattr(r, f) for f in ("redeemed", "checkouts") if getattr(r, f)}
        if figures:
            out[(r.month, "")] = figures
    return out


def test_totals_follow_awards_decisions_reversals_checkouts_and_voids(client, world):
    """A pending award counts at once; a rejected one and a reversed one stop counting in
    their own month; a checkout counts by its day until it is voided."""
    make_rule("T-CLEAN", 10, category="环境卫生")
    make_rule("T-FINE", -3, category="环境卫生")
    products = stocked(world)
    month = date.today().replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    a = award(world, "staff", ["v1a"], "T-CLEAN")[0]
    award(world, "staff", ["v1a"], "T-CLEAN", occurred_on=(month - timedelta(days=1)).isoformat())
    award(world, "staff", ["v1a"], "T-FINE")
    assert kept(world, "v1a") == {
        (month, "环境卫生"): {"awarded": 10, "awards": 1, "deducted": 3, "deductions": 1},
        (last_month, "环境卫生"): {"awarded": 10, "awards": 1}}
    cadre = world.users["cadre"]
    entries.raise_objection(world.users["staff"], a.id, {"reason": "没打扫"})
    entries.reject_entry(cadre, a.id, {"reason": "属实"})
    db.session.commit()
    assert kept(world, "v1a")[(month, "环境卫生")] == {"deducted": 3, "deductions": 1}
    writer.post_due(at(5))
    earlier = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.occurred_on < month, LedgerEntry.household_id == world.households["v1a"].id)).one()
    entries.reverse_entry(cadre, earlier.id, {"reason": "重复"})
    db.session.commit()
    assert (last_month, "环境卫生") not in kept(world, "v1a")
    give_points(world, world.households["v1a"], 100)
    headers = world.headers("volunteer")
    r = client.post("/api/v1/checkouts", headers=headers, json={
        "supermarket_id": world.sm_east.id, "household_id": world.households["v1a"].id,
        "lines": [{"product_id": products["大米 5kg"].id, "quantity": 1}]})
    assert r.status_code == 201
    db.session.rollback()
    assert kept(world, "v1a")[(month, "")] == {"redeemed": 50, "checkouts": 1}
    client.post(f"/api/v1/checkouts/{r.get_json()['id']}/void", headers=headers, json={"reason": "退货"})
    db.session.rollback()
    assert (month, "") not in kept(world, "v1a")
    assert check_invariants() == []


def test_ledger_check_finds_totals_out_of_step(world):
    """Totals changed behind the writer's back are reported by the ledger check."""
    make_rule("T-X", 10)
    award(world, "staff", ["v1a"], "T-X")
    row = db.session.scalars(select(HouseholdMonth)).one()
    row.awarded = 99
    db.session.commit()
    messages = [str(v) for v in check_invariants()]
    assert any(f"household {world.households['v1a'].id}" in m and "awarded 99" in m for m in messages)


@pytest.mark.parametrize("n", [3000])
def test_bulk_path_keeps_balances_and_totals(world, n):
    """add_many writes thousands of awards in a few statements, with balances and totals
    that the ledger check finds exact."""
    rule = make_rule("T-BULK", 5, category="公益参与")
    ids = [h.id for h in world.households.values()]
    rng = random.Random(7)
    now = at(0)
    rows = []
    for i in range(n):
        posted = i % 3 != 0
        day = date.today() - timedelta(days=rng.randint(0, 90))
        ends = now if posted else at(3)
        rows.append((rng.choice(ids), "award", 5, "posted" if posted else "pending", rule.id,
                     rule.code, day, now, world.users["staff"].id, ends, ends,
                     now if posted else None, False))
    assert writer.add_many(rows, now, categories={rule.id: rule.category}) == n
    db.session.commit()
    assert check_invariants() == []
    assert sum(h.balance for h in world.households.values()) == 5 * sum(1 for r in rows if r[3] == "posted")


def authored(world, user: str) -> dict[int, dict]:
    """A user's kept award counts per household (the fairness checks' totals), zero rows left out."""
    out = {}
    for r in db.session.scalars(select(AuthorMonth).where(AuthorMonth.user_id == world.users[user].id)):
        figures = {f: getattr(r, f) for f in totals.AUTHOR_FIGURES if getattr(r, f)}
        if figures:
            out[r.household_id] = figures
    return out


def test_author_totals_follow_late_entries_rejections_and_reversals(world):
    """Each award its author entered counts once, late when entered two weeks or
    more after its day; a cadre's rejection and a reversal are counted against it,
    and nothing is ever taken off its count of awards."""
    make_rule("T-A", 10)
    v1a, v1b = world.households["v1a"].id, world.households["v1b"].id
    on_time = award(world, "staff", ["v1a"], "T-A")[0]
    award(world, "staff", ["v1a"], "T-A", occurred_on=(date.today() - timedelta(days=13)).isoformat())
    award(world, "staff", ["v1b"], "T-A", occurred_on=(date.today() - timedelta(days=20)).isoformat())
    assert authored(world, "staff") == {v1a: {"awards": 2}, v1b: {"awards": 1, "late": 1}}
    cadre = world.users["cadre"]
    entries.raise_objection(world.users["staff"], on_time.id, {"reason": "没参加"})
    entries.reject_entry(cadre, on_time.id, {"reason": "属实"})
    db.session.commit()
    writer.post_due(at(5))
    late = db.session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == v1b)).one()
    entries.reverse_entry(cadre, late.id, {"reason": "重复"})
    db.session.commit()
    assert authored(world, "staff") == {v1a: {"awards": 2, "rejected": 1},
                                        v1b: {"awards": 1, "late": 1, "reversed": 1}}
    assert authored(world, "cadre") == {}     # a reversal is not an award its author entered
    assert check_invariants() == []


def test_rebuild_restores_totals_changed_behind_the_writers_back(app, world):
    """`flask ledger rebuild-totals` recomputes every kept table from the ledger: after
    tampering, the check complains; after the rebuild, the totals are the writer's again."""
    make_rule("T-R", 10, category="公益参与")
    award(world, "staff", ["v1a", "v1b"], "T-R", occurred_on=(date.today() - timedelta(days=15)).isoformat())
    before = (kept(world, "v1a"), authored(world, "staff"))
    db.session.execute(update(AuthorMonth).values(late=5))
    db.session.execute(update(HouseholdMonth).values(awarded=99))
    db.session.execute(delete(CategoryMonth))
    db.session.commit()
    messages = [str(v) for v in check_invariants()]
    assert any("awards to household" in m and "late 5" in m for m in messages)
    assert any("awarded 99" in m for m in messages)
    result = app.test_cli_runner().invoke(args=["ledger", "rebuild-totals"])
    assert result.exit_code == 0, result.output
    assert "rebuilt:" in result.output
    db.session.expire_all()
    assert check_invariants() == []
    assert (kept(world, "v1a"), authored(world, "staff")) == before
