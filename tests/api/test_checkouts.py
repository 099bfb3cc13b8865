"""POST /api/v1/checkouts and void: points and goods in one act, refusals that write nothing."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Checkout, Household, LedgerEntry, Lot, LotMovement
from app.services.invariants import check_invariants as check_all
from tests.checkout_helpers import card_for, counts, give_points, stocked
from tests.goods_helpers import level, lots_of, receive


def cart(world, products, *items, household="v1a", **extra):
    body = {"supermarket_id": world.sm_east.id,
            "lines": [{"product_id": products[name].id, "quantity": q} for name, q in items]}
    if not any(k in extra for k in ("card_payload", "card_number", "household_id")):
        body["household_id"] = world.households[household].id
    body.update(extra)
    return body


@pytest.fixture
def shop(world):
    products = stocked(world)
    give_points(world, world.households["v1a"], 100)
    return products


def balance(world, key):
    db.session.expire_all()
    return db.session.get(Household, world.households[key].id).balance


def test_checkout_debits_points_and_takes_oldest_lots(client, world, shop):
    """A card scan and two goods: points come off, units leave the oldest lot, each unit is traced to the household."""
    older = lots_of(world.sm_east, shop["香皂"])[0]
    receive(world, [(shop["香皂"], 5)])
    payload = card_for(world, "v1a")
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("大米 5kg", 1), ("香皂", 2), card_payload=payload))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["total_points"] == 50 + 2 * 4 and body["balance_after"] == 42
    assert body["household_id"] == world.households["v1a"].id
    assert {(l["product_id"], l["quantity"], l["points"]) for l in body["lines"]} == {
        (shop["大米 5kg"].id, 1, 50), (shop["香皂"].id, 2, 8)}
    assert balance(world, "v1a") == 42
    assert level(world.sm_east, shop["香皂"]) == 23
    db.session.refresh(older)
    assert older.remaining == 18 and older.redeemed == 2
    moves = db.session.scalars(select(LotMovement).where(LotMovement.checkout_id == body["id"])).all()
    assert sum(m.quantity for m in moves) == 3
    assert {m.household_id for m in moves} == {world.households["v1a"].id}
    assert {m.village_id for m in moves} == {world.v1.id}
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.checkout_id == body["id"])).one()
    assert (entry.kind, entry.points, entry.status) == ("redemption", -58, "posted")
    assert check_all() == []


def test_same_product_on_two_lines_is_merged(client, world, shop):
    """Two lines of one product become one line of their sum."""
    body = cart(world, shop, ("香皂", 1), ("香皂", 2))
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=body)
    assert r.status_code == 201
    assert [(l["product_id"], l["quantity"], l["points"]) for l in r.get_json()["lines"]] == [(shop["香皂"].id, 3, 12)]


def test_typed_card_number_checks_out(client, world, shop):
    """The card number typed at the counter works like a scan."""
    card_for(world, "v1a")
    from app.models import Card
    number = db.session.scalars(select(Card.number)).one()
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("食盐 400g", 1), card_number=f"{number[:4]} {number[4:8]} {number[8:]}"))
    assert r.status_code == 201 and r.get_json()["balance_after"] == 98


@pytest.mark.parametrize("lines, field", [
    ([], "lines"),
    ([{"product_id": 1, "quantity": 0}], "lines.0.quantity"),
    ([{"product_id": 1, "quantity": -1}], "lines.0.quantity"),
    ([{"product_id": 1, "quantity": 1.5}], "lines.0.quantity"),
    ([{"product_id": 1, "quantity": "2"}], "lines.0.quantity"),
    ([{"product_id": 1, "quantity": True}], "lines.0.quantity"),
    ([{"product_id": 99999, "quantity": 1}], "lines"),
    ([{"product_id": "rice", "quantity": 1}], "lines.0.product_id"),
    (["rice"], "lines.0"),
])
def test_bad_carts_are_validation_errors(client, world, shop, lines, field):
    """Empty carts, bad quantities and unknown products: 422 validation-error naming the field, nothing written."""
    before = counts()
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json={"supermarket_id": world.sm_east.id, "household_id": world.households["v1a"].id,
                          "lines": lines})
    assert r.status_code == 422
    problem = r.get_json()
    assert problem["type"] == "validation-error" and field in problem["errors"]
    assert counts() == before and balance(world, "v1a") == 100


def test_refusals_write_nothing(client, world, shop):
    """Each refusal answers its problem type and leaves points, stock and the ledger as they were."""
    headers = world.headers("volunteer")
    rice = ("大米 5kg", 1)
    before = counts()
    stock_before = level(world.sm_east, shop["大米 5kg"])

    def refused(body, status, slug):
        r = client.post("/api/v1/checkouts", headers=headers, json=body)
        assert r.status_code == status, r.get_json()
        assert r.get_json()["type"] == slug
        assert counts() == before
        assert level(world.sm_east, shop["大米 5kg"]) == stock_before

    # Another supermarket than the volunteer's; a household the supermarket does not serve.
    refused(cart(world, shop, rice) | {"supermarket_id": world.sm_west.id}, 404, "not-found")
    refused(cart(world, shop, rice, household="v3a"), 404, "not-found")
    refused(cart(world, shop, rice, card_payload="81" + "1" * 39), 404, "not-found")
    # A revoked card.
    old = card_for(world, "v1a")
    card_for(world, "v1a")
    refused(cart(world, shop, rice, card_payload=old), 410, "card-revoked")
    # Too little stock; too few points.
    refused(cart(world, shop, ("大米 5kg", 11)), 409, "insufficient-stock")
    refused(cart(world, shop, ("大米 5kg", 3)), 409, "insufficient-points")
    # An exited household.
    world.households["v1b"].status = "exited"
    db.session.commit()
    give_points(world, world.households["v1b"], 0 + 10)
    before = counts()
    refused(cart(world, shop, ("食盐 400g", 1), household="v1b"), 422, "household-inactive")
    assert balance(world, "v1a") == 100


def test_refusal_order(client, world, shop):
    """Several faults at once: the first in the contract's order is answered."""
    headers = world.headers("volunteer")
    old = card_for(world, "v1a")
    card_for(world, "v1a")
    # revoked card beats stock and points
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 50), card_payload=old))
    assert r.status_code == 410
    # stock beats points
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 50)))
    assert r.get_json()["type"] == "insufficient-stock"
    # validation beats not-found
    r = client.post("/api/v1/checkouts", headers=headers,
                    json=cart(world, shop, household="v3a") | {"lines": []})
    assert r.status_code == 422


def test_monthly_limit(make_app, world, shop):
    """With CHECKOUT_MONTHLY_LIMIT set, a cart past what is left this month is 422 limit-exceeded."""
    app = make_app(CHECKOUT_MONTHLY_LIMIT=60)
    client = app.test_client()
    headers = world.headers("volunteer")
    first = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 1)))
    assert first.status_code == 201, first.get_json()
    before = counts()
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 3)))
    assert r.status_code == 422 and r.get_json()["type"] == "limit-exceeded"
    assert counts() == before
    assert client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 2))).status_code == 201


def test_refusal_order_with_a_monthly_limit(make_app, world, shop):
    """With a limit: short stock beats the limit, and the limit beats too few points; nothing is written."""
    client = make_app(CHECKOUT_MONTHLY_LIMIT=60).test_client()
    headers = world.headers("volunteer")
    before = counts()
    # 50 bags (10 in stock), past the limit and the balance: stock first
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 50)))
    assert r.get_json()["type"] == "insufficient-stock"
    # 3 bags: 150 points, past the limit (60) and the balance (100): the limit first
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 3)))
    assert r.status_code == 422 and r.get_json()["type"] == "limit-exceeded"
    assert counts() == before and balance(world, "v1a") == 100


def test_roles(client, world, shop):
    """Only volunteers (at their supermarket) and admins check out."""
    for user in ("staff", "cadre", "donor"):
        r = client.post("/api/v1/checkouts", headers=world.headers(user), json=cart(world, shop, ("香皂", 1)))
        assert r.status_code == 403
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer_west"), json=cart(world, shop, ("香皂", 1)))
    assert r.status_code == 404
    assert client.post("/api/v1/checkouts", headers=world.headers("admin"), json=cart(world, shop, ("香皂", 1))).status_code == 201


def test_idempotent_confirm(client, world, shop):
    """A retried confirm returns the first answer and charges once; the key with another cart is 409."""
    headers = world.headers("volunteer") | {"Idempotency-Key": "counter-1-0001"}
    body = cart(world, shop, ("香皂", 2))
    first = client.post("/api/v1/checkouts", headers=headers, json=body)
    again = client.post("/api/v1/checkouts", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert balance(world, "v1a") == 92
    assert len(db.session.scalars(select(Checkout)).all()) == 1
    other = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 3)))
    assert other.status_code == 409 and other.get_json()["type"] == "conflict"
    assert balance(world, "v1a") == 92


def test_retry_that_missed_the_first_answer_is_replayed_not_refused(client, world, shop, monkeypatch):
    """PostgreSQL reads the idempotency lock and the stored answer in one statement, so a first
    request that commits between that statement's snapshot and its lock is not seen. The retry
    then runs the act again; when the act is refused (the first spent the points), the answer
    is the first one replayed, never the refusal, and nothing is written twice."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write transaction is exclusive: a retry always sees the first answer")
    from app.api import idempotency
    headers = world.headers("volunteer") | {"Idempotency-Key": "counter-1-0002"}
    body = cart(world, shop, ("大米 5kg", 2))  # 100 points: all the household has
    first = client.post("/api/v1/checkouts", headers=headers, json=body)
    assert first.status_code == 201
    before = counts()
    # The retry's claim misses the stored answer, as in that window.
    monkeypatch.setattr(idempotency, "_claim_and_read", lambda user_id, key: None)
    again = client.post("/api/v1/checkouts", headers=headers, json=body)
    assert again.status_code == 201, again.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert counts() == before and balance(world, "v1a") == 0
    # A different body under the same key is still 409, the act's refusal notwithstanding.
    other = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 3)))
    assert other.status_code == 409 and other.get_json()["type"] == "conflict"
    assert counts() == before


def test_void_restores_exactly_and_only_once(client, world, shop):
    """Voiding gives back every point and every unit to its own lot, through new entries; a second void is 409."""
    headers = world.headers("volunteer")
    lots_before = {l.id: (l.remaining, l.redeemed) for l in db.session.scalars(select(Lot))}
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("大米 5kg", 1), ("香皂", 4)))
    checkout_id = r.get_json()["id"]
    assert balance(world, "v1a") == 34
    v = client.post(f"/api/v1/checkouts/{checkout_id}/void", headers=headers, json={"reason": "拿错了"})
    assert v.status_code == 200 and v.get_json()["voided_at"]
    assert balance(world, "v1a") == 100
    db.session.expire_all()
    assert {l.id: (l.remaining, l.redeemed) for l in db.session.scalars(select(Lot))} == lots_before
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.checkout_id == checkout_id)
                                 .order_by(LedgerEntry.id)).all()
    assert [(e.kind, e.points, e.status) for e in entries] == [("redemption", -66, "posted"), ("reversal", 66, "posted")]
    again = client.post(f"/api/v1/checkouts/{checkout_id}/void", headers=headers, json={"reason": "再来"})
    assert again.status_code == 409
    assert balance(world, "v1a") == 100
    assert client.post(f"/api/v1/checkouts/{checkout_id}/void", headers=headers, json={}).status_code == 422
    assert check_all() == []


def test_volunteer_voids_same_day_only_cadre_later(client, world, shop):
    """A checkout of an earlier day: the volunteer is refused (403), a cadre may void it."""
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=cart(world, shop, ("香皂", 1)))
    checkout = db.session.get(Checkout, r.get_json()["id"])
    checkout.created_at = checkout.created_at - timedelta(days=2)
    db.session.commit()
    assert client.post(f"/api/v1/checkouts/{checkout.id}/void", headers=world.headers("volunteer"),
                       json={"reason": "x"}).status_code == 403
    assert client.post(f"/api/v1/checkouts/{checkout.id}/void", headers=world.headers("staff"),
                       json={"reason": "x"}).status_code == 403
    assert client.post(f"/api/v1/checkouts/{checkout.id}/void", headers=world.headers("cadre_west"),
                       json={"reason": "x"}).status_code == 404
    assert client.post(f"/api/v1/checkouts/{checkout.id}/void", headers=world.headers("cadre"),
                       json={"reason": "补录错误"}).status_code == 200
    assert balance(world, "v1a") == 100


def test_read_checkout_scope(client, world, shop):
    """A checkout is visible to its supermarket's volunteer and the region's cadre, not to others."""
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"), json=cart(world, shop, ("香皂", 1)))
    cid = r.get_json()["id"]
    assert client.get(f"/api/v1/checkouts/{cid}", headers=world.headers("volunteer")).status_code == 200
    assert client.get(f"/api/v1/checkouts/{cid}", headers=world.headers("cadre")).status_code == 200
    assert client.get(f"/api/v1/checkouts/{cid}", headers=world.headers("volunteer_west")).status_code == 404
    listing = client.get(f"/api/v1/checkouts?supermarket_id={world.sm_east.id}", headers=world.headers("volunteer"))
    assert [c["id"] for c in listing.get_json()["items"]] == [cid]


# -- a household that forgot its card ------------------------------------------------

def set_pin(world, key, pin="482915"):
    from app.services.points.passbook import set_passbook_pin
    set_passbook_pin(world.users["admin"], world.households[key].id, pin)
    db.session.commit()
    return pin


def test_checkout_without_card_is_recorded_so(client, world, shop):
    """By household_id: card_used false and the reason kept; by card: card_used true."""
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("香皂", 1), no_card_reason="lost"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["card_used"] is False and body["no_card_reason"] == "lost"
    again = client.get(f"/api/v1/checkouts/{body['id']}", headers=world.headers("volunteer")).get_json()
    assert again["card_used"] is False and again["no_card_reason"] == "lost"
    plain = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                        json=cart(world, shop, ("香皂", 1)))
    assert plain.status_code == 201 and plain.get_json()["card_used"] is False
    assert plain.get_json()["no_card_reason"] is None
    payload = card_for(world, "v1a")
    by_card = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                          json=cart(world, shop, ("香皂", 1), card_payload=payload))
    assert by_card.status_code == 201 and by_card.get_json()["card_used"] is True
    db.session.expire_all()
    rows = db.session.execute(select(Checkout.card_used, Checkout.no_card_reason).order_by(Checkout.id)).all()
    assert rows == [(False, "lost"), (False, None), (True, None)]


def test_checkout_with_the_passbook_pin(client, world, shop):
    """The household's passbook PIN, right: recorded as 'pin'; wrong, or on a household without
    one: 422 on passbook_pin, nothing written."""
    pin = set_pin(world, "v1a")
    headers = world.headers("volunteer")
    before = counts()
    wrong = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 1), passbook_pin="111222"))
    assert wrong.status_code == 422 and "passbook_pin" in wrong.get_json()["errors"]
    assert counts() == before
    give_points(world, world.households["v1b"], 50)
    none = client.post("/api/v1/checkouts", headers=headers,
                       json=cart(world, shop, ("香皂", 1), household="v1b", passbook_pin=pin))
    assert none.status_code == 422 and "passbook_pin" in none.get_json()["errors"]
    ok = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 1), passbook_pin=pin))
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["card_used"] is False and ok.get_json()["no_card_reason"] == "pin"


@pytest.mark.parametrize("extra, field", [
    ({"no_card_reason": "pin"}, "passbook_pin"),          # 'pin' claimed, no PIN given
    ({"passbook_pin": "12ab56"}, "passbook_pin"),
    ({"no_card_reason": 5}, "no_card_reason"),
    ({"no_card_reason": "x" * 201}, "no_card_reason"),
])
def test_bad_no_card_fields_are_validation_errors(client, world, shop, extra, field):
    before = counts()
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("香皂", 1), **extra))
    assert r.status_code == 422 and r.get_json()["type"] == "validation-error"
    assert field in r.get_json()["errors"]
    assert counts() == before


def test_no_card_reason_with_a_card_is_refused(client, world, shop):
    payload = card_for(world, "v1a")
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("香皂", 1), card_payload=payload, no_card_reason="lost"))
    assert r.status_code == 422 and "no_card_reason" in r.get_json()["errors"]


def test_wrong_pins_are_throttled_per_household(client, world, shop):
    """Five wrong PINs for a household: the sixth try is 429 even with the right PIN; a
    checkout with a reason instead still works, and so do other households."""
    pin = set_pin(world, "v1a")
    headers = world.headers("volunteer")
    for _i in range(5):
        r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 1), passbook_pin="935172"))
        assert r.status_code == 422
    locked = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, ("香皂", 1), passbook_pin=pin))
    assert locked.status_code == 429 and locked.get_json()["type"] == "rate-limited"
    reason = client.post("/api/v1/checkouts", headers=headers,
                         json=cart(world, shop, ("香皂", 1), no_card_reason="at_home"))
    assert reason.status_code == 201
    set_pin(world, "v1b", pin)
    give_points(world, world.households["v1b"], 50)
    other = client.post("/api/v1/checkouts", headers=headers,
                        json=cart(world, shop, ("香皂", 1), household="v1b", passbook_pin=pin))
    assert other.status_code == 201


def test_refusal_order_without_a_card(client, world, shop):
    """validation-error before 404 (a household not served here), 404 before a PIN check."""
    west = world.households["v3a"].id
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, household="v3a"))
    assert r.status_code == 422  # empty cart first
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("香皂", 1), household_id=west, passbook_pin="111222"))
    assert r.status_code == 404


def _due_award(world, key: str, points: int) -> int:
    """A staff award of `points` made six days ago: its notice has ended, and nothing has posted it."""
    from tests.points_helpers import at, award, make_rule, today
    rule = make_rule(f"DUE{points}", points)
    [entry] = award(world, "staff", [key], rule.code, now=at(-6), occurred_on=today(at(-6)))
    assert entry.status == "pending"
    return entry.id


def test_checkout_posts_the_households_due_award_before_it_spends(client, world, shop):
    """Invariant 5 at the counter: an award whose notice has ended counts at the
    checkout, even though the counter's request skips the county-wide posting."""
    entry_id = _due_award(world, "v1a", 50)  # the most without a cadre's approval
    other = _due_award(world, "v1b", 5)
    assert balance(world, "v1a") == 100
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("大米 5kg", 3)))  # 150 points: needs the award's 50
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["balance_after"] == 0
    assert balance(world, "v1a") == 0
    db.session.expire_all()
    assert db.session.get(LedgerEntry, entry_id).status == "posted"
    # Another household's due award is for the next request that may read it (or cron).
    assert db.session.get(LedgerEntry, other).status == "pending"
    assert client.get(f"/api/v1/households/{world.households['v1b'].id}",
                      headers=world.headers("admin")).get_json()["balance"] == 5
    db.session.expire_all()
    assert db.session.get(LedgerEntry, other).status == "posted"
    assert check_all() == []


def test_checkout_refused_for_points_posts_nothing_it_need_not(client, world, shop):
    """Too few points even with the due award counted: 409, and nothing written but the posting."""
    entry_id = _due_award(world, "v1a", 10)
    before = counts()
    r = client.post("/api/v1/checkouts", headers=world.headers("volunteer"),
                    json=cart(world, shop, ("大米 5kg", 3)))
    assert r.status_code == 409 and r.get_json()["type"].endswith("insufficient-points")
    assert "110" in r.get_json()["detail"]  # the balance it tells is the one after the posting
    assert counts() == before
    db.session.expire_all()
    # The refusal rolled back the whole request, the posting with it: it posts on the next ask.
    assert db.session.get(LedgerEntry, entry_id).status == "pending"
    assert balance(world, "v1a") == 100
    assert client.get(f"/api/v1/households/{world.households['v1a'].id}",
                      headers=world.headers("admin")).get_json()["balance"] == 110
    assert check_all() == []


def test_a_volunteers_scan_at_the_till_refuses_in_the_contracts_order(client, world, shop):
    """A volunteer's scan or typed card number reads the till and the card together; the answers
    are still the supermarket's first (not theirs: 404; retired: 409), then the card's (unknown,
    not served here: 404; replaced: 410), then the household's (exited: 422), each in Chinese,
    and nothing is written."""
    from app.models import Card
    from tests.api.problems import assert_problem
    headers = world.headers("volunteer")
    soap = ("香皂", 1)
    here, elsewhere = card_for(world, "v1a"), card_for(world, "v3a")
    number = db.session.scalars(select(Card.number).where(
        Card.household_id == world.households["v1a"].id, Card.status == "active")).one()
    unknown = "81" + "1" * 39
    before = counts()

    def refused(body, status, slug):
        r = client.post("/api/v1/checkouts", headers=headers, json=body)
        assert counts() == before
        return assert_problem(r, status, slug)["detail"]

    # Another supermarket than the volunteer's, with a good card: the supermarket is not found.
    refused(cart(world, shop, soap, card_payload=here) | {"supermarket_id": world.sm_west.id}, 404, "not-found")
    assert "卡" not in refused(cart(world, shop, soap, card_payload=unknown)
                              | {"supermarket_id": world.sm_west.id}, 404, "not-found")
    # An unknown card, a card of a household served elsewhere: not found, and the detail says which.
    no_card = refused(cart(world, shop, soap, card_payload=unknown), 404, "not-found")
    not_served = refused(cart(world, shop, soap, card_payload=elsewhere), 404, "not-found")
    assert no_card != not_served and "卡" in no_card
    assert refused(cart(world, shop, soap, card_number="9" * len(number)), 404, "not-found") == no_card
    # A replaced card; an exited household, by its card and by its typed number.
    card_for(world, "v1a")
    refused(cart(world, shop, soap, card_payload=here), 410, "card-revoked")
    new_number = db.session.scalars(select(Card.number).where(
        Card.household_id == world.households["v1a"].id, Card.status == "active")).one()
    world.households["v1a"].status = "exited"
    db.session.commit()
    refused(cart(world, shop, soap, card_number=new_number), 422, "household-inactive")
    world.households["v1a"].status = "active"
    # A retired supermarket answers before an unknown card.
    world.sm_east.active = False
    db.session.commit()
    assert "停用" in refused(cart(world, shop, soap, card_payload=unknown), 409, "conflict")
    world.sm_east.active = True
    db.session.commit()
    r = client.post("/api/v1/checkouts", headers=headers, json=cart(world, shop, soap, card_number=new_number))
    assert r.status_code == 201 and r.get_json()["card_used"] is True
