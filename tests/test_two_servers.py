"""Two app servers on one PostgreSQL database, as a county runs behind a load
balancer: two gunicorn instances (each its own worker processes and connection pool, its
own instance folder, as on two machines) and clients alternating between them.
The races stay exact, an Idempotency-Key holds across servers, and the login,
PIN and public-trace throttles count in the limiter's shared storage (Redis)."""
import http.cookiejar
import os
import re
import secrets
import socket
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Checkout, Household, LedgerEntry
from app.services.invariants import check_invariants
from tests.checkout_helpers import give_points, more_households, stocked
from tests.factories import PASSWORD
from tests.goods_helpers import level, receive
from tests.live import ServerProcess, free_port, race, request_json
from tests.points_helpers import award, make_rule, post_json, today
from tests.test_checkout_races import THREADS, checkout_call, soap_buyer, statuses, tokens

REDIS_URL = os.environ.get("AIXIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
def redis_prefix(app):
    """The limiter's key prefix for this test in the shared Redis database; its keys are
    deleted before and after (not the whole database: another run may share it)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two app servers share a PostgreSQL database; SQLite is one machine's file")
    try:
        import redis
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        client.ping()
    except Exception as err:  # no client library, nothing listening, refused
        message = f"no Redis at {REDIS_URL} for the limiter's shared storage ({err})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    prefix = f"aixin-test-{os.getpid()}-{secrets.token_hex(4)}"

    def clear():
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)

    clear()
    yield prefix
    clear()
    client.close()


@pytest.fixture
def two_servers(database_url, tmp_path, app, redis_prefix):
    """`with two_servers() as (a, b):` two gunicorn instances on this test's database,
    started at once, sharing the limiter's counts in Redis. Build the data first. One
    worker each by default (each start costs a worker's import of the app; the races
    between worker processes of one server are tests/test_checkout_races.py's)."""

    @contextmanager
    def start(workers: int = 1, **env):
        env = {"FLASK_RATELIMIT_STORAGE_URI": REDIS_URL, "FLASK_RATELIMIT_KEY_PREFIX": redis_prefix, **env}
        servers = [ServerProcess(database_url, str(tmp_path / f"server-{name}"), kind="gunicorn",
                                 workers=workers, env=env) for name in "ab"]
        try:
            bases = race([server.start for server in servers])
            failed = [b for b in bases if isinstance(b, Exception)]
            if failed:
                raise failed[0]
            yield bases
        finally:
            race([server.stop for server in servers])

    return start


def ledger_check_is_clean(app) -> None:
    db.session.rollback()
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "ledger check: ok" in result.output, result.output


# -- checkouts ---------------------------------------------------------------------------

def test_stock_and_balance_races_across_two_servers(app, world, two_servers):
    """At once, alternating between the two servers: 12 households race for the last 5 bags of rice (exactly 5 sold, 7 insufficient-stock)
    and twelve 30-point carts race for one household's 100 points (exactly 3 succeed, the
    balance ends at 10); stock and points add up and the ledger checks clean."""
    products = stocked(world, {"大米 5kg": 5, "香皂": 200})
    rice, soap, salt = products["大米 5kg"], products["香皂"], products["食盐 400g"]
    receive(world, [(salt, 50)])
    buyers = more_households(world, THREADS)
    for hh in buyers:
        give_points(world, hh, 100)
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    toks = tokens(world, "volunteer", 2 * THREADS)
    sm = world.sm_east.id
    cart = {"supermarket_id": sm, "household_id": hh.id,
            "lines": [{"product_id": soap.id, "quantity": 7}, {"product_id": salt.id, "quantity": 1}]}
    assert 7 * soap.points_price + salt.points_price == 30
    with two_servers() as bases:
        calls = [checkout_call(bases[i % 2], toks[i], {"supermarket_id": sm, "household_id": buyer.id,
                                                       "lines": [{"product_id": rice.id, "quantity": 1}]})
                 for i, buyer in enumerate(buyers)]
        calls += [checkout_call(bases[i % 2], toks[THREADS + i], cart) for i in range(THREADS)]
        results = race(calls)
    for_stock, for_points = results[:THREADS], results[THREADS:]
    assert statuses(for_stock) == [201] * 5 + [409] * 7
    assert {body["type"] for status, body in for_stock if status == 409} == {"insufficient-stock"}
    assert statuses(for_points) == [201] * 3 + [409] * 9
    assert {b["type"] for s, b in for_points if s == 409} == {"insufficient-points"}
    assert sorted(b["balance_after"] for s, b in for_points if s == 201) == [10, 40, 70]
    db.session.rollback()
    assert level(world.sm_east, rice) == 0
    assert sum(db.session.get(Household, b.id).balance for b in buyers) == 100 * THREADS - 5 * rice.points_price
    assert db.session.get(Household, hh.id).balance == 10
    assert check_invariants() == []
    ledger_check_is_clean(app)


def test_one_idempotency_key_sent_to_both_servers(app, world, two_servers):
    """The same confirm with one Idempotency-Key, 12 times at once to both servers and once more
    afterwards to each: one checkout, charged once, every 201 the same checkout."""
    soap, hh, token, body = soap_buyer(world, 2)
    headers = {"Idempotency-Key": "tablet-7:confirm-0042"}
    with two_servers() as bases:
        results = race([checkout_call(bases[i % 2], token, body, headers) for i in range(THREADS)])
        late = [request_json(base, "POST", "/api/v1/checkouts", token, body, headers) for base in bases]
    codes = statuses(results)
    assert set(codes) <= {201, 409} and 201 in codes
    assert [status for status, _ in late] == [201, 201]
    assert len({b["id"] for s, b in results + late if s == 201}) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 1
    assert db.session.get(Household, hh.id).balance == 100 - 2 * soap.points_price
    ledger_check_is_clean(app)


# -- awards ------------------------------------------------------------------------------

def test_cap_of_one_and_a_reversal_raced_across_two_servers(app, world, two_servers):
    """On both servers at once: twelve awards of a cap-1 rule to one household (exactly one 201,
    the rest cap-exceeded) and ten reversals of one posted entry (exactly one 201, the rest 409)."""
    make_rule("T-CAP1", 5, cap=1)
    make_rule("T-A", 10)
    app.config["POINTS_NOTICE_DAYS"] = 0
    [entry] = award(world, "staff", ["v1b"], "T-A")
    staff = [world.token("staff"), world.token("staff_east")]
    reversers = [world.token("cadre"), world.token("admin")]
    body = {"household_ids": [world.households["v1a"].id], "rule_code": "T-CAP1", "occurred_on": today()}
    url = f"/api/v1/entries/{entry.id}/reverse"
    with two_servers() as bases:
        awards = [lambda i=i: post_json(bases[i % 2], "/api/v1/awards", staff[i % 2], body)
                  for i in range(THREADS)]
        reversals = [lambda i=i: post_json(bases[(i // 2) % 2], url, reversers[i % 2], {"reason": f"撤销 {i}"})
                     for i in range(10)]
        results = race(awards + reversals)
    assert all(not isinstance(r, Exception) and r[0] < 500 for r in results), results
    got, undone = results[:THREADS], results[THREADS:]
    assert sorted(status for status, _ in got) == [201] + [422] * (THREADS - 1)
    assert {b["type"] for status, b in got if status == 422} == {"cap-exceeded"}
    assert sorted(status for status, _ in undone) == [201] + [409] * 9
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(LedgerEntry.rule_code == "T-CAP1")) == 1
    assert db.session.scalar(select(func.count()).where(LedgerEntry.reversal_of == entry.id)) == 1
    assert check_invariants() == []
    ledger_check_is_clean(app)


# -- throttles and tokens ----------------------------------------------------------------

def passbook_browser(base: str):
    """A browser's cookies and the passbook form's CSRF token (read from `base`), and a
    function posting a card number and PIN to /passbook on any server: (status, page)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(base + "/passbook", timeout=30) as r:
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', r.read().decode()).group(1)

    def attempt(server: str, number: str, pin: str) -> tuple[int, str]:
        data = urllib.parse.urlencode({"csrf_token": csrf, "card_number": number, "pin": pin}).encode()
        try:
            with opener.open(server + "/passbook", data=data, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    return attempt


def test_throttles_and_revocation_hold_across_two_servers(app, world, two_servers):
    """Failures spread over both servers are counted together in Redis: the 11th login for a
    username is 429 on either server, a correct password too; the 6th wrong passbook PIN for a
    household at the counter, the 6th wrong PIN for a card on the public passbook page and the
    31st unknown trace code likewise; a token revoked on one server stops
    working on the other at once."""
    from app.services.checkout.cards import issue_card
    from app.services.points.passbook import set_passbook_pin

    products = stocked(world, {"香皂": 50})
    hh = world.households["v1a"]
    give_points(world, hh, 100)
    set_passbook_pin(world.users["admin"], hh.id, "482915")
    card = issue_card(world.users["admin"], hh.id)
    db.session.commit()
    volunteer = tokens(world, "volunteer", 2)
    cart = {"supermarket_id": world.sm_east.id, "household_id": hh.id,
            "lines": [{"product_id": products["香皂"].id, "quantity": 1}]}

    def login(base, password):
        return request_json(base, "POST", "/api/v1/auth/token", "", {"username": "staff", "password": password})

    with two_servers() as (a, b):
        # Login: ten failures for one username, alternating.
        assert [login((a, b)[i % 2], "wrong password!")[0] for i in range(10)] == [401] * 10
        status, body = login(a, "wrong password!")
        assert status == 429 and body["type"] == "rate-limited"
        assert login(b, PASSWORD)[0] == 429
        assert request_json(a, "POST", "/api/v1/auth/token", "",
                            {"username": "cadre", "password": PASSWORD})[0] == 201
        # The counter's passbook PIN: five wrong for the household, then even the right one waits.
        for i in range(5):
            status, body = request_json((a, b)[i % 2], "POST", "/api/v1/checkouts", volunteer[i % 2],
                                        {**cart, "passbook_pin": "935172"})
            assert status == 422 and "passbook_pin" in body["errors"], body
        assert request_json(b, "POST", "/api/v1/checkouts", volunteer[0],
                            {**cart, "passbook_pin": "482915"})[0] == 429
        # The household's own passbook page: five wrong PINs for the card, then the right one waits.
        attempt = passbook_browser(a)
        status, page = attempt(b, card.number, "482915")  # the form read from one, sent to the other
        assert status == 200 and hh.head_name in page
        for i in range(5):
            status, page = attempt((a, b)[i % 2], card.number, "000111")
            assert status == 200 and "flash-error" in page
        assert attempt(b, card.number, "482915")[0] == 429
        # The public trace: thirty unknown codes from this client, then every trace waits.
        misses = [request_json((a, b)[i % 2], "GET", f"/api/v1/public/trace/nope{i:04d}", "")[0]
                  for i in range(30)]
        assert misses == [404] * 30
        assert request_json(a, "GET", "/api/v1/public/trace/nope9999", "")[0] == 429
        # A token revoked on one server no longer opens the other.
        assert request_json(b, "GET", "/api/v1/supermarkets", volunteer[1])[0] == 200
        assert request_json(a, "DELETE", "/api/v1/auth/token", volunteer[1])[0] == 204
        assert request_json(b, "GET", "/api/v1/supermarkets", volunteer[1])[0] == 401
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 100


@pytest.mark.parametrize("redis", ["refused", "silent"])
def test_redis_away_the_counter_still_sells_and_logins_still_count(world, live, redis):
    """With the limiter's Redis refusing connections or not answering at all, a checkout
    without a PIN and a login still go through (no 500, no hang), and failed logins are
    counted in the server's own memory meanwhile."""
    soap, hh, token, cart = soap_buyer(world, 1)
    silent = socket.socket()  # takes connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1] if redis == "silent" else free_port()
    with silent, live(FLASK_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0") as base:
        assert request_json(base, "POST", "/api/v1/checkouts", token, cart)[0] == 201
        assert request_json(base, "POST", "/api/v1/auth/token", "",
                            {"username": "staff", "password": PASSWORD})[0] == 201
        failures = [request_json(base, "POST", "/api/v1/auth/token", "",
                                 {"username": "cadre", "password": "wrong password!"})[0] for _ in range(11)]
        assert request_json(base, "POST", "/api/v1/checkouts", token, cart)[0] == 201
    assert failures == [401] * 10 + [429]
    db.session.rollback()
    assert db.session.get(Household, hh.id).balance == 100 - 2 * soap.points_price
