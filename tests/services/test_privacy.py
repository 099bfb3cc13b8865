"""Anonymising an exited household's personal data after the retention period
(issue 12): who may, when, what goes and what stays."""
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (AuditRecord, Card, Checkout, Evidence, FairnessNote, Household,
                        LedgerEntry, Visit)
from app.services.checkout.cards import issue_card
from app.services.checkout.checkouts import check_out, void_checkout
from app.services.clock import local_today
from app.services.errors import Conflict, Forbidden, ValidationError
from app.services.invariants import check_invariants
from app.services.ledger import writer
from app.services.people import privacy
from app.services.people.households import update_household
from app.services.points import entries
from app.services.points.evidence import evidence_root
from app.services.points.passbook import set_passbook_pin
from app.services.reports import figures
from app.services.reports.fairness import explain
from app.services.reports.period import Period
from app.services.reports.visits import record_visit
from tests.checkout_helpers import give_points, stocked
from tests.points_helpers import at, award, make_rule, photo, today

NAME = "杜玉梅"  # v1a's head, in tests/factories.py
PHONE = "13812345678"
ADDRESS = "东坪村三组十八号"
REGISTER_NO = "RG-520123-0042"
# Free text written about the household, each of which must go.
TEXTS = {
    "note": "杜玉梅打扫庭院",
    "objection": "邻居说杜玉梅没有参加",
    "objector": "邻居张三丰",
    "decision": "核实杜玉梅确未参加",
    "withdrawal": "杜玉梅本人要求撤回",
    "visit": "杜玉梅腿脚不便，儿子杜小刚在外打工",
    "no_card": "女儿杜小梅代领",
    "void": "杜玉梅说拿错了",
    "fairness": "杜玉梅家是低保户，扣分属实",
}
SECRETS = [NAME, PHONE, ADDRESS, REGISTER_NO, "张三丰", "杜小刚", "杜小梅", *TEXTS.values()]


@pytest.fixture
def exited(app, world):
    """v1a with a full history (register fields, PIN, card, photos, objection,
    withdrawal, visit, checkouts with and without card, a fairness note), exited
    four years ago; v1b shares one group photo with it."""
    admin, staff, cadre = world.users["admin"], world.users["staff"], world.users["cadre"]
    hh = world.households["v1a"]
    update_household(admin, hh.id, {"phone": PHONE, "address": ADDRESS, "tags": ["低保", "监测户"]})
    hh.register_no = REGISTER_NO
    set_passbook_pin(admin, hh.id, "258369")
    issue_card(admin, hh.id)
    db.session.commit()
    make_rule("HJ-01", 5, evidence=True)
    make_rule("QL-01", 10)
    made = at(-10)
    [own] = award(world, "staff", ["v1a"], "HJ-01", now=made, occurred_on=today(made),
                  note=TEXTS["note"], evidence=photo(800, 600))
    group = award(world, "staff", ["v1a", "v1b"], "HJ-01", now=made, occurred_on=today(made),
                  note="全组清理河道", evidence=photo(640, 480))
    own_photo, group_photo = own.evidence, group[0].evidence
    assert group[1].evidence_id == group_photo.id
    [objected] = award(world, "staff", ["v1a"], "QL-01", now=made, occurred_on=today(made))
    entries.raise_objection(world.users["volunteer"], objected.id,
                            {"reason": TEXTS["objection"], "objector": TEXTS["objector"]}, now=at(-9.5))
    entries.reject_entry(cadre, objected.id, {"reason": TEXTS["decision"]}, now=at(-9))
    [withdrawn] = award(world, "staff", ["v1a"], "QL-01", now=made, occurred_on=today(made))
    entries.withdraw_entry(staff, withdrawn.id, {"reason": TEXTS["withdrawal"]}, now=at(-9.9))
    writer.post_due()
    record_visit(staff, hh.id, {"visited_on": today(), "note": TEXTS["visit"]})
    db.session.commit()
    give_points(world, hh, 100)
    products = stocked(world)
    soap = products["香皂"]
    sale = {"supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": soap.id, "quantity": 1}]}
    check_out(world.users["volunteer"], {**sale, "no_card_reason": TEXTS["no_card"]})
    check_out(world.users["volunteer"], {**sale, "no_card_reason": "lost"})
    voided = check_out(world.users["volunteer"], {**sale, "no_card_reason": "elder"})
    void_checkout(world.users["volunteer"], voided.id, {"reason": TEXTS["void"]})
    explain(cadre, {"kind": "deductions", "subject_type": "household", "subject_id": hh.id,
                    "from": today(at(-30)), "to": today(), "note": TEXTS["fairness"]})
    db.session.commit()
    update_household(admin, hh.id, {"status": "exited"})
    db.session.commit()
    _exit_on(hh, local_today() - timedelta(days=4 * 365))
    return {"hh": hh, "own_photo": evidence_root() / own_photo.path,
            "group_photo": evidence_root() / group_photo.path, "group_photo_id": group_photo.id}


def _exit_on(hh, day: date) -> None:
    db.session.execute(update(Household).where(Household.id == hh.id).values(exited_on=day))
    db.session.commit()
    db.session.expire_all()


def dump() -> str:
    """Every value of every table, as one string."""
    out = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            for value in row:
                out.append(json.dumps(value, ensure_ascii=False, default=str)
                           if isinstance(value, (dict, list)) else str(value))
    return "\n".join(out)


def figures_now(world) -> dict:
    """What the reports say for everything up to today, across the county."""
    data = {"from": (local_today() - timedelta(days=5 * 365)).isoformat(), "to": local_today().isoformat()}
    rng = Period(local_today() - timedelta(days=5 * 365), local_today())
    admin = world.users["admin"]
    return {"summary": figures.summary(admin, data, rng),
            "villages": figures.villages(admin, data, rng),
            "trends": figures.trends(admin, data, rng)}


def test_the_fixture_leaves_every_secret_in_the_database(world, exited):
    """The search below can fail: before anonymising, each personal value is found."""
    text = dump()
    assert [s for s in SECRETS if s not in text] == []
    assert exited["own_photo"].is_file() and exited["group_photo"].is_file()


def test_anonymising_leaves_no_personal_value_anywhere(world, exited):
    """Name, phone, address, register number and every free text about the
    household are gone from every column of every table."""
    privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.commit()
    text = dump()
    assert [s for s in SECRETS if s in text] == []


def test_anonymising_blanks_the_register_and_the_free_text(world, exited):
    """The household's fields, its entries' texts, its visits, its counter reasons,
    its fairness note and its audit details are blank; coded reasons stay."""
    hh = exited["hh"]
    privacy.anonymise_household(world.users["admin"], hh.id)
    db.session.commit()
    db.session.refresh(hh)
    assert (hh.head_name, hh.phone, hh.address, hh.members, hh.tags, hh.register_no,
            hh.passbook_pin_hash) == (privacy.PLACEHOLDER_NAME, None, None, 1, [], None, None)
    assert hh.anonymised_at is not None
    texts = db.session.execute(select(LedgerEntry.note, LedgerEntry.objection_reason,
                                      LedgerEntry.objector, LedgerEntry.decision_reason)
                               .where(LedgerEntry.household_id == hh.id)).all()
    assert texts and all(value is None for row in texts for value in row)
    assert db.session.scalars(select(Visit.note).where(Visit.household_id == hh.id)).all() == [None]
    reasons = db.session.execute(select(Checkout.no_card_reason, Checkout.void_reason)
                                 .where(Checkout.household_id == hh.id).order_by(Checkout.id)).all()
    assert reasons == [(None, None), ("lost", None), ("elder", None)]
    assert db.session.scalars(select(FairnessNote.note)).all() == [""]
    assert db.session.scalars(select(Card.status).where(Card.household_id == hh.id)).all() == ["revoked"]
    details = db.session.scalars(select(AuditRecord.details).where(
        AuditRecord.household_id == hh.id, AuditRecord.action != "household.anonymise")).all()
    assert len(details) >= 10 and all(d == privacy.ANONYMISED_DETAILS for d in details)


def test_its_own_photos_are_deleted_and_a_shared_one_stays(world, exited):
    """The photo only this household's award used is gone (file and row); the
    group photo stays for the other household, which still links to it."""
    hh = exited["hh"]
    privacy.anonymise_household(world.users["admin"], hh.id)
    db.session.commit()
    assert not exited["own_photo"].exists()
    assert exited["group_photo"].is_file()
    assert db.session.scalars(select(Evidence.id)).all() == [exited["group_photo_id"]]
    assert db.session.scalar(select(func.count()).where(
        LedgerEntry.household_id == hh.id, LedgerEntry.evidence_id.is_not(None))) == 0
    assert db.session.scalar(select(func.count()).where(
        LedgerEntry.household_id == world.households["v1b"].id,
        LedgerEntry.evidence_id == exited["group_photo_id"])) == 1


def test_a_refused_act_deletes_no_photo(world, exited):
    """Rolled back after the act (a failing request): the photo file stays with its row."""
    privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.rollback()
    assert exited["own_photo"].is_file()
    db.session.commit()
    assert exited["own_photo"].is_file()
    assert db.session.get(Household, exited["hh"].id).anonymised_at is None


def test_code_balance_figures_and_ledger_check_stay(world, exited):
    """The code, village, status, balance, entries' points, the reports' figures
    are as before; the ledger check finds nothing."""
    hh = exited["hh"]
    before = figures_now(world)
    kept = (hh.code, hh.village_id, hh.status, hh.exited_on, hh.balance)
    points = db.session.execute(select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points,
                                       LedgerEntry.status, LedgerEntry.occurred_on, LedgerEntry.rule_id)
                                .order_by(LedgerEntry.id)).all()
    assert check_invariants() == []
    privacy.anonymise_household(world.users["admin"], hh.id)
    db.session.commit()
    db.session.refresh(hh)
    assert (hh.code, hh.village_id, hh.status, hh.exited_on, hh.balance) == kept
    assert db.session.execute(select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points,
                                     LedgerEntry.status, LedgerEntry.occurred_on, LedgerEntry.rule_id)
                              .order_by(LedgerEntry.id)).all() == points
    assert figures_now(world) == before
    assert check_invariants() == []


def test_the_act_is_audited_without_personal_values(world, exited):
    """One audit record says who anonymised which household, with counts only."""
    hh = exited["hh"]
    privacy.anonymise_household(world.users["admin"], hh.id)
    db.session.commit()
    [rec] = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "household.anonymise")).all()
    assert (rec.user_id, rec.object_type, rec.object_id) == (world.users["admin"].id, "households", hh.id)
    assert rec.details["photos_deleted"] == 1 and rec.details["cards_revoked"] == 1
    assert not any(s in json.dumps(rec.details, ensure_ascii=False) for s in SECRETS)


@pytest.mark.parametrize("user", ["cadre", "staff", "volunteer", "donor"])
def test_only_an_admin_anonymises(world, exited, user):
    """Anyone but an admin is refused and nothing changes."""
    with pytest.raises(Forbidden):
        privacy.anonymise_household(world.users[user], exited["hh"].id)
    db.session.rollback()
    assert db.session.get(Household, exited["hh"].id).head_name == NAME


def test_an_active_household_is_refused(world, app):
    """A household still in the programme keeps its data."""
    with pytest.raises(ValidationError) as err:
        privacy.anonymise_household(world.users["admin"], world.households["v1b"].id)
    assert list(err.value.errors) == ["household_id"]
    db.session.rollback()
    assert db.session.get(Household, world.households["v1b"].id).head_name == "王喆"


def test_a_household_exited_too_recently_is_refused(world, exited):
    """Exited less than RETENTION_YEARS_AFTER_EXIT ago: refused, saying until when."""
    hh = exited["hh"]
    exit_day = local_today() - timedelta(days=2 * 365)
    _exit_on(hh, exit_day)
    with pytest.raises(ValidationError) as err:
        privacy.anonymise_household(world.users["admin"], hh.id)
    assert privacy.kept_until(exit_day).isoformat() in str(err.value.detail)
    db.session.rollback()
    assert db.session.get(Household, hh.id).phone == PHONE
    assert exited["own_photo"].is_file()


def test_the_retention_period_is_the_configured_number_of_years(world, exited, app):
    """Eligible from exit day plus the configured years, not a day earlier."""
    hh = exited["hh"]
    app.config["RETENTION_YEARS_AFTER_EXIT"] = 1
    _exit_on(hh, privacy._years_before(local_today(), 1) + timedelta(days=1))
    assert privacy.eligible_households(world.users["admin"])[1] == 0
    _exit_on(hh, privacy._years_before(local_today(), 1))
    assert [h.id for h in privacy.eligible_households(world.users["admin"])[0]] == [hh.id]


def test_anonymising_twice_is_a_conflict(world, exited):
    """The second time answers 409 and writes nothing."""
    privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.commit()
    with pytest.raises(Conflict):
        privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(AuditRecord.action == "household.anonymise")) == 1


def test_an_anonymised_household_can_no_longer_be_edited(world, exited):
    """Its register fields cannot be filled again, nor its status turned back."""
    privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.commit()
    with pytest.raises(Conflict):
        update_household(world.users["admin"], exited["hh"].id, {"status": "active"})


def test_an_anonymised_household_takes_no_new_visit_note(world, exited):
    """A visit (whose note could name people again) is refused once the household is anonymised."""
    privacy.anonymise_household(world.users["admin"], exited["hh"].id)
    db.session.commit()
    with pytest.raises(Conflict):
        record_visit(world.users["admin"], exited["hh"].id,
                     {"visited_on": local_today().isoformat(), "note": "张三说家里都好"})
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Visit)
                             .where(Visit.household_id == exited["hh"].id, Visit.note.is_not(None))) == 0


def test_all_eligible_at_once(world, exited):
    """The bulk act takes the households past their retention period, not the others."""
    admin = world.users["admin"]
    recent = world.households["v2a"]
    update_household(admin, recent.id, {"status": "exited"})
    db.session.commit()
    assert [h.id for h in privacy.eligible_households(admin)[0]] == [exited["hh"].id]
    done, remaining = privacy.anonymise_eligible(admin)
    db.session.commit()
    assert (done, remaining) == (1, 0)
    assert db.session.get(Household, exited["hh"].id).anonymised_at is not None
    assert db.session.get(Household, recent.id).head_name == "钟秀英"
    assert privacy.eligible_households(admin) == ([], 0)
    with pytest.raises(Forbidden):
        privacy.anonymise_eligible(world.users["cadre"])
