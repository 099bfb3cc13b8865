"""Scope and roles at the service layer: each act called directly, in and out of scope."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Household, Region, Supermarket, User
from app.services.people import accounts
from app.services.people import households
from app.services.people import regions
from app.services.people import scope
from app.services.errors import Forbidden, NotFound, ValidationError
from tests.factories import PASSWORD, count

READERS = ("admin", "cadre", "cadre_west", "staff", "staff_east", "staff_west", "volunteer", "volunteer_west")


def snapshot():
    """Row counts of everything a failed act might have written."""
    return {m.__name__: count(m) for m in (Household, AuditRecord, Region, Supermarket, User)}


def audits_for(action: str) -> list[AuditRecord]:
    return db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).all()


def visible_names(world, name: str) -> set[str]:
    # A volunteer must search for someone (q): every code holds a 0.
    q = "0" if name.startswith("volunteer") else None
    items, total = households.search_households(world.users[name], q=q, per_page=500)
    assert total == len(items)
    return {h.head_name for h in items}


def test_search_scope_per_role(world):
    """Each role's household search returns exactly the households of its region or supermarkets."""
    everyone = {"杜玉梅", "王喆", "钟秀英", "李堃"}
    assert visible_names(world, "admin") == everyone
    assert visible_names(world, "cadre") == everyone
    assert visible_names(world, "cadre_west") == {"李堃"}
    assert visible_names(world, "staff") == {"杜玉梅", "王喆"}
    assert visible_names(world, "staff_east") == {"杜玉梅", "王喆", "钟秀英"}
    assert visible_names(world, "staff_west") == {"李堃"}
    assert visible_names(world, "volunteer") == {"杜玉梅", "王喆", "钟秀英"}
    assert visible_names(world, "volunteer_west") == {"李堃"}


def test_donor_may_not_search_or_read_households(world):
    """A donor is never shown a household: searching or reading one is Forbidden."""
    donor = world.users["donor"]
    with pytest.raises(Forbidden):
        households.search_households(donor)
    with pytest.raises(Forbidden):
        scope.get_household(donor, world.households["v1a"].id)


SCOPE_CASES = [
    ("staff", "v1a", True), ("staff", "v2a", False), ("staff", "v3a", False),
    ("staff_east", "v2a", True), ("staff_east", "v3a", False),
    ("staff_west", "v3a", True), ("staff_west", "v1a", False),
    ("cadre", "v3a", True), ("cadre_west", "v3a", True), ("cadre_west", "v1b", False),
    ("volunteer", "v2a", True), ("volunteer", "v3a", False),
    ("volunteer_west", "v3a", True), ("volunteer_west", "v1a", False),
    ("admin", "v3a", True),
]


def test_get_household_scope(world):
    """get_household gives a household inside the user's scope and NotFound outside it."""
    for name, key, visible in SCOPE_CASES:
        hh_id = world.households[key].id
        if visible:
            assert scope.get_household(world.users[name], hh_id).id == hh_id, (name, key)
        else:
            with pytest.raises(NotFound):
                scope.get_household(world.users[name], hh_id)


def test_get_household_odd_ids_are_not_found(world):
    """Ids that are not a household's integer id are NotFound, never a crash."""
    for bad_id in (None, "1", True, 0, -1, 10**30, 987654):
        with pytest.raises(NotFound):
            scope.get_household(world.users["admin"], bad_id)


def test_search_filter_by_village_outside_scope_is_not_found(world):
    """Filtering the search by a village outside the user's scope is NotFound, not an empty page."""
    with pytest.raises(NotFound):
        households.search_households(world.users["staff"], village_id=world.v3.id)
    items, total = households.search_households(world.users["staff_east"], village_id=world.v2.id)
    assert [h.head_name for h in items] == ["钟秀英"] and total == 1


def test_search_page_far_beyond_the_end_is_empty(world):
    """A page number far past the last page gives no items, not a database error."""
    items, total = households.search_households(world.users["admin"], page=10**20, per_page=500)
    assert items == [] and total == 4


def test_create_household_in_scope(world):
    """Staff add households to their villages (admin anywhere), with an audit record naming them."""
    for name, village in (("staff", "v1"), ("staff_east", "v2"), ("staff_west", "v3"), ("admin", "v3")):
        actor = world.users[name]
        before = snapshot()
        hh = households.create_household(actor, {"village_id": getattr(world, village).id, "head_name": "赵犇"})
        db.session.commit()
        assert hh.village_id == getattr(world, village).id and hh.status == "active" and hh.balance == 0
        assert snapshot()["Household"] == before["Household"] + 1
        rec = audits_for("household.create")[-1]
        assert (rec.user_id, rec.object_type, rec.object_id) == (actor.id, "households", hh.id)


def test_create_household_out_of_scope_writes_nothing(world):
    """Adding a household to a village outside scope (or a non-village) is NotFound; a role not allowed is Forbidden; nothing is written."""
    before = snapshot()
    for name, village, error in (
        ("staff", "v2", NotFound), ("staff", "v3", NotFound), ("staff_west", "v1", NotFound),
        ("staff_east", "v3", NotFound), ("staff", "east", NotFound), ("admin", "east", NotFound),
        ("cadre", "v1", Forbidden), ("volunteer", "v1", Forbidden), ("donor", "v1", Forbidden),
    ):
        with pytest.raises(error):
            households.create_household(world.users[name], {"village_id": getattr(world, village).id,
                                                            "head_name": "赵犇"})
        db.session.rollback()
        assert snapshot() == before, (name, village)


def test_role_check_comes_before_validation(world):
    """A role that may not add households is Forbidden even when its input is also invalid."""
    for name in ("cadre", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            households.create_household(world.users[name], {"village_id": "x", "head_name": ""})


def test_update_household_in_scope_is_audited(world):
    """Staff edit a household of their village; the audit names the user and the changed fields only."""
    staff = world.users["staff"]
    hh = world.households["v1a"]
    households.update_household(staff, hh.id, {"members": 5, "phone": "13912345678", "head_name": "杜玉梅"})
    db.session.commit()
    db.session.refresh(hh)
    assert hh.members == 5 and hh.phone == "13912345678"
    rec = audits_for("household.update")[-1]
    assert rec.user_id == staff.id and rec.object_id == hh.id
    assert sorted(rec.details["fields"]) == ["members", "phone"]
    assert "13912345678" not in str(rec.details)


def test_update_household_out_of_scope_writes_nothing(world):
    """Editing a household outside scope is NotFound, by a role not allowed Forbidden; nothing changes."""
    before = snapshot()
    for name, key, error in (
        ("staff", "v2a", NotFound), ("staff", "v3a", NotFound), ("staff_west", "v1a", NotFound),
        ("staff_east", "v3a", NotFound),
        ("cadre", "v1a", Forbidden), ("volunteer", "v1a", Forbidden), ("donor", "v1a", Forbidden),
    ):
        with pytest.raises(error):
            households.update_household(world.users[name], world.households[key].id, {"head_name": "改名"})
        db.session.rollback()
        assert snapshot() == before, (name, key)
    assert "改名" not in db.session.scalars(select(Household.head_name)).all()


def test_update_never_touches_points_village_or_code(world):
    """Fields other than the register's (balance, village, code) are ignored by an edit."""
    hh = world.households["v1a"]
    code = hh.code
    households.update_household(world.users["admin"], hh.id,
                                {"balance": 500, "village_id": world.v3.id, "code": "X"})
    db.session.commit()
    db.session.refresh(hh)
    assert (hh.balance, hh.village_id, hh.code) == (0, world.v1.id, code)


def test_update_without_change_writes_no_audit(world):
    """Saving a household unchanged leaves no audit record (nothing was written)."""
    hh = world.households["v1a"]
    before = count(AuditRecord)
    households.update_household(world.users["staff"], hh.id, {"head_name": hh.head_name, "members": hh.members})
    db.session.commit()
    assert count(AuditRecord) == before


def test_household_codes_unique_across_villages(world):
    """Household codes are unique across the deployment, though each village counts from 1."""
    admin = world.users["admin"]
    for village in (world.v1, world.v2, world.v3):
        for _ in range(3):
            households.create_household(admin, {"village_id": village.id, "head_name": "甲"})
    db.session.commit()
    codes = db.session.scalars(select(Household.code)).all()
    assert len(codes) == 13 and len(set(codes)) == 13


def test_household_codes_unique_with_large_ids_and_sequences(world):
    """Codes stay unique when a village id or its sequence outgrows four digits."""
    admin = world.users["admin"]
    big = Region(id=12345, name="大村", level="village", parent_id=world.east.id,
                 path=world.east.path + "12345/", household_seq=6788)
    small = Region(id=1234, name="小村", level="village", parent_id=world.east.id,
                   path=world.east.path + "1234/", household_seq=56788)
    db.session.add_all([big, small])
    db.session.commit()
    a = households.create_household(admin, {"village_id": 1234, "head_name": "甲"})
    b = households.create_household(admin, {"village_id": 12345, "head_name": "乙"})
    db.session.commit()
    assert a.code != b.code


def test_create_user_admin_only(world):
    """Only an admin (or the command line) creates accounts; the audit names the admin."""
    before = snapshot()
    for name in ("cadre", "staff", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            accounts.create_user(world.users[name], {"username": "eve_" + name, "password": PASSWORD,
                                                     "role": "admin"})
        db.session.rollback()
    assert snapshot() == before
    admin = world.users["admin"]
    user = accounts.create_user(admin, {"username": "newstaff", "password": PASSWORD,
                                        "role": "staff", "region_id": world.v2.id})
    db.session.commit()
    rec = audits_for("user.create")[-1]
    assert (rec.user_id, rec.object_id, rec.details) == (admin.id, user.id, {"role": "staff"})
    assert accounts.authenticate("newstaff", PASSWORD).id == user.id


USER_CASES = [
    ({"role": "staff"}, "region_id"),
    ({"role": "cadre", "region_id": 987654}, "region_id"),
    ({"role": "volunteer"}, "supermarket_ids"),
    ({"role": "volunteer", "supermarket_ids": []}, "supermarket_ids"),
    ({"role": "volunteer", "supermarket_ids": [987654]}, "supermarket_ids"),
    ({"role": "volunteer", "supermarket_ids": "1"}, "supermarket_ids"),
    ({"role": "donor"}, "donor_id"),
    ({"role": "donor", "donor_id": True}, "donor_id"),
    ({"role": "boss"}, "role"),
    ({"role": "admin", "password": "x" * 9}, "password"),
    ({"role": "admin", "password": 12345678901}, "password"),
    ({"role": "admin", "username": "x"}, "username"),
    ({"role": "admin", "username": "has space"}, "username"),
    ({"role": "admin", "username": "admin"}, "username"),
]


def assert_refused(act, cases):
    """Each case raises a ValidationError naming its field, and leaves every table as it was."""
    before = snapshot()
    for data, field in cases:
        with pytest.raises(ValidationError) as err:
            act(data)
        assert field in err.value.errors, (data, err.value.errors)
        db.session.rollback()
        assert snapshot() == before, data


def test_create_user_bad_input_writes_nothing(world):
    """A missing scope, bad role, short password or taken username is a field error; nothing is written."""
    admin = world.users["admin"]
    assert_refused(lambda d: accounts.create_user(admin, {"username": "newbie", "password": PASSWORD, **d}),
                   USER_CASES)


def test_create_region_and_supermarket_admin_only(world):
    """Regions and supermarkets are created by an admin only; others are Forbidden and write nothing."""
    before = snapshot()
    for name in ("cadre", "staff", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            regions.create_region(world.users[name], {"name": "新村", "level": "village",
                                                      "parent_id": world.east.id})
        with pytest.raises(Forbidden):
            regions.create_supermarket(world.users[name], {"name": "新超市", "region_id": world.east.id})
        db.session.rollback()
    assert snapshot() == before
    admin = world.users["admin"]
    village = regions.create_region(admin, {"name": "新村", "level": "village", "parent_id": world.east.id})
    sm = regions.create_supermarket(admin, {"name": "新超市", "region_id": village.id})
    db.session.commit()
    assert village.path == f"{world.east.path}{village.id}/"
    assert [(r.user_id, r.object_id) for r in audits_for("region.create")[-1:]] == [(admin.id, village.id)]
    assert [(r.user_id, r.object_id) for r in audits_for("supermarket.create")[-1:]] == [(admin.id, sm.id)]


REGION_CASES = [
    ({"level": "village", "parent_id": "east"}, "name"),
    ({"name": "  ", "level": "village", "parent_id": "east"}, "name"),
    ({"name": "村" * 101, "level": "village", "parent_id": "east"}, "name"),
    ({"name": 5, "level": "village", "parent_id": "east"}, "name"),
    ({"name": "东坪村", "level": "village", "parent_id": "east"}, "name"),
    ({"name": "新村", "parent_id": "east"}, "level"),
    ({"name": "新村", "level": "hamlet", "parent_id": "east"}, "level"),
    ({"name": "新村", "level": "village", "parent_id": "county"}, "level"),
    ({"name": "新村", "level": "village", "parent_id": 987654}, "parent_id"),
    ({"name": "新村", "level": "village", "parent_id": "abc"}, "parent_id"),
    ({"name": "新村", "level": "village", "parent_id": True}, "parent_id"),
    ({"name": "新村", "level": "village", "parent_id": 10**30}, "parent_id"),
]


def test_create_region_bad_input_writes_nothing(world):
    """A bad region (name, level, parent) is a field error and nothing is written."""
    def act(data):
        if data.get("parent_id") in ("east", "county"):
            data = {**data, "parent_id": getattr(world, data["parent_id"]).id}
        regions.create_region(world.users["admin"], data)
    assert_refused(act, REGION_CASES)


SUPERMARKET_CASES = [
    ({"region_id": "east"}, "name"),
    ({"name": "", "region_id": "east"}, "name"),
    ({"name": "超" * 101, "region_id": "east"}, "name"),
    ({"name": "东岭镇爱心超市", "region_id": "east"}, "name"),
    ({"name": "新超市"}, "region_id"),
    ({"name": "新超市", "region_id": 987654}, "region_id"),
    ({"name": "新超市", "region_id": "abc"}, "region_id"),
    ({"name": "新超市", "region_id": "²"}, "region_id"),
    ({"name": "新超市", "region_id": 10**30}, "region_id"),
]


def test_create_supermarket_bad_input_writes_nothing(world):
    """A bad supermarket (name, region) is a field error and nothing is written."""
    def act(data):
        if data.get("region_id") == "east":
            data = {**data, "region_id": world.east.id}
        regions.create_supermarket(world.users["admin"], data)
    assert_refused(act, SUPERMARKET_CASES)


HOUSEHOLD_CASES = [
    ({}, "head_name"),
    ({"head_name": ""}, "head_name"),
    ({"head_name": "   "}, "head_name"),
    ({"head_name": "名" * 51}, "head_name"),
    ({"head_name": 42}, "head_name"),
    ({"head_name": "杜\x00玉梅"}, "head_name"),
    ({"head_name": "甲", "members": "abc"}, "members"),
    ({"head_name": "甲", "members": True}, "members"),
    ({"head_name": "甲", "members": 3.5}, "members"),
    ({"head_name": "甲", "members": 0}, "members"),
    ({"head_name": "甲", "members": 31}, "members"),
    ({"head_name": "甲", "phone": "12345"}, "phone"),
    ({"head_name": "甲", "phone": "12812345678"}, "phone"),
    ({"head_name": "甲", "tags": 5}, "tags"),
    ({"head_name": "甲", "tags": ["不存在"]}, "tags"),
    ({"head_name": "甲", "tags": [1]}, "tags"),
    ({"head_name": "甲", "address": "路" * 201}, "address"),
    ({"head_name": "甲", "village_id": "东坪村"}, "village_id"),
    ({"head_name": "甲", "village_id": None}, "village_id"),
    ({"head_name": "甲", "village_id": "²"}, "village_id"),
    ({"head_name": "甲", "village_id": 1.5}, "village_id"),
]


def test_create_household_bad_input_writes_nothing(world):
    """Bad household input is a field error naming the field, and nothing is written."""
    staff = world.users["staff"]
    assert_refused(lambda d: households.create_household(staff, {"village_id": world.v1.id, **d}),
                   HOUSEHOLD_CASES)


def test_update_household_bad_input_writes_nothing(world):
    """Bad input to an edit is a field error naming the field, and the household is unchanged."""
    staff = world.users["staff"]
    hh_id = world.households["v1a"].id
    cases = [(d, f) for d, f in HOUSEHOLD_CASES if f != "village_id" and d]
    cases.append(({"status": "gone"}, "status"))
    assert_refused(lambda d: households.update_household(staff, hh_id, d), cases)
    assert db.session.get(Household, hh_id).head_name == "杜玉梅"


def test_head_name_stored_as_given(world):
    """head_name is stored exactly as given, rare characters and 50 characters included."""
    name = "喆堃犇" + "名" * 47
    hh = households.create_household(world.users["staff"], {"village_id": world.v1.id, "head_name": name,
                                                            "members": "30", "tags": ["低保", "低保"]})
    db.session.commit()
    db.session.refresh(hh)
    assert hh.head_name == name and hh.members == 30 and hh.tags == ["低保"]


def test_account_acts_are_audited_and_admin_only(world):
    """Issuing and revoking a token, changing a password and disabling an account each leave an audit
    record naming the user; only an admin may disable an account, and never its own."""
    staff, admin = world.users["staff"], world.users["admin"]
    _, token = accounts.issue_token(staff)
    accounts.revoke_token(staff, token)
    accounts.change_password(staff, {"current_password": PASSWORD, "new_password": "another good one"})
    accounts.set_user_active(admin, world.users["donor"].id, False)
    db.session.commit()
    got = [(r.action, r.user_id) for r in audits_for("token.issue")[-1:] + audits_for("token.revoke")
           + audits_for("user.password") + audits_for("user.deactivate")]
    assert got == [("token.issue", staff.id), ("token.revoke", staff.id), ("user.password", staff.id),
                   ("user.deactivate", admin.id)]
    before = snapshot()
    for actor in ("cadre", "staff", "volunteer", "donor"):
        with pytest.raises(Forbidden):
            accounts.set_user_active(world.users[actor], world.users["volunteer"].id, False)
    with pytest.raises(ValidationError):
        accounts.set_user_active(admin, admin.id, False)
    with pytest.raises(NotFound):
        accounts.set_user_active(admin, 10**30, False)
    with pytest.raises(ValidationError):
        accounts.change_password(staff, {"current_password": "wrong", "new_password": "another good one"})
    db.session.rollback()
    assert snapshot() == before and db.session.get(User, world.users["volunteer"].id).active
