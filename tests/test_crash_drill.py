"""The crash drill (issue 12): checkouts and awards stream from eight client
threads into a live server, which is SIGKILLed (every process at once) with
requests in flight and started again on the same database and instance
folder. Nothing acknowledged is lost, nothing is half-written, a request that
was in flight is written exactly once when its Idempotency-Key is replayed,
and `flask ledger check` passes. Two crashes in a row: the threaded server
(`flask run`), restarted as gunicorn's sync workers (the README's
production), which are killed in turn; on SQLite and on PostgreSQL."""
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from itertools import count

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import (
    AuditRecord, Checkout, CheckoutLine, Household, IdempotencyKey, LedgerEntry, Lot, LotMovement,
)
from app.services.invariants import check_invariants
from tests.checkout_helpers import card_for, give_points, more_households
from tests.goods_helpers import level, load_products, receive
from tests.live import ROOT, ServerProcess
from tests.points_helpers import make_rule, today

LOAD_SECONDS = 1.5
CHECKOUT_CLIENTS = 5
AWARD_CLIENTS = 3
HOUSEHOLDS = 12
OPENING = 500
RULE, RULE_POINTS = "T-DRILL", 5
GOODS = {"酱油 500ml": 400, "食盐 400g": 400, "香皂": 400, "牙膏 120g": 400, "挂面 1kg": 400}


@dataclass
class Sent:
    """One write a client thread sent, and what came of it."""
    kind: str  # checkout | award
    token: str
    path: str
    body: dict
    key: str
    status: int | None = None
    answer: dict | None = None
    error: Exception | None = None

    @property
    def ids(self) -> list[int]:
        """The checkout's id, or the award's entry ids, from its answer."""
        return [self.answer["id"]] if self.kind == "checkout" else [e["id"] for e in self.answer["items"]]


@dataclass
class Round:
    """What the clients saw of one stream that ended in a SIGKILL."""
    server: str
    killed: int = 0
    acknowledged: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # 4xx: nothing written, no key stored
    in_flight: list = field(default_factory=list)  # sent, and the server died before answering
    not_sent: int = 0  # connection refused: the server was already gone
    committed_in_flight: int = 0
    written_on_replay: int = 0

    def line(self) -> str:
        kinds = Counter(s.kind for s in self.acknowledged)
        return (f"{self.server}: SIGKILL to {self.killed} process(es) after {LOAD_SECONDS} s; acknowledged "
                f"{len(self.acknowledged)} ({kinds['checkout']} checkouts, {kinds['award']} awards), "
                f"refused {len(self.refused)}, in flight {len(self.in_flight)} (committed before the kill "
                f"{self.committed_in_flight}, written on replay {self.written_on_replay}), lost 0, "
                f"not sent {self.not_sent}")


def send(base: str, sent: Sent, timeout: float = 30):
    """POST with the Idempotency-Key; (status, body, replayed?). Network errors raise."""
    req = urllib.request.Request(base + sent.path, method="POST", data=json.dumps(sent.body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {sent.token}",
                                          "Idempotency-Key": sent.key})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read()), r.headers.get("Idempotent-Replayed") == "true"
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"null"), False
        except ValueError:  # not the API's problem+json (a proxy's or server's own page)
            return err.code, raw.decode(errors="replace"), False


def stream(base: str, make, stop: threading.Event, log: list) -> None:
    """Send writes one after the other until told to stop; record each outcome."""
    while not stop.is_set():
        sent = make()
        log.append(sent)
        try:
            sent.status, sent.answer, _ = send(base, sent)
        except (OSError, http.client.HTTPException, ValueError) as err:  # the kill: reset, cut short, refused
            sent.error = err
            return


def load_and_kill(server: ServerProcess, makers) -> Round:
    """Stream writes from one thread per maker, SIGKILL the server mid-stream, sort the outcomes."""
    logs = [[] for _ in makers]
    stop = threading.Event()
    threads = [threading.Thread(target=stream, args=(server.base, make, stop, log))
               for make, log in zip(makers, logs)]
    for t in threads:
        t.start()
    crash = Round(server.kind, killed=len(server.pids()))
    assert crash.killed == (1 + server.workers if server.kind == "gunicorn" else 1)  # master and workers
    time.sleep(LOAD_SECONDS)
    server.kill()
    stop.set()  # a thread that was between two writes finds the server gone: not sent
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    for sent in (s for log in logs for s in log):
        if sent.error is not None:
            if isinstance(getattr(sent.error, "reason", None), ConnectionRefusedError):
                crash.not_sent += 1
            else:
                crash.in_flight.append(sent)
        elif sent.status in (200, 201):
            crash.acknowledged.append(sent)
        else:
            crash.refused.append(sent)
    assert not [s for s in crash.refused if s.status >= 500], [(s.status, s.answer) for s in crash.refused]
    assert crash.in_flight, "the kill found no request in flight: the drill proved nothing"
    assert len(crash.acknowledged) >= 10
    return crash


def restart_and_check(server: ServerProcess, kind: str) -> str:
    """Start the server again on the same database and folder; meanwhile `flask ledger check`
    runs as an operator would (its own process, the server's environment) on the database
    exactly as the crash left it, and must say ok."""
    app_ref = f"app:create_app(instance_path={server.instance_path!r})"
    check = subprocess.Popen([sys.executable, "-m", "flask", "--app", app_ref, "ledger", "check"],
                             cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        base = server.start(kind)
    finally:
        out, err = check.communicate(timeout=120)
    assert check.returncode == 0 and "ledger check: ok" in out, out + err
    return base


def settle() -> None:
    """PostgreSQL: wait until the dead server's sessions are gone. A COMMIT it sent just before
    the kill still lands (that write was in flight, and is found on replay); the database
    is read as the crash left it only once nothing of the server is still running."""
    if db.engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 15
    busy = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle' AND backend_type = 'client backend'")
    while True:
        db.session.rollback()
        if not db.session.scalar(busy) or time.monotonic() > deadline:
            db.session.rollback()
            return
        time.sleep(0.05)


def assert_acknowledged_whole(crash: Round) -> set[str]:
    """Every write the clients were told of is in the database as they were told it, with its
    stored Idempotency-Key answer; no refused request left a key. The keys stored."""
    db.session.rollback()
    checkouts = {c.id: c for c in db.session.scalars(select(Checkout))}
    entries = set(db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.rule_code == RULE)))
    lost = [s.key for s in crash.acknowledged
            if not set(s.ids) <= (set(checkouts) if s.kind == "checkout" else entries)]
    assert lost == []
    for s in crash.acknowledged:
        if s.kind == "checkout":
            c = checkouts[s.answer["id"]]
            assert (c.household_id, c.total_points, c.balance_after) == \
                (s.answer["household_id"], s.answer["total_points"], s.answer["balance_after"])
    keys = {k.key: json.loads(k.body) for k in db.session.scalars(select(IdempotencyKey))}
    assert [s.key for s in crash.acknowledged if keys.get(s.key) != s.answer] == []
    assert [s.key for s in crash.refused if s.key in keys] == []
    return set(keys)


def replay_in_flight(base: str, crash: Round, keys: set[str]) -> None:
    """Each request that was in flight, sent again with its key: the stored answer if it had
    committed before the kill, else written now; a second replay gives the same answer."""
    for sent in crash.in_flight:
        deadline = time.monotonic() + 10
        while True:  # PostgreSQL may not yet have ended a dead client's session, which holds the key
            status, answer, replayed = send(base, sent)
            if status != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 201, answer
        assert replayed == (sent.key in keys)
        crash.committed_in_flight += replayed
        crash.written_on_replay += not replayed
        assert send(base, sent) == (201, answer, True)
        sent.status, sent.answer = status, answer
    for sent in crash.acknowledged[:3] + crash.acknowledged[-3:]:
        assert send(base, sent) == (sent.status, sent.answer, True)


def assert_nothing_half_written(buyers, products) -> None:
    """What `flask ledger check` does not look at: no orphan redemption entry or lot
    movement, one audit record per act, and stock and balances add up from the acts alone."""
    db.session.rollback()
    checkouts = db.session.scalars(select(Checkout)).all()
    assert all(c.entry_id is not None and c.lines for c in checkouts)
    orphans = db.session.scalars(select(LedgerEntry.id).where(
        LedgerEntry.kind == "redemption",
        ~select(Checkout.id).where(Checkout.entry_id == LedgerEntry.id,
                                   Checkout.household_id == LedgerEntry.household_id).exists())).all()
    assert orphans == []
    # A redemption movement's checkout_id has no foreign key: it must still name a checkout.
    strays = db.session.scalars(select(LotMovement.id).where(
        LotMovement.kind == "redemption",
        ~select(Checkout.id).where(Checkout.id == LotMovement.checkout_id,
                                   Checkout.household_id == LotMovement.household_id).exists())).all()
    assert strays == []
    audited = Counter(db.session.scalars(select(AuditRecord.object_id)
                                         .where(AuditRecord.action == "checkout.create")))
    assert audited == Counter(c.id for c in checkouts)
    awards = db.session.scalars(select(LedgerEntry).where(LedgerEntry.rule_code == RULE)).all()
    audited = Counter(db.session.scalars(select(AuditRecord.object_id)
                                         .where(AuditRecord.action == "points.award")))
    assert audited == Counter(e.id for e in awards)
    assert all(e.status == "posted" for e in awards)
    for name, received in GOODS.items():
        sold = db.session.scalar(select(func.coalesce(func.sum(CheckoutLine.quantity), 0))
                                 .where(CheckoutLine.product_id == products[name].id))
        on_shelf = db.session.scalar(select(func.sum(Lot.remaining)).where(Lot.product_id == products[name].id))
        assert (name, on_shelf) == (name, received - sold)
    for hh in buyers:
        awarded = RULE_POINTS * sum(1 for e in awards if e.household_id == hh.id)
        spent = sum(c.total_points for c in checkouts if c.household_id == hh.id)
        assert (hh.id, db.session.get(Household, hh.id).balance) == (hh.id, OPENING + awarded - spent)


def test_sigkill_mid_stream_twice_loses_nothing_acknowledged(world, database_url, tmp_path):
    """SIGKILL the threaded server, then gunicorn's master and workers, each amid 8 threads of
    checkouts and single and batch awards: after each restart every acknowledged write is there,
    nothing is half-written, the ledger checks ok, each in-flight write lands exactly once on
    replay, and the restarted server sells by card correctly."""
    started = time.monotonic()
    products = load_products()
    receive(world, [(products[name], n) for name, n in GOODS.items()])
    make_rule(RULE, RULE_POINTS)
    buyers = more_households(world, HOUSEHOLDS)
    for hh in buyers:
        give_points(world, hh, OPENING)
    payload = card_for(world, "v1a")
    give_points(world, world.households["v1a"], 100)
    sellers = [world.token("volunteer") for _ in range(CHECKOUT_CLIENTS)]
    awarders = [world.token("staff") for _ in range(AWARD_CLIENTS)]
    # Plain values: the client threads have no app context.
    goods, hids, market, day = [products[n].id for n in GOODS], [h.id for h in buyers], world.sm_east.id, today()
    serial = count()

    def seller(token, rnd):
        return lambda: Sent("checkout", token, "/api/v1/checkouts", {
            "supermarket_id": market, "household_id": rnd.choice(hids),
            "lines": [{"product_id": p, "quantity": rnd.randint(1, 2)}
                      for p in rnd.sample(goods, rnd.randint(1, 2))]}, f"drill/checkout/{next(serial)}")

    def awarder(token, rnd):  # a single award or a batch of three
        return lambda: Sent("award", token, "/api/v1/awards", {
            "household_ids": rnd.sample(hids, rnd.choice([1, 3])), "rule_code": RULE,
            "occurred_on": day}, f"drill/award/{next(serial)}")

    makers = [seller(t, random.Random(i)) for i, t in enumerate(sellers)]
    makers += [awarder(t, random.Random(100 + i)) for i, t in enumerate(awarders)]
    db.session.rollback()
    server = ServerProcess(database_url, str(tmp_path / "drill-instance"),
                           env={"FLASK_POINTS_NOTICE_DAYS": "0"})
    crashes = []
    try:
        server.start("threaded")
        for next_kind in ("gunicorn", "threaded"):
            crash = load_and_kill(server, makers)
            crashes.append(crash)
            settle()
            keys = assert_acknowledged_whole(crash)
            assert check_invariants() == []
            assert_nothing_half_written(buyers, products)
            base = restart_and_check(server, next_kind)
            replay_in_flight(base, crash, keys)

        # Exactly the acts the clients were told of: none lost, none twice, none unasked for.
        db.session.rollback()
        told = [s for crash in crashes for s in crash.acknowledged + crash.in_flight]
        assert Counter(db.session.scalars(select(Checkout.id))) == \
            Counter(i for s in told if s.kind == "checkout" for i in s.ids)
        assert Counter(db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.rule_code == RULE))) == \
            Counter(i for s in told if s.kind == "award" for i in s.ids)
        assert_nothing_half_written(buyers, products)

        # The restarted server sells by card, correctly.
        v1a = world.households["v1a"]
        before = db.session.get(Household, v1a.id).balance
        salt = products["食盐 400g"]
        shelf = level(world.sm_east, salt)
        status, answer, _ = send(base, Sent("checkout", sellers[0], "/api/v1/checkouts", {
            "supermarket_id": market, "card_payload": payload,
            "lines": [{"product_id": salt.id, "quantity": 3}]}, "drill/after-restart"))
        assert status == 201 and answer["card_used"] is True
        assert answer["balance_after"] == before - 3 * salt.points_price
        db.session.rollback()
        assert db.session.get(Household, v1a.id).balance == answer["balance_after"]
        assert level(world.sm_east, salt) == shelf - 3
        assert check_invariants() == []
    finally:
        server.stop()
    print(f"\ncrash drill [{db.engine.dialect.name}], {time.monotonic() - started:.1f} s:\n  "
          + "\n  ".join(crash.line() for crash in crashes))
