"""Points at the service layer: awards and batches, the monthly cap, public
notice, objections, approvals, reversals, evidence, expiry and the rule catalogue."""
import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Evidence, LedgerEntry, Rule
from app.services.points import awards as points
from app.services.points import rules
from app.services.errors import (
    CapExceeded, Conflict, Forbidden, HouseholdInactive, NotFound, ValidationError,
)
from app.services.people.households import pending_points
from app.services.ledger.writer import post_due
from app.services.points import entries
from app.services.points import expiry
from app.services.points import passbook
from tests.factories import count
from tests.points_helpers import at, award, balance, make_rule, photo, today


@pytest.fixture
def catalogue(world):
    """A few rules: a plain award, a capped one, a deduction, a large one, one needing a photo."""
    return {
        "plain": make_rule("T-PLAIN", 10),
        "cap1": make_rule("T-CAP1", 5, cap=1),
        "cap2": make_rule("T-CAP2", 3, cap=2),
        "deduct": make_rule("T-KF", -20),
        "large": make_rule("T-BIG", 60),
        "photo": make_rule("T-PHOTO", 8, evidence=True),
    }


def entries_count() -> int:
    return count(LedgerEntry)


# -- awards, notice and posting ---------------------------------------------------

def test_award_is_pending_until_notice_ends_then_posts_by_itself(world, catalogue):
    """An award is pending (counted in `pending`, not in the balance) until the end of the local
    day three days on; post_due then posts it without anyone acting."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN", note="帮邻居修房")
    assert (entry.status, entry.kind, entry.points, entry.note) == ("pending", "award", 10, "帮邻居修房")
    assert balance(world, "v1a") == 0
    assert pending_points(world.households["v1a"]) == 10
    assert post_due(now=at(3)) == 0
    db.session.commit()
    assert balance(world, "v1a") == 0
    assert post_due(now=at(4)) == 1
    db.session.commit()
    db.session.refresh(entry)
    assert entry.status == "posted" and entry.posted_at is not None
    assert balance(world, "v1a") == 10
    assert pending_points(world.households["v1a"]) == 0


def test_notice_ends_at_local_midnight_three_days_on(app, world, catalogue):
    """Made at 23:30 Shanghai time on 1 March, an award's notice ends at 00:00 on 5 March, Shanghai time."""
    made = datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc)  # 23:30 in Shanghai
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN", now=made, occurred_on="2026-03-01")
    assert entry.notice_ends_at == datetime(2026, 3, 4, 16, 0, tzinfo=timezone.utc)
    app.config["POINTS_NOTICE_DAYS"] = 1
    [entry] = award(world, "staff", ["v1b"], "T-PLAIN", now=made, occurred_on="2026-03-01")
    assert entry.notice_ends_at == datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc)


def test_notice_days_zero_posts_at_once(app, world, catalogue):
    """With POINTS_NOTICE_DAYS = 0 an award is posted at once and the balance moves in the same act."""
    app.config["POINTS_NOTICE_DAYS"] = 0
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    assert entry.status == "posted"
    assert balance(world, "v1a") == 10


def test_post_due_twice_counts_once(world, catalogue):
    """Running post_due again (cron and a request after each other) posts nothing more."""
    award(world, "staff", ["v1a", "v1b"], "T-PLAIN")
    assert post_due(now=at(5)) == 2
    assert post_due(now=at(5)) == 0
    db.session.commit()
    assert (balance(world, "v1a"), balance(world, "v1b")) == (10, 10)


def test_post_due_can_be_limited_to_households(world, catalogue):
    """post_due(household_ids=...) posts only those households' due entries."""
    award(world, "staff", ["v1a", "v1b"], "T-PLAIN")
    assert post_due(now=at(5), household_ids=[world.households["v1b"].id]) == 1
    db.session.commit()
    assert (balance(world, "v1a"), balance(world, "v1b")) == (0, 10)


def test_deduction_rule_makes_deduction_entries_that_may_go_negative(world, catalogue):
    """A rule with negative points makes `deduction` entries; posted, they may leave a balance below zero."""
    [entry] = award(world, "staff", ["v1a"], "T-KF")
    assert (entry.kind, entry.points) == ("deduction", -20)
    assert pending_points(world.households["v1a"]) == -20
    post_due(now=at(5))
    db.session.commit()
    assert balance(world, "v1a") == -20


def test_pending_is_the_signed_sum_of_pending_and_disputed(world, catalogue):
    """`pending` adds pending and disputed entries, signed; cancelled ones drop out."""
    award(world, "staff", ["v1a"], "T-PLAIN")
    [disputed] = award(world, "staff", ["v1a"], "T-CAP2")
    award(world, "staff", ["v1a"], "T-KF")
    entries.raise_objection(world.users["volunteer"], disputed.id, {"reason": "没有参加"})
    db.session.commit()
    assert pending_points(world.households["v1a"]) == 10 + 3 - 20
    entries.reject_entry(world.users["cadre"], disputed.id, {"reason": "核实未参加"})
    db.session.commit()
    assert pending_points(world.households["v1a"]) == 10 - 20
    assert passbook.pending_by_household([world.households["v1a"].id, world.households["v1b"].id]) == \
        {world.households["v1a"].id: -10}


def test_award_records_who_when_and_the_rule_version(world, catalogue):
    """Each entry names its maker, the rule version and code, and has an audit row by that user."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    assert entry.created_by_id == world.users["staff"].id
    assert (entry.rule_id, entry.rule_code) == (catalogue["plain"].id, "T-PLAIN")
    rec = db.session.scalars(select(AuditRecord).where(
        AuditRecord.object_type == "ledger_entries", AuditRecord.object_id == entry.id)).one()
    assert rec.user_id == world.users["staff"].id and rec.action == "points.award"


# -- batches and refusals ------------------------------------------------------------

def test_batch_gives_every_household_an_entry(world, catalogue):
    """One award to several households makes one entry each, in the order given; duplicates collapse."""
    ids = [world.households[n].id for n in ("v1b", "v1a", "v1b")]
    made = points.award_points(world.users["staff"], {"household_ids": ids, "rule_code": "T-PLAIN",
                                                      "occurred_on": today()})
    assert [e.household_id for e in made] == ids[:2]
    db.session.flush()
    # Each entry has its own audit record, naming its household and village.
    records = db.session.scalars(select(AuditRecord).where(
        AuditRecord.object_type == "ledger_entries",
        AuditRecord.object_id.in_([e.id for e in made]))).all()
    assert sorted((r.object_id, r.household_id, r.village_id, r.action, r.user_id) for r in records) == \
        sorted((e.id, e.household_id, world.households["v1a"].village_id, "points.award",
                world.users["staff"].id) for e in made)
    assert {r.details["batch"] for r in records} == {2}


def test_batch_with_an_exited_household_writes_nothing(world, catalogue):
    """One exited household refuses the whole batch (household-inactive) and names it; nothing is written."""
    world.households["v1b"].status = "exited"
    db.session.commit()
    before = entries_count()
    with pytest.raises(HouseholdInactive) as err:
        award(world, "staff", ["v1a", "v1b"], "T-PLAIN")
    db.session.rollback()
    assert list(err.value.households) == [world.households['v1b'].id]
    assert entries_count() == before


def test_batch_with_a_household_out_of_scope_is_not_found(world, catalogue):
    """Staff of 东坪村 awarding to a household of 石门村 get 404, for the whole batch."""
    with pytest.raises(NotFound) as err:
        award(world, "staff", ["v1a", "v2a"], "T-PLAIN")
    db.session.rollback()
    assert list(err.value.households) == [world.households['v2a'].id]
    assert entries_count() == 0


def test_only_staff_and_admin_award(world, catalogue):
    """Cadres, volunteers and donors cannot award points."""
    for user in ("cadre", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            award(world, user, ["v1a"], "T-PLAIN")
    assert entries_count() == 0


@pytest.mark.parametrize("data,field", [
    ({"household_ids": []}, "household_ids"),
    ({"household_ids": "x"}, "household_ids"),
    ({"household_ids": [True]}, "household_ids"),
    ({"rule_code": "NOPE"}, "rule_code"),
    ({"rule_code": None}, "rule_code"),
    ({"occurred_on": "2026-13-01"}, "occurred_on"),
    ({"occurred_on": "01/03/2026"}, "occurred_on"),
    ({"occurred_on": None}, "occurred_on"),
    ({"note": "x" * 501}, "note"),
])
def test_bad_award_fields_are_validation_errors(world, catalogue, data, field):
    """Bad fields are a validation error naming the field; nothing is written."""
    body = {"household_ids": [world.households["v1a"].id], "rule_code": "T-PLAIN",
            "occurred_on": today(), **data}
    with pytest.raises(ValidationError) as err:
        points.award_points(world.users["staff"], body)
    assert field in err.value.errors
    assert entries_count() == 0


def test_future_and_too_old_dates_are_refused(app, world, catalogue):
    """occurred_on may not be in the future (local date) nor older than POINTS_MAX_AGE_DAYS."""
    for day, ok in ((at(1), False), (at(-30), True), (at(-31), False)):
        try:
            award(world, "staff", ["v1a"], "T-PLAIN", occurred_on=today(day))
            assert ok
        except ValidationError as err:
            assert not ok and "occurred_on" in err.errors
            db.session.rollback()
    app.config["POINTS_MAX_AGE_DAYS"] = 5
    with pytest.raises(ValidationError):
        award(world, "staff", ["v1a"], "T-PLAIN", occurred_on=today(at(-6)))


def test_retired_rule_cannot_be_awarded(world, catalogue):
    """A retired rule is refused; its past entries stay."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    rules.retire_rule(world.users["admin"], "T-PLAIN")
    db.session.commit()
    with pytest.raises(ValidationError) as err:
        award(world, "staff", ["v1b"], "T-PLAIN")
    assert "rule_code" in err.value.errors
    db.session.rollback()
    assert db.session.get(LedgerEntry, entry.id).points == 10


# -- the monthly cap -------------------------------------------------------------------

def test_cap_refuses_the_batch_and_names_the_household_over_it(world, catalogue):
    """With a cap of 2, a third award in the month is cap-exceeded; a batch with that household
    and a fresh one writes nothing and names only the one over the cap."""
    award(world, "staff", ["v1a"], "T-CAP2")
    award(world, "staff", ["v1a"], "T-CAP2")
    before = entries_count()
    with pytest.raises(CapExceeded) as err:
        award(world, "staff", ["v1b", "v1a"], "T-CAP2")
    db.session.rollback()
    assert err.value.slug == "cap-exceeded" and err.value.status == 422
    assert list(err.value.households) == [world.households['v1a'].id]
    assert entries_count() == before
    assert points.live_count_in_month("T-CAP2", [world.households["v1b"].id], date.today()) == {}


def test_cap_is_per_calendar_month_of_occurred_on(world, catalogue):
    """The cap counts awards whose occurred_on is in the same calendar month, whenever they were made."""
    now = datetime(2026, 3, 5, 4, 0, tzinfo=timezone.utc)
    award(world, "staff", ["v1a"], "T-CAP1", now=now, occurred_on="2026-02-27")
    award(world, "staff", ["v1a"], "T-CAP1", now=now, occurred_on="2026-03-01")
    with pytest.raises(CapExceeded):
        award(world, "staff", ["v1a"], "T-CAP1", now=now, occurred_on="2026-02-03")


def test_cap_counts_across_rule_versions(world, catalogue):
    """A new version of a rule shares the cap of its code."""
    award(world, "staff", ["v1a"], "T-CAP1")
    make_rule("T-CAP1", 7, cap=1)
    with pytest.raises(CapExceeded):
        award(world, "staff", ["v1a"], "T-CAP1")


def test_cancelled_and_reversed_entries_free_the_cap(app, world, catalogue):
    """A cancelled award and a reversed award no longer count towards the cap."""
    [first] = award(world, "staff", ["v1a"], "T-CAP1")
    entries.raise_objection(world.users["staff"], first.id, {"reason": "记错户了"})
    entries.reject_entry(world.users["cadre"], first.id, {"reason": "同意异议"})
    db.session.commit()
    app.config["POINTS_NOTICE_DAYS"] = 0
    [second] = award(world, "staff", ["v1a"], "T-CAP1")
    entries.reverse_entry(world.users["cadre"], second.id, {"reason": "重复录入"})
    db.session.commit()
    [third] = award(world, "staff", ["v1a"], "T-CAP1")
    assert third.status == "posted"
    with pytest.raises(CapExceeded):
        award(world, "staff", ["v1a"], "T-CAP1")


# -- objections, approvals -------------------------------------------------------------

def test_objection_disputes_until_a_cadre_upholds(world, catalogue):
    """A disputed award never posts by itself; upheld, it posts when its notice ends."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    entries.raise_objection(world.users["volunteer"], entry.id, {"reason": "那天他不在村里"})
    db.session.commit()
    assert entry.status == "disputed" and entry.objection_reason == "那天他不在村里"
    assert post_due(now=at(30)) == 0
    entries.approve_entry(world.users["cadre"], entry.id)
    db.session.commit()
    assert entry.status == "pending"
    assert post_due(now=at(5)) == 1
    db.session.commit()
    assert balance(world, "v1a") == 10


def test_upheld_after_the_notice_posts_at_once(world, catalogue):
    """Upheld after its notice has ended, a disputed entry posts in the same act."""
    made = at(-10)
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN", now=made, occurred_on=today(made))
    entries.raise_objection(world.users["staff"], entry.id, {"reason": "核实"}, now=at(-9))
    entries.approve_entry(world.users["cadre"], entry.id)
    db.session.commit()
    assert db.session.get(LedgerEntry, entry.id).status == "posted"
    assert balance(world, "v1a") == 10


def test_rejected_objection_cancels_and_never_counts(world, catalogue):
    """Rejecting (accepting the objection) cancels the entry with a reason; it never counts."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    entries.raise_objection(world.users["staff"], entry.id, {"reason": "不属实"})
    entries.reject_entry(world.users["cadre"], entry.id, {"reason": "经核实不属实"})
    db.session.commit()
    assert (entry.status, entry.decision_reason) == ("cancelled", "经核实不属实")
    post_due(now=at(30))
    db.session.commit()
    assert balance(world, "v1a") == 0 and pending_points(world.households["v1a"]) == 0


def test_objection_only_during_the_notice(world, catalogue):
    """After the notice has ended (or once posted) an objection is a conflict."""
    made = at(-10)
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN", now=made, occurred_on=today(made))
    with pytest.raises(Conflict):
        entries.raise_objection(world.users["staff"], entry.id, {"reason": "晚了"})
    db.session.rollback()
    post_due()
    db.session.commit()
    with pytest.raises(Conflict):
        entries.raise_objection(world.users["staff"], entry.id, {"reason": "晚了"})


def test_objection_needs_a_reason_and_scope(world, catalogue):
    """An objection needs a reason; a user who cannot see the household gets 404."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    with pytest.raises(ValidationError):
        entries.raise_objection(world.users["staff"], entry.id, {"reason": "  "})
    for user in ("staff_west", "volunteer_west", "cadre_west"):
        with pytest.raises(NotFound):
            entries.raise_objection(world.users[user], entry.id, {"reason": "x"})


def test_large_award_waits_for_approval(app, world, catalogue):
    """An award above POINTS_APPROVAL_ABOVE stays pending after its notice until a cadre approves."""
    [entry] = award(world, "staff", ["v1a"], "T-BIG")
    assert entry.needs_approval and entry.due_at is None
    assert post_due(now=at(30)) == 0
    entries.approve_entry(world.users["cadre"], entry.id)
    db.session.commit()
    assert entry.status == "pending" and entry.approved_at is not None
    assert post_due(now=at(5)) == 1
    db.session.commit()
    assert balance(world, "v1a") == 60


def test_approval_with_no_notice_posts_at_once(app, world, catalogue):
    """With notice 0, a large award posts the moment a cadre approves it; the threshold is configurable."""
    app.config["POINTS_NOTICE_DAYS"] = 0
    [entry] = award(world, "staff", ["v1a"], "T-BIG")
    assert entry.status == "pending"
    entries.approve_entry(world.users["admin"], entry.id)
    db.session.commit()
    assert entry.status == "posted" and balance(world, "v1a") == 60
    app.config["POINTS_APPROVAL_ABOVE"] = 100
    [entry] = award(world, "staff", ["v1b"], "T-BIG")
    assert entry.status == "posted" and not entry.needs_approval


def test_rejected_approval_cancels(world, catalogue):
    """Refusing the approval cancels a large award."""
    [entry] = award(world, "staff", ["v1a"], "T-BIG")
    entries.reject_entry(world.users["cadre"], entry.id, {"reason": "分值过高"})
    db.session.commit()
    assert entry.status == "cancelled"
    assert post_due(now=at(30)) == 0


def test_nobody_decides_on_their_own_award(world, catalogue):
    """The maker of an award may not approve or reject it (403), even as admin."""
    [entry] = award(world, "admin", ["v1a"], "T-BIG")
    with pytest.raises(Forbidden):
        entries.approve_entry(world.users["admin"], entry.id)
    with pytest.raises(Forbidden):
        entries.reject_entry(world.users["admin"], entry.id, {"reason": "x"})
    assert entry.status == "pending" and entry.approved_at is None


def test_only_cadres_in_region_decide(world, catalogue):
    """Staff cannot approve (403); a cadre of another township gets 404; a plain pending entry is a conflict."""
    [big] = award(world, "staff", ["v1a"], "T-BIG")
    [plain] = award(world, "staff", ["v1a"], "T-PLAIN")
    with pytest.raises(Forbidden):
        entries.approve_entry(world.users["staff_east"], big.id)
    with pytest.raises(NotFound):
        entries.approve_entry(world.users["cadre_west"], big.id)
    with pytest.raises(Conflict):
        entries.approve_entry(world.users["cadre"], plain.id)
    with pytest.raises(Conflict):
        entries.reject_entry(world.users["cadre"], plain.id, {"reason": "x"})


# -- reversals ------------------------------------------------------------------------

def test_reversal_once_and_the_original_stays_posted(app, world, catalogue):
    """A reversal undoes a posted entry's points with a new entry; the original keeps
    status posted and points; a second reversal is a conflict."""
    app.config["POINTS_NOTICE_DAYS"] = 0
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    rev = entries.reverse_entry(world.users["cadre"], entry.id, {"reason": "录错户"})
    db.session.commit()
    assert (rev.kind, rev.points, rev.status, rev.reversal_of, rev.note) == \
        ("reversal", -10, "posted", entry.id, "录错户")
    assert (entry.status, entry.points) == ("posted", 10)
    assert passbook.reversed_by([entry]) == {entry.id: rev.id}
    assert balance(world, "v1a") == 0
    with pytest.raises(Conflict):
        entries.reverse_entry(world.users["admin"], entry.id, {"reason": "again"})
    db.session.rollback()
    with pytest.raises(Conflict):
        entries.reverse_entry(world.users["admin"], rev.id, {"reason": "undo the undo"})
    db.session.rollback()
    assert balance(world, "v1a") == 0 and entries_count() == 2


def test_only_posted_entries_are_reversed_by_cadres(world, catalogue):
    """A pending entry cannot be reversed (it is rejected instead); staff cannot reverse."""
    [entry] = award(world, "staff", ["v1a"], "T-PLAIN")
    with pytest.raises(Conflict):
        entries.reverse_entry(world.users["cadre"], entry.id, {"reason": "x"})
    with pytest.raises(Forbidden):
        entries.reverse_entry(world.users["staff"], entry.id, {"reason": "x"})
    with pytest.raises(ValidationError):
        entries.reverse_entry(world.users["cadre"], entry.id, {})


def test_adjustment_posts_at_once(world, catalogue):
    """An admin's adjustment (an opening balance from a paper passbook) posts at once."""
    entry = points.adjust_points(world.users["admin"], world.households["v1a"].id,
                                 {"points": 35, "reason": "纸质存折结余"})
    db.session.commit()
    assert (entry.kind, entry.status) == ("adjustment", "posted")
    assert balance(world, "v1a") == 35
    with pytest.raises(Forbidden):
        points.adjust_points(world.users["cadre"], world.households["v1a"].id,
                             {"points": 5, "reason": "x"})


# -- rule versions ---------------------------------------------------------------------

def test_new_rule_version_keeps_old_awards_value(app, world, catalogue):
    """Changing a rule's points makes version 2; awards under version 1 keep their 10 points."""
    app.config["POINTS_NOTICE_DAYS"] = 0
    [old] = award(world, "staff", ["v1a"], "T-PLAIN")
    v2 = make_rule("T-PLAIN", 15)
    assert v2.version == 2 and v2.id != catalogue["plain"].id
    [new] = award(world, "staff", ["v1a"], "T-PLAIN")
    assert (old.points, old.rule_id) == (10, catalogue["plain"].id)
    assert (new.points, new.rule_id) == (15, v2.id)
    assert balance(world, "v1a") == 25
    assert [(r.code, r.version, r.points) for r in rules.list_rules() if r.code == "T-PLAIN"] == \
        [("T-PLAIN", 2, 15)]


@pytest.mark.parametrize("data,field", [
    ({"points": 0}, "points"), ({"points": "ten"}, "points"), ({"cap_per_month": 0}, "cap_per_month"),
    ({"code": "has space"}, "code"), ({"name": ""}, "name"), ({"needs_evidence": "maybe"}, "needs_evidence"),
])
def test_bad_rules_are_refused(world, data, field):
    """A rule needs a code, category, name, non-zero points, a positive cap or none."""
    body = {"code": "R-1", "category": "公益参与", "name": "义务劳动", "points": 5, **data}
    with pytest.raises(ValidationError) as err:
        rules.create_rule(world.users["admin"], body)
    assert field in err.value.errors
    with pytest.raises(Forbidden):
        rules.create_rule(world.users["cadre"], {**body, **{field: body[field]}})


def test_default_catalogue_loads_once(world):
    """load_default_rules adds the shipped catalogue (25 rules, deductions negative) and adds nothing the second time."""
    assert rules.load_default_rules() == 25
    db.session.commit()
    assert rules.load_default_rules() == 0
    by_code = {r.code: r for r in rules.list_rules()}
    assert by_code["QL-01"].needs_evidence and by_code["QL-01"].cap_per_month == 1
    assert by_code["KF-02"].points == -20 and by_code["KF-02"].cap_per_month is None


def test_export_and_import_round_trip(world):
    """The catalogue exported as CSV or xlsx imports back unchanged; an edited row becomes a new version."""
    rules.load_default_rules()
    db.session.commit()
    for fmt in ("csv", "xlsx"):
        content, mimetype, name = rules.export_rules(fmt)
        assert rules.import_rules(world.users["admin"], name, content) == \
            {"added": 0, "new_versions": 0, "unchanged": 25}
    content, _, _ = rules.export_rules("csv")
    assert content.startswith("\ufeff".encode())
    edited = content.decode("utf-8-sig").replace("QL-04,勤劳致富,参加农民夜校或脱贫讲习所,3,",
                                                 "QL-04,勤劳致富,参加农民夜校或脱贫讲习所,4,")
    edited += "ZZ-01,公益参与,新规则,2,每次,,no\n"
    summary = rules.import_rules(world.users["admin"], "rules.csv", edited.encode("gb18030"))
    assert summary == {"added": 1, "new_versions": 1, "unchanged": 24}
    assert rules.current_rule("QL-04").points == 4 and rules.current_rule("QL-04").version == 2


def test_import_with_bad_rows_writes_nothing(world):
    """An import is all or nothing; errors name the row and field."""
    wb = Workbook()
    ws = wb.active
    ws.append(["编码", "类别", "名称", "分值", "每月上限", "需要佐证"])
    ws.append(["A-1", "环境卫生", "庭院整洁", 5, 1, "是"])
    ws.append(["A-2", "环境卫生", "垃圾分类", 0, None, "否"])
    ws.append(["A-1", "环境卫生", "重复", 5, None, "否"])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(ValidationError) as err:
        rules.import_rules(world.users["admin"], "细则.xlsx", out.getvalue())
    assert set(err.value.errors) == {"rows.3.points", "rows.4.code"}
    assert count(Rule) == 0
    with pytest.raises(ValidationError):
        rules.import_rules(world.users["admin"], "rules.pdf", b"%PDF")


def test_export_xlsx_is_a_workbook(world):
    """The xlsx export opens in openpyxl with our header and one row per rule."""
    rules.load_default_rules()
    content, mimetype, _ = rules.export_rules("xlsx")
    ws = load_workbook(io.BytesIO(content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:4] == ("code", "category", "name", "points") and len(rows) == 26


# -- evidence photos -------------------------------------------------------------------

def test_rule_needing_evidence_refuses_an_award_without_a_photo(world, catalogue):
    """A rule with needs_evidence is a validation error (field evidence) without a photo."""
    with pytest.raises(ValidationError) as err:
        award(world, "staff", ["v1a"], "T-PHOTO")
    assert "evidence" in err.value.errors


def test_evidence_photo_is_reencoded_small_and_private(app, world, catalogue):
    """The photo is stored re-encoded: EXIF gone, longest side 1600 px, in the instance
    folder (not under static/), and linked to every entry of the batch."""
    upload = io.BytesIO(photo(4000, 3000))
    assert Image.open(io.BytesIO(photo())).getexif()  # the upload carries EXIF
    made = award(world, "staff", ["v1a", "v1b"], "T-PHOTO", evidence=upload)
    ev = db.session.get(Evidence, made[0].evidence_id)
    assert made[1].evidence_id == ev.id
    path = Path(app.instance_path) / "evidence" / ev.path
    static = Path(app.static_folder).resolve()
    assert path.is_file() and static not in path.resolve().parents
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.size == (1600, 1200)
        assert not img.getexif() and "exif" not in img.info
    assert (ev.width, ev.height, ev.size) == (1600, 1200, path.stat().st_size)


def test_small_png_with_transparency_is_kept_at_its_size(world, catalogue):
    """A small PNG is not enlarged; transparency becomes white."""
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    [entry] = award(world, "staff", ["v1a"], "T-PHOTO", evidence=io.BytesIO(out.getvalue()))
    ev = db.session.get(Evidence, entry.evidence_id)
    assert (ev.width, ev.height) == (300, 200)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"%PDF-1.4\n",
                                     b"<svg xmlns='http://www.w3.org/2000/svg'/>"])
def test_non_images_are_refused_and_nothing_is_written(world, catalogue, content):
    """A file that is not a photo is a validation error on `evidence`; no entry, no evidence row."""
    with pytest.raises(ValidationError) as err:
        award(world, "staff", ["v1a"], "T-PHOTO", evidence=io.BytesIO(content))
    assert "evidence" in err.value.errors
    db.session.rollback()
    assert (entries_count(), count(Evidence)) == (0, 0)


def test_evidence_visible_only_in_scope(world, catalogue):
    """A photo is shown to users who can see a household it backs; others get 404."""
    from app.services.points.evidence import get_evidence

    [entry] = award(world, "staff", ["v1a"], "T-PHOTO", evidence=io.BytesIO(photo(100, 100)))
    for user in ("staff", "staff_east", "cadre", "admin", "volunteer"):
        assert get_evidence(world.users[user], entry.evidence_id)[0].id == entry.evidence_id
    for user in ("staff_west", "cadre_west", "volunteer_west", "donor"):
        with pytest.raises((NotFound, Forbidden)):
            get_evidence(world.users[user], entry.evidence_id)


# -- year-end expiry -------------------------------------------------------------------

def test_year_end_expiry_is_off_by_default(world):
    """Without POINTS_YEAR_END_EXPIRY nothing expires."""
    with pytest.raises(Conflict):
        expiry.expire_year(2020)


def test_year_end_expiry_clears_what_is_left_of_the_year(app, world, catalogue):
    """Expiry takes what remains of last year's points (spending since used them first)
    and keeps points earned since; run again, it writes nothing."""
    app.config.update(POINTS_YEAR_END_EXPIRY=True, POINTS_NOTICE_DAYS=0)
    year = date.today().year - 1
    december = datetime(year, 12, 10, 4, tzinfo=timezone.utc)
    january = datetime(year + 1, 1, 5, 4, tzinfo=timezone.utc)
    award(world, "staff", ["v1a"], "T-PLAIN", now=december, occurred_on=f"{year}-12-10")
    award(world, "staff", ["v1a"], "T-PLAIN", now=december, occurred_on=f"{year}-12-10")
    award(world, "staff", ["v1b"], "T-KF", now=december, occurred_on=f"{year}-12-10")
    award(world, "staff", ["v1a"], "T-CAP2", now=january, occurred_on=f"{year + 1}-01-05")
    points.adjust_points(world.users["admin"], world.households["v1a"].id,
                         {"points": -4, "reason": "兑换(纸质)"}, now=january)
    db.session.commit()
    assert balance(world, "v1a") == 20 + 3 - 4
    with pytest.raises(Conflict):
        expiry.expire_year(year + 1)
    last, made, total = expiry.expire_year(year, now=january)
    assert (made, total) == (1, 16)
    assert last == max(h.id for h in world.households.values())
    db.session.commit()
    assert balance(world, "v1a") == 3 and balance(world, "v1b") == -20
    assert expiry.expire_year(year, now=january)[1:] == (0, 0)
