"""Checkouts racing against a live server in another process (12 client
threads at once): exact counts, no 5xx, invariants 2, 3, 4 and 6 hold."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Checkout, Household
from app.services.people.accounts import issue_token
from app.services.invariants import check_invariants
from tests.checkout_helpers import card_for, give_points, more_households, stocked
from tests.goods_helpers import level, load_products, receive
from tests.live import race, request_json

THREADS = 12


def tokens(world, user: str, n: int) -> list[str]:
    """One token per client thread, as separate counters would log in."""
    out = [issue_token(world.users[user])[0] for _ in range(n)]
    db.session.commit()
    return out


def soap_buyer(world, quantity: int) -> tuple:
    """(soap, v1a, a volunteer's token, a cart): 50 soaps in stock at the east supermarket, v1a
    with 100 points, and the cart of `quantity` soaps for v1a there."""
    soap = stocked(world, {"香皂": 50})["香皂"]
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    token = tokens(world, "volunteer", 1)[0]
    return soap, hh, token, {"supermarket_id": world.sm_east.id, "household_id": hh.id,
                             "lines": [{"product_id": soap.id, "quantity": quantity}]}


def checkout_call(base, token, body, headers=None):
    return lambda: request_json(base, "POST", "/api/v1/checkouts", token, body, headers)


def statuses(results) -> list[int]:
    assert all(status < 500 for status, _ in results), results
    return sorted(status for status, _ in results)


def test_racing_for_the_last_units(world, live):
    """12 households each buy one of the last 5 bags of rice: exactly 5 succeed, 7 get insufficient-stock."""
    products = stocked(world, {"大米 5kg": 5})
    buyers = more_households(world, THREADS)
    for hh in buyers:
        give_points(world, hh, 100)
    toks = tokens(world, "volunteer", THREADS)
    rice = products["大米 5kg"].id
    with live() as base:
        results = race([checkout_call(base, toks[i], {
            "supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": rice, "quantity": 1}]}) for i, hh in enumerate(buyers)])
    assert statuses(results) == [201] * 5 + [409] * 7
    assert {body["type"] for status, body in results if status == 409} == {"insufficient-stock"}
    db.session.rollback()
    assert level(world.sm_east, products["大米 5kg"]) == 0
    assert sum(db.session.get(Household, hh.id).balance for hh in buyers) == 100 * THREADS - 5 * 50
    assert check_invariants() == []


def test_racing_carts_for_one_household(world, live):
    """Balance 100, twelve 30-point carts at once: exactly 3 succeed, the balance ends at 10, never below."""
    products = stocked(world, {"香皂": 200})
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    payload = card_for(world, "v1a")
    toks = tokens(world, "volunteer", THREADS)
    body = {"supermarket_id": world.sm_east.id, "card_payload": payload,
            "lines": [{"product_id": products["香皂"].id, "quantity": 7}, {"product_id": products["食盐 400g"].id, "quantity": 1}]}
    receive(world, [(products["食盐 400g"], 50)])
    with live() as base:
        results = race([checkout_call(base, t, body) for t in toks])
    assert statuses(results) == [201] * 3 + [409] * 9
    assert {b["type"] for s, b in results if s == 409} == {"insufficient-points"}
    assert sorted(b["balance_after"] for s, b in results if s == 201) == [10, 40, 70]
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 10
    assert level(world.sm_east, products["香皂"]) == 200 - 21
    assert check_invariants() == []


def test_exact_balance_only_one_wins(world, live):
    """Balance 30, twelve 30-point carts: exactly one succeeds (the seed's real systems let five through)."""
    products = stocked(world, {"牙膏 120g": 100})
    hh = world.households["v1b"]
    give_points(world, hh, 30)
    toks = tokens(world, "volunteer", THREADS)
    body = {"supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": products["牙膏 120g"].id, "quantity": 6}]}
    with live() as base:
        results = race([checkout_call(base, t, body) for t in toks])
    assert statuses(results) == [201] + [409] * 11
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 0
    assert check_invariants() == []


def test_retried_confirm_charges_once(world, live):
    """The same confirm sent 12 times at once with one Idempotency-Key: one checkout, charged once."""
    _soap, hh, token, body = soap_buyer(world, 2)
    headers = {"Idempotency-Key": "tablet-7:confirm-0042"}
    with live() as base:
        results = race([checkout_call(base, token, body, headers) for _ in range(THREADS)])
        # and once more after they all finished: the stored answer
        late = request_json(base, "POST", "/api/v1/checkouts", token, body, headers)
    codes = statuses(results)
    assert set(codes) <= {201, 409} and 201 in codes
    ids = {b["id"] for s, b in results if s == 201} | {late[1]["id"]}
    assert late[0] == 201 and len(ids) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 1
    assert db.session.get(Household, hh.id).balance == 92
    assert check_invariants() == []


def test_racing_voids_restore_once(world, live):
    """Twelve voids of one checkout at once: exactly one 200, the rest 409; points and stock come back once."""
    products = stocked(world, {"大米 5kg": 3})
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    token = tokens(world, "volunteer", 1)[0]
    toks = tokens(world, "volunteer", THREADS)
    with live() as base:
        status, body = request_json(base, "POST", "/api/v1/checkouts", token, {
            "supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": products["大米 5kg"].id, "quantity": 2}]})
        assert status == 201
        results = race([(lambda t=t: request_json(base, "POST", f"/api/v1/checkouts/{body['id']}/void", t,
                                                   {"reason": "顾客退回"})) for t in toks])
    assert statuses(results) == [200] + [409] * 11
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 100
    assert level(world.sm_east, products["大米 5kg"]) == 3
    assert check_invariants() == []


def test_revoked_card_never_checks_out(world, live):
    """After a reissue, twelve checkouts with the old card at once all get 410 card-revoked."""
    products = stocked(world, {"香皂": 50})
    give_points(world, world.households["v1a"], 100)
    old = card_for(world, "v1a")
    card_for(world, "v1a")
    toks = tokens(world, "volunteer", THREADS)
    body = {"supermarket_id": world.sm_east.id, "card_payload": old,
            "lines": [{"product_id": products["香皂"].id, "quantity": 1}]}
    with live() as base:
        results = race([checkout_call(base, t, body) for t in toks])
    assert statuses(results) == [410] * THREADS
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 0
    assert db.session.get(Household, world.households["v1a"].id).balance == 100


def test_checkouts_and_voids_of_the_same_goods_at_once(world, live):
    """Six checkouts of two goods and six voids of earlier ones, at once, over lots whose ids interleave the two
    products: no deadlock and no 5xx; every act lands, and stock and points add up exactly."""
    products = load_products()
    soap, salt = products["香皂"], products["食盐 400g"]
    for product in (salt, soap, salt, soap):  # lot ids: salt, soap, salt, soap
        receive(world, [(product, 15)])  # enough for all twelve carts, whatever lands first
    buyers = more_households(world, THREADS)
    for hh in buyers:
        give_points(world, hh, 100)
    toks = tokens(world, "volunteer", THREADS)
    cart = [{"product_id": soap.id, "quantity": 2}, {"product_id": salt.id, "quantity": 1}]
    with live() as base:
        earlier = []
        for i in range(6):
            status, body = request_json(base, "POST", "/api/v1/checkouts", toks[i], {
                "supermarket_id": world.sm_east.id, "household_id": buyers[i].id, "lines": cart})
            assert status == 201, body
            earlier.append(body["id"])
        calls = [checkout_call(base, toks[6 + i], {"supermarket_id": world.sm_east.id,
                                                    "household_id": buyers[6 + i].id, "lines": cart})
                 for i in range(6)]
        calls += [(lambda t=toks[i], c=earlier[i]: request_json(
            base, "POST", f"/api/v1/checkouts/{c}/void", t, {"reason": "顾客退回"})) for i in range(6)]
        results = race(calls)
    assert statuses(results) == [200] * 6 + [201] * 6
    db.session.rollback()
    assert level(world.sm_east, soap) == 30 - 6 * 2 and level(world.sm_east, salt) == 30 - 6 * 1
    total = 2 * soap.points_price + salt.points_price
    assert [db.session.get(Household, hh.id).balance for hh in buyers] == [100] * 6 + [100 - total] * 6
    assert check_invariants() == []


def test_monthly_limit_holds_under_racing_carts(world, live):
    """Limit 60 a month, balance 1000, twelve 30-point carts at once: exactly two succeed, the rest are
    limit-exceeded; the limit is checked under the household's lock, not before it."""
    products = stocked(world, {"食盐 400g": 300})
    salt = products["食盐 400g"]
    hh = world.households["v1a"]
    give_points(world, hh, 1000)
    toks = tokens(world, "volunteer", THREADS)
    body = {"supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": salt.id, "quantity": 30 // salt.points_price}]}
    assert salt.points_price * (30 // salt.points_price) == 30
    with live(FLASK_CHECKOUT_MONTHLY_LIMIT="60") as base:
        results = race([checkout_call(base, t, body) for t in toks])
    assert statuses(results) == [201] * 2 + [422] * 10
    assert {b["type"] for s, b in results if s == 422} == {"limit-exceeded"}
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 1000 - 60
    assert check_invariants() == []


def test_last_units_across_worker_processes(world, live):
    """The last 5 bags of rice, 12 households at once on three gunicorn worker processes (SQLite's
    writers queue across processes): exactly 5 sold, no 5xx, stock and points add up."""
    products = stocked(world, {"大米 5kg": 5})
    buyers = more_households(world, THREADS)
    for hh in buyers:
        give_points(world, hh, 100)
    toks = tokens(world, "volunteer", THREADS)
    rice = products["大米 5kg"]
    with live(workers=3) as base:
        results = race([checkout_call(base, toks[i], {
            "supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": rice.id, "quantity": 1}]}) for i, hh in enumerate(buyers)])
    assert statuses(results) == [201] * 5 + [409] * 7
    db.session.rollback()
    assert level(world.sm_east, rice) == 0
    assert sum(db.session.get(Household, hh.id).balance for hh in buyers) == 100 * THREADS - 5 * rice.points_price
    assert check_invariants() == []
