"""The world the access matrix probes: two townships, each with what every
route can name, built once through the services. Scope A is the east
township (village 东坪村, its supermarket, donor A); scope B is the west
(village 西沟村, its supermarkets, donor B). The matrix's users all belong to
scope A, so B's objects are the out-of-scope ones."""
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.models import HouseholdTag
from app.services import clock
from app.services.checkout.cards import issue_card
from app.services.checkout.checkouts import check_out
from app.services.goods import donations, pledges, stocktakes, transfers
from app.services.goods import products as goods
from app.services.people.accounts import create_user, issue_token
from app.services.people.regions import create_region, create_supermarket
from app.services.points.awards import adjust_points, award_points
from app.services.points.passbook import set_passbook_pin
from app.services.points.rules import create_rule
from tests.factories import PASSWORD, build_world
from tests.points_helpers import photo

BARCODE = "6901234567892"
PIN = "424242"
# The matrix's roles, in the order of the table's columns; None is anonymous.
ROLES = (None, "admin", "cadre", "staff", "volunteer", "donor")


@dataclass
class AccessWorld:
    objects: dict            # symbolic name -> id or value, for filling URLs
    usernames: dict          # matrix role -> username that logs in
    tokens: dict = field(default_factory=dict)  # matrix role -> API bearer token


def build_access_world() -> AccessWorld:
    """Build scope A and scope B with one of every object a route names."""
    w = build_world()
    admin = w.users["admin"]
    # The matrix's cadre answers for one township, so the west is outside it.
    cadre = create_user(None, {"username": "cadre_east", "password": PASSWORD, "role": "cadre",
                               "region_id": w.east.id})
    donor_b = donations.create_donor(None, {"name": "西坡爱心人士", "kind": "person"})
    db.session.flush()
    donor_b_user = create_user(None, {"username": "donor_west", "password": PASSWORD, "role": "donor",
                                      "donor_id": donor_b.id})
    sm_west2 = create_supermarket(None, {"name": "西沟村爱心超市", "region_id": w.v3.id})
    # Objects only the admin's pages touch, so an admin act on them changes nothing the matrix needs.
    spare_region = create_region(None, {"name": "备用村", "level": "village", "parent_id": w.west.id})
    spare_sm = create_supermarket(None, {"name": "备用爱心超市", "region_id": w.west.id})
    spare_user = create_user(None, {"username": "spare_staff", "password": PASSWORD, "role": "staff",
                                    "region_id": w.v2.id})
    product = goods.create_product(None, {"name": "大米 5kg", "unit": "袋", "points_price": 10,
                                          "barcode": BARCODE})
    soap = goods.create_product(None, {"name": "香皂", "unit": "块", "points_price": 2})
    spare_product = goods.create_product(None, {"name": "备用商品", "unit": "个", "points_price": 1})
    rule = create_rule(None, {"code": "MX-1", "category": "勤劳致富", "name": "打扫庭院", "points": 5,
                              "cap_per_month": None, "needs_evidence": False})
    create_rule(None, {"code": "MX-PHOTO", "category": "勤劳致富", "name": "参加义务劳动", "points": 3,
                       "cap_per_month": None, "needs_evidence": True})
    spare_rule = create_rule(None, {"code": "MX-SPARE", "category": "移风易俗", "name": "备用细则",
                                    "points": 1, "cap_per_month": None, "needs_evidence": False})
    db.session.commit()

    hh_a, hh_a2, hh_b = w.households["v1a"], w.households["v1b"], w.households["v3a"]
    don_a = donations.receive_donation(w.users["volunteer"], {
        "donor_id": w.donor.id, "supermarket_id": w.sm_east.id,
        "lines": [{"product_id": product.id, "quantity": 20}, {"product_id": soap.id, "quantity": 20}]})
    don_b = donations.receive_donation(w.users["volunteer_west"], {
        "donor_id": donor_b.id, "supermarket_id": w.sm_west.id,
        "lines": [{"product_id": product.id, "quantity": 20}, {"product_id": soap.id, "quantity": 20}]})
    cash_a = donations.record_cash_donation(w.users["volunteer"], {
        "donor_id": w.donor.id, "supermarket_id": w.sm_east.id, "amount": "500.00"})
    cash_b = donations.record_cash_donation(w.users["volunteer_west"], {
        "donor_id": donor_b.id, "supermarket_id": w.sm_west.id, "amount": "500.00"})
    for hh in (hh_a, hh_a2, hh_b):
        adjust_points(admin, hh.id, {"points": 100, "reason": "期初余额"})
    db.session.commit()
    # The scanned card and the passbook are A's second household's, so the rows
    # that issue a card to the first one (revoking its old card) leave them be.
    card_a2 = issue_card(admin, hh_a2.id)
    card_b = issue_card(admin, hh_b.id)
    for hh in (hh_a, w.households["v2a"]):  # a card to print on every household a row names
        issue_card(admin, hh.id)
    set_passbook_pin(admin, hh_a2.id, PIN)
    co_a = check_out(w.users["volunteer"], {"supermarket_id": w.sm_east.id, "household_id": hh_a.id,
                                            "lines": [{"product_id": soap.id, "quantity": 1}]})
    co_b = check_out(w.users["volunteer_west"], {"supermarket_id": w.sm_west.id, "household_id": hh_b.id,
                                                 "lines": [{"product_id": soap.id, "quantity": 1}]})
    tr_a = transfers.transfer_stock(w.users["volunteer"], {
        "from_supermarket_id": w.sm_east.id, "to_supermarket_id": w.sm_west.id,
        "product_id": soap.id, "quantity": 1})
    tr_b = transfers.transfer_stock(w.users["volunteer_west"], {
        "from_supermarket_id": w.sm_west.id, "to_supermarket_id": sm_west2.id,
        "product_id": soap.id, "quantity": 1})
    today = clock.local_today().isoformat()
    (entry_a,) = award_points(w.users["staff"], {"household_ids": [hh_a.id], "rule_code": rule.code,
                                                 "occurred_on": today})
    (entry_b,) = award_points(w.users["staff_west"], {"household_ids": [hh_b.id], "rule_code": rule.code,
                                                      "occurred_on": today})
    (photo_a,) = award_points(w.users["staff"], {"household_ids": [hh_a.id], "rule_code": "MX-PHOTO",
                                                 "occurred_on": today}, photo(64, 48))
    (photo_b,) = award_points(w.users["staff_west"], {"household_ids": [hh_b.id], "rule_code": "MX-PHOTO",
                                                      "occurred_on": today}, photo(64, 48))
    pledge_a = pledges.create_pledge(w.users["donor"], {
        "supermarket_id": w.sm_east.id, "lines": [{"product_id": product.id, "quantity": 5}]})
    pledge_b = pledges.create_pledge(donor_b_user, {
        "supermarket_id": w.sm_west.id, "lines": [{"product_id": product.id, "quantity": 5}]})
    # Last: an open stocktake holds its supermarket's stock still.
    st_a = stocktakes.start_stocktake(w.users["volunteer"], w.sm_east.id)
    st_b = stocktakes.start_stocktake(w.users["volunteer_west"], w.sm_west.id)
    db.session.commit()

    tag = db.session.scalars(select(HouseholdTag).order_by(HouseholdTag.id)).first()
    objects = {
        "household_a": hh_a.id, "household_b": hh_b.id,
        "village_a": w.v1.id, "village_b": w.v3.id,
        # The east's other village: the cadre's, not the staff's.
        "household_n": w.households["v2a"].id, "village_n": w.v2.id,
        "township_a": w.east.id, "township_b": w.west.id,
        "supermarket_a": w.sm_east.id, "supermarket_b": w.sm_west.id,
        "donor_a": w.donor.id, "donor_b": donor_b.id,
        "donation_a": don_a.id, "donation_b": don_b.id, "cash_a": cash_a.id, "cash_b": cash_b.id,
        "public_code_a": don_a.public_code, "public_code_b": don_b.public_code,
        "checkout_a": co_a.id, "checkout_b": co_b.id,
        "entry_a": entry_a.id, "entry_b": entry_b.id,
        "evidence_a": photo_a.evidence_id, "evidence_b": photo_b.evidence_id,
        "pledge_a": pledge_a.id, "pledge_b": pledge_b.id,
        "stocktake_a": st_a.id, "stocktake_b": st_b.id,
        "transfer_a": tr_a.id, "transfer_b": tr_b.id,
        "card_a": card_a2.number, "card_b": card_b.number, "pin": PIN,
        "product": product.id, "barcode": BARCODE, "spare_product": spare_product.id,
        "spare_rule": spare_rule.code, "spare_region": spare_region.id,
        "spare_supermarket": spare_sm.id, "spare_user": spare_user.id,
        # What no answer to a user of scope A may show: B's household, B's donation receipt.
        "household_b_name": hh_b.head_name, "household_b_code": hh_b.code, "donation_b_receipt": don_b.receipt_no,
        "tag": tag.id, "one": 1, "today": today, "month": today[:7], "lang": "en", "static_file": "css/app.css",
    }
    usernames = {"admin": "admin", "cadre": cadre.username, "staff": "staff",
                 "volunteer": "volunteer", "donor": "donor"}
    world = AccessWorld(objects, usernames)
    for role, username in usernames.items():
        user = cadre if role == "cadre" else w.users[username]
        world.tokens[role], _ = issue_token(user)
    db.session.commit()
    return world
