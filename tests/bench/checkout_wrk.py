"""The checkout under wrk, served as the README says, against the raw-SQL floor
for the same writes, in one run.

    python tests/bench/checkout_wrk.py --db postgresql
    python tests/bench/checkout_wrk.py --db sqlite
    python tests/bench/checkout_wrk.py --db postgresql --rounds 3 --duration 10 --levels 1,8,32

Issue 13's load: one 5-point item (牙膏) for a random household of 300, each
with plenty of points and a card. The script builds the demo county
(`build_demo`, --households, a year of points) into a fresh database
(PostgreSQL: a throwaway database on --pg, dropped at the end), starts
`gunicorn -w N wsgi:app` from the project's root with the configuration in
the environment, as the README tells users to (N: 2 on SQLite, 4 on
PostgreSQL), and drives POST /api/v1/checkouts with wrk (a Lua script
written at run time: a volunteer's bearer token per wrk thread, a random
card payload of the 300, a unique Idempotency-Key per request) at 1, 8
and 32 connections for --duration seconds each. wrk is written in C: a
Python load generator on a 2-core machine takes the server's CPU.

After each level: `flask ledger check`'s invariants and the lot checks
(nothing oversold, no negative stock), and the checkouts written must
equal the 201s wrk counted. Then, at the same concurrency, the raw-SQL
floor: the same statements a checkout writes (the debit, checkout, line,
ledger entry, lot and stock, monthly totals, audit and idempotency rows),
through the same driver, from N processes as fast as they go; on
PostgreSQL also the floor in one round trip (one CTE per checkout). The
app's ratio to the floor is what survives a noisy machine: compare
figures only within one run. On PostgreSQL it also samples
pg_stat_activity every 20 ms (what the benchmark database's backends wait
for, what the running ones run, their CPU per checkout); `--pyspy 8` adds
one more level with py-spy on every gunicorn worker, split by phase. A script that prints figures, not a test
(pytest collects only test_*.py).
"""
import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.checkout_bench import check_invariants as check  # noqa: E402
from tests.bench.checkout_bench import say, wait_until_healthy  # noqa: E402
from tests.bench.checkout_bench import create_database as _create_database  # noqa: E402
from tests.live import free_port  # noqa: E402

LEVELS = (1, 8, 32)
POINTS_EACH = 1_000_000
PRODUCT_BARCODE = "6901234500103"  # 牙膏 120g, 5 points
LOTS = 3
UNITS_PER_LOT = 1_000_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    p.add_argument("--households", type=int, default=2_000, help="size of the generated county")
    p.add_argument("--months", type=int, default=12, help="months of points history in the demo")
    p.add_argument("--buyers", type=int, default=300, help="households with points and a card")
    p.add_argument("--levels", default=",".join(map(str, LEVELS)), help="connections per level, e.g. 1,8,32")
    p.add_argument("--duration", type=int, default=10, help="seconds per level")
    p.add_argument("--rounds", type=int, default=2, help="times through all levels (report ranges)")
    p.add_argument("--workers", type=int, default=None, help="gunicorn -w: default 2 on SQLite, 4 on PostgreSQL")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                   help="PostgreSQL server (a database is created on it and dropped)")
    p.add_argument("--db-name", default=None, help="PostgreSQL: the throwaway database's name")
    p.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    p.add_argument("--no-floor", action="store_true", help="skip the raw-SQL floor")
    p.add_argument("--no-app", action="store_true", help="skip the app (the floor only)")
    p.add_argument("--pyspy", type=int, default=0, metavar="CLIENTS",
                   help="after the rounds, one more level at CLIENTS connections with py-spy sampling every "
                        "worker: where the workers' CPU goes")
    p.add_argument("--keep", action="store_true", help="keep the database (and serve nothing)")
    p.add_argument("--seed", type=int, default=13)
    return p.parse_args(argv)


def create_database(args, workdir: Path):
    return _create_database(args, workdir, prefix="aixin_wrk")


def bench_app(url: str, instance: Path, **extra):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "RATELIMIT_STORAGE_URI": "memory://",
                       "SQLITE_LOCK_OUTSIDE_REQUESTS": False, **extra}, instance_path=str(instance))


def build(args, url: str, instance: Path, volunteers: int = 2) -> dict:
    """The county, the shop (one 5-point product, big lots), 300 buyers with
    points and a card, and the volunteers' bearer tokens."""
    from sqlalchemy import insert, select

    from app.demo import build_demo
    from app.extensions import db
    from app.models import (
        Card,
        Donor,
        Household,
        LedgerEntry,
        Product,
        Region,
        Supermarket,
        utcnow,
    )
    from app.services.checkout import card_key
    from app.services.checkout.cards import luhn_digit, token_columns
    from app.services.clock import local_today
    from app.services.goods import products as goods
    from app.services.goods.donations import receive_donation
    from app.services.ledger import writer
    from app.services.people.accounts import create_user, issue_token

    rng = random.Random(args.seed)
    app = bench_app(url, instance)
    with app.app_context():
        started = time.perf_counter()
        build_demo(households=args.households, months=args.months, echo=lambda *a: None)
        sm = db.session.scalars(select(Supermarket).order_by(Supermarket.id)).first()
        goods.load_default_products()
        product = db.session.scalars(select(Product).where(Product.barcode == PRODUCT_BARCODE)).one()
        assert product.points_price == 5, product.points_price
        donor = db.session.scalars(select(Donor)).first()
        for _ in range(LOTS):
            receive_donation(None, {"donor_id": donor.id, "supermarket_id": sm.id,
                                    "lines": [{"product_id": product.id, "quantity": UNITS_PER_LOT}]})
        served = select(Household.id).join(Region, Region.id == Household.village_id).where(
            Region.path.startswith(sm.region.path), Household.status == "active").order_by(Household.id)
        buyers = db.session.scalars(served.limit(args.buyers)).all()
        now = utcnow()
        writer.add([LedgerEntry(household_id=hid, kind="adjustment", points=POINTS_EACH, status="posted",
                                note="bench opening balance", occurred_on=local_today(now),
                                created_at=now, posted_at=now) for hid in buyers], now)
        numbers = set()
        while len(numbers) < len(buyers):
            body = str(rng.randrange(10**8, 10**9))
            numbers.add(body + luhn_digit(body))
        tokens = [f"{rng.randrange(10**39):039d}" for _ in buyers]
        key = card_key.sealer()
        db.session.execute(insert(Card), [
            {"household_id": hid, **token_columns(token, key), "number": number, "status": "active",
             "issued_at": now}
            for hid, token, number in zip(buyers, tokens, sorted(numbers))])
        bearer = []
        for i in range(volunteers):
            user = create_user(None, {"username": f"wrk{i:02d}", "password": "bench-password-1",
                                      "role": "volunteer", "supermarket_ids": [sm.id]})
            bearer.append(issue_token(user)[0])
        db.session.commit()
        shop = {"supermarket_id": sm.id, "product_id": product.id, "household_ids": list(buyers),
                "payloads": ["81" + t for t in tokens], "tokens": bearer}
        say(f"  built: {args.households} households, {len(buyers)} buyers with {POINTS_EACH} points and a card, "
            f"{LOTS} lots of {UNITS_PER_LOT} x {product.name} ({product.points_price} points) "
            f"at {sm.name} ({time.perf_counter() - started:.0f} s)")
        db.session.remove()
        db.engine.dispose()
    return shop


def settle(url: str) -> None:
    """Before each measured level (untimed), PostgreSQL: VACUUM ANALYZE, as
    autovacuum keeps a live database. Without it a level pays for the dead rows
    of the one before, and the server's cached generic plans keep whatever
    they chose when a table was empty: the idempotency lookup, planned while
    idempotency_keys held nothing, stayed a sequential scan as it grew to tens
    of thousands of keys (1.9 ms a lookup, most of PostgreSQL's time per
    checkout). ANALYZE invalidates those plans. SQLite: nothing to do."""
    if not url.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# -- the server, as the README serves it ---------------------------------------------------

def start_server(args, url: str, instance: Path, workers: int):
    port = args.port or free_port()
    log = instance / "gunicorn.log"
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url, "FLASK_SECRET_KEY": "bench",
           "FLASK_RATELIMIT_STORAGE_URI": "memory://"}
    # The README: `gunicorn -w 2 -b 127.0.0.1:8000 wsgi:app` (SQLite), `gunicorn -w 4 wsgi:app` (PostgreSQL).
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "wsgi:app"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    wait_until_healthy(proc, port, log)
    return proc, port


def stop_server(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- wrk -------------------------------------------------------------------------------------

LUA = r"""
-- written by tests/bench/checkout_wrk.py
local payloads = {%(payloads)s}
local tokens = {%(tokens)s}
local run = "%(run)s"
local threads = {}
local made = 0

function setup(thread)
  made = made + 1
  thread:set("tid", made)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 97 + tid * 7919)
  counter = 0
  statuses = {}
  auth = "Bearer " .. tokens[(tid - 1) %% #tokens + 1]
end

function request()
  counter = counter + 1
  local body = '{"supermarket_id":%(sm)d,"card_payload":"' .. payloads[math.random(#payloads)] ..
               '","lines":[{"product_id":%(product)d,"quantity":1}]}'
  return wrk.format("POST", "/api/v1/checkouts",
                    {["Authorization"] = auth, ["Content-Type"] = "application/json",
                     ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter}, body)
end

function response(status, headers, body)
  local s = tostring(status)
  statuses[s] = (statuses[s] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local st = thread:get("statuses")
    for k, v in pairs(st) do counts[k] = (counts[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, '"' .. k .. '":' .. v) end
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"p50":%%d,"p90":%%d,"p95":%%d,"p99":%%d,"max":%%d,"statuses":{%%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, table.concat(parts, ",")))
end
"""


def write_lua(shop: dict, path: Path, run: str):
    path.write_text(LUA % {
        "payloads": ",".join(f'"{p}"' for p in shop["payloads"]),
        "tokens": ",".join(f'"{t}"' for t in shop["tokens"]),
        "run": run, "sm": shop["supermarket_id"], "product": shop["product_id"]})


def run_wrk(port: int, lua: Path, connections: int, duration: int) -> dict:
    threads = min(2, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
           "--latency", "-s", str(lua), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"^WRKJSON (.*)$", out, re.MULTILINE)
    if not m:
        raise SystemExit("wrk said:\n" + out)
    r = json.loads(m.group(1))
    seconds = r["duration_us"] / 1e6
    ok = sum(v for k, v in r["statuses"].items() if k.startswith("2"))
    return {"connections": connections, "requests": r["requests"], "ok": ok,
            "rate": ok / seconds, "p50": r["p50"] / 1000, "p90": r["p90"] / 1000, "p95": r["p95"] / 1000,
            "p99": r["p99"] / 1000, "max": r["max"] / 1000,
            "non2xx": {k: v for k, v in r["statuses"].items() if not k.startswith("2")},
            "socket_errors": {k: v for k, v in r["errors"].items() if v and k != "status"}}


def server_cpu(proc) -> float:
    """CPU seconds used so far by gunicorn's workers (and arbiter)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [proc.pid] + [int(p) for p in
                         subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False).stdout.split()]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


class PgWaits:
    """PostgreSQL: what the benchmark database's backends are doing, sampled
    every 20 ms while a level runs (pg_stat_activity): running, waiting for a
    row lock (another checkout holds the household or the lot), for the WAL
    (commit), or for the client (the app's Python, or the next statement)."""

    def __init__(self, url: str):
        import threading

        self.url, self.stop, self.counts = url, threading.Event(), {}
        self.running: dict[str, int] = {}  # what the running backends run: the statement's start
        self.first_cpu: dict[int, float] = {}  # backend pid: CPU seconds when first seen
        self.last_cpu: dict[int, float] = {}
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        import psycopg

        name = self.url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                for pid, state, kind, event, query in conn.execute(
                        "SELECT pid, state, wait_event_type, wait_event, left(query, 90) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                        (name,)):
                    cpu = _cpu_seconds(pid)
                    if cpu is not None:
                        self.first_cpu.setdefault(pid, cpu)
                        self.last_cpu[pid] = cpu
                    if state == "idle":
                        what = "idle (client: Python, or no work)"
                    elif state == "idle in transaction":
                        what = "in transaction, waiting for the client"
                    elif kind == "Lock":
                        what = f"waiting for a lock ({event})"
                    elif kind in ("IO", "LWLock") and event and event.startswith("WAL"):
                        what = "waiting for the WAL (commit)"
                    elif kind is None:
                        what = "running"
                        statement = " ".join((query or "").split())[:70]
                        self.running[statement] = self.running.get(statement, 0) + 1
                    else:
                        what = f"{kind}: {event}"
                    self.counts[what] = self.counts.get(what, 0) + 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def cpu(self) -> float:
        """CPU seconds the benchmark database's backends used while sampled."""
        return sum(self.last_cpu[pid] - self.first_cpu[pid] for pid in self.last_cpu)

    def line(self) -> str:
        total = sum(self.counts.values()) or 1
        busy = {k: v for k, v in self.counts.items() if not k.startswith("idle")}
        ran = sum(self.running.values()) or 1
        top = sorted(self.running.items(), key=lambda kv: -kv[1])[:3]
        return "backends: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                                        sorted(self.counts.items(), key=lambda kv: -kv[1])) \
            + f" (busy {100 * sum(busy.values()) / total:.0f}%); running: " \
            + "; ".join(f"{100 * n / ran:.0f}% {q}" for q, n in top)


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waits(url: str):
    import contextlib

    return PgWaits(url) if url.startswith("postgresql") else contextlib.nullcontext()


# -- the raw-SQL floor -----------------------------------------------------------------------

def floor_context(url: str, instance: Path, shop: dict) -> dict:
    """What the floor's statements need that a checkout would have read first."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Household, Supermarket, User

    app = bench_app(url, instance)
    with app.app_context():
        sm = db.session.get(Supermarket, shop["supermarket_id"])
        villages = dict(db.session.execute(select(Household.id, Household.village_id)
                                           .where(Household.id.in_(shop["household_ids"]))).all())
        actor = db.session.scalars(select(User.id).where(User.username == "wrk00")).one()
        ctx = {"url": url, "sm_id": sm.id, "sm_name": sm.name, "product_id": shop["product_id"],
               "villages": villages, "actor_id": actor, "households": shop["household_ids"]}
        db.session.remove()
        db.engine.dispose()
    return ctx


def _floor_worker(ctx: dict, mode: str, seconds: float, start_at: float, seed: int, out):
    from tests.bench import checkout_floor

    out.put(checkout_floor.run(ctx, mode, seconds, start_at, seed))


def run_floor(ctx: dict, mode: str, concurrency: int, seconds: float, seed: int) -> dict:
    """`concurrency` processes doing the checkout's writes as plain SQL; checkouts/s and latency."""
    q = mp.get_context("fork").Queue()
    start_at = time.time() + 1.0 + 0.05 * concurrency
    procs = [mp.get_context("fork").Process(target=_floor_worker, args=(ctx, mode, seconds, start_at, seed + i, q))
             for i in range(concurrency)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r["latencies"])
    done = len(lat)
    wall = max(r["wall"] for r in results)

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else 0.0

    return {"connections": concurrency, "ok": done, "rate": done / wall if wall else 0.0,
            "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "refused": sum(r["refused"] for r in results)}


# -- py-spy -------------------------------------------------------------------------------------

# The innermost frame that matches names a sample's phase: (function, file suffix, phase).
PHASE_FRAMES = [
    ("user_for_token", "accounts.py", "token lookup"),
    ("fingerprint", "idempotency.py", "idempotency (fingerprint, lock, lookup, insert)"),
    ("_claim_and_read", "idempotency.py", "idempotency (fingerprint, lock, lookup, insert)"),
    ("_stored", "idempotency.py", "idempotency (fingerprint, lock, lookup, insert)"),
    ("_stored_meanwhile", "idempotency.py", "idempotency (fingerprint, lock, lookup, insert)"),
    ("cart_lines", "checkouts.py", "check_out: reads before the lock"),
    ("_products", "checkouts.py", "check_out: reads before the lock"),
    ("till", "checkouts.py", "check_out: reads before the lock"),
    ("require_open", "regions.py", "check_out: reads before the lock"),
    ("at_counter", "cards.py", "check_out: reads before the lock"),
    ("at_till", "cards.py", "check_out: reads before the lock"),
    ("debit", "writer.py", "check_out: writes"),
    ("record_checkout", "writer.py", "check_out: writes"),
    ("take_and_record", "lots.py", "check_out: writes"),
    ("check_out", "checkouts.py", "check_out: monthly limit, answer objects, rest"),
    ("wrapper", "idempotency.py", "idempotency (fingerprint, lock, lookup, insert)"),
    ("checkout_body", "checkouts.py", "answer body"),
    ("end_unit_of_work", "boundary.py", "after_request: commit"),
    ("post_due_before_request", "boundary.py", "before_request: due-awards probe"),
    ("note_client_address", "boundary.py", "before_request: other"),
    ("sync_validate", "spec.py", "schema gate (spectree, pydantic)"),
    ("full_dispatch_request", "app.py", "Flask: limiter, hooks, JSON response"),
    ("wsgi_app", "app.py", "Flask: request context"),
    ("handle_request", "sync.py", "gunicorn: HTTP parse and write"),
    ("handle", "sync.py", "gunicorn: HTTP parse and write"),
]


def _phase(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost last in py-spy's collapsed stacks
        name, _, where = frame.partition(" (")
        name = name.rsplit(".", 1)[-1]  # py-spy: Class.method, outer.<locals>.inner
        for fn, suffix, phase in PHASE_FRAMES:
            if name == fn and where.split(":")[0].endswith(suffix):
                return phase
    return "other (gunicorn loop, gc, imports)"


def pyspy_profile(server, port: int, lua: Path, connections: int, duration: int, workdir: Path):
    """py-spy on every worker during one wrk level: the workers' CPU samples by phase."""
    pyspy = str(Path(sys.executable).with_name("py-spy"))
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, check=False,
                                              text=True).stdout.split()]
    outs, spies = [], []
    keep = Path(tempfile.gettempdir()) / f"aixin-wrk-pyspy-{os.getpid()}"
    keep.mkdir(exist_ok=True)
    for pid in workers:
        out = keep / f"pyspy-{pid}.txt"
        outs.append(out)
        spies.append(subprocess.Popen([pyspy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                       "--duration", str(duration + 1), "--output", str(out), "--nonblocking"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)
    cpu0 = server_cpu(server)
    r = run_wrk(port, lua, connections, duration)
    cpu = server_cpu(server) - cpu0
    for spy in spies:
        spy.wait(timeout=60)
    phases: dict[str, list[int]] = {}
    alchemy = driver = total = 0
    for out in outs:
        if not out.exists():
            continue
        for line in out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            if not any("create_checkout" in f or "handle_request" in f for f in frames):
                continue  # the worker's idle loop
            total += n
            # Innermost in psycopg: sending a statement or waiting for PostgreSQL's answer (py-spy
            # counts a thread in psycopg's C wait as active). SQLite's C calls show as SQLAlchemy's
            # do_execute/do_commit frames.
            in_db = "psycopg/" in frames[-1] or frames[-1].startswith(("DefaultDialect.do_", "SQLiteDialect"))
            cell = phases.setdefault(_phase(frames), [0, 0])
            cell[0] += n
            cell[1] += n if in_db else 0
            driver += n if in_db else 0
            if not in_db and any("sqlalchemy/" in f for f in frames[-3:]):
                alchemy += n
    say(f"\npy-spy at {connections} connections: {r['rate']:.0f} checkouts/s, p99 {r['p99']:.1f} ms; "
        f"workers used {cpu / duration:.2f} cores, {cpu * 1000 / max(r['ok'], 1):.1f} ms CPU per checkout; "
        f"{total} samples inside requests (wall time in a request, the database's answers included)")
    say("| phase | share of the time in requests | of which in the driver (sending, waiting for the database) |")
    say("|---|---|---|")
    for phase, (n, db) in sorted(phases.items(), key=lambda kv: -kv[1][0]):
        say(f"| {phase} | {100 * n / max(total, 1):.0f}% | {100 * db / max(total, 1):.0f}% |")
    say(f"of all: in the driver {100 * driver / max(total, 1):.0f}%, in SQLAlchemy's own code (innermost "
        f"frames) {100 * alchemy / max(total, 1):.0f}%; the stacks (py-spy raw, for flamegraph.pl): {keep}")


# -- main --------------------------------------------------------------------------------------

def main():
    args = parse_args()
    workers = args.workers or (2 if args.db == "sqlite" else 4)
    levels = [int(x) for x in args.levels.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="aixin-wrk-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop = create_database(args, workdir)
    server = None
    floors = ["sql", "all"] + (["late", "cte"] if args.db == "postgresql" else [])
    try:
        say(f"Aixin checkout under wrk: {args.db}, {os.cpu_count()} CPUs, `gunicorn -w {workers} wsgi:app`, "
            f"{args.duration} s per level, {args.rounds} rounds; load average at start "
            + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        shop = build(args, url, instance)
        ctx = floor_context(url, instance, shop)
        if "cte" in floors and not args.no_floor:
            from tests.bench.checkout_floor import install_function

            install_function(url)
        lua = workdir / "checkout.lua"
        rows = []
        if not args.no_app:
            server, port = start_server(args, url, instance, workers)
        if server:
            write_lua(shop, lua, "warm")
            run_wrk(port, lua, 4, 2)
        _, _, before = check(url, instance)
        for rnd in range(1, args.rounds + 1):
            for step, level in enumerate(levels):
                load = os.getloadavg()[0]
                if server:
                    # Keys unique per level, even when a level repeats (--levels 8,8).
                    write_lua(shop, lua, f"r{rnd}s{step}c{level}")
                    settle(url)
                    cpu0 = server_cpu(server)
                    with waits(url) as w:
                        r = run_wrk(port, lua, level, args.duration)
                    cpu = server_cpu(server) - cpu0
                    ledger, lots, after = check(url, instance)
                    written = after - before
                    before = after
                    r.update(kind="app", round=rnd, load=load, ledger=len(ledger), lots=len(lots),
                             written=written, cpu_ms=cpu * 1000 / max(r["ok"], 1),
                             cores=cpu / args.duration)
                    rows.append(r)
                    say(f"  round {rnd} app   c={level:<3} {r['rate']:7.0f}/s p50 {r['p50']:6.1f} p95 {r['p95']:6.1f} "
                        f"p99 {r['p99']:6.1f} ms  non-2xx {r['non2xx'] or 0} socket {r['socket_errors'] or 0} "
                        f"server {r['cores']:.2f} cores, {r['cpu_ms']:.1f} ms CPU/checkout; "
                        f"written {written} (201s {r['ok']}); ledger {len(ledger)} lots {len(lots)} violations")
                    for v in (ledger + lots)[:5]:
                        say("     ", v)
                    if w:
                        r["pg_cpu_ms"] = w.cpu() * 1000 / max(written, 1)
                        say(f"      PostgreSQL {w.cpu() / args.duration:.2f} cores, {r['pg_cpu_ms']:.1f} ms CPU "
                            "per checkout; " + w.line())
                    # wrk leaves up to one request per connection in flight when its time is up.
                    if not r["ok"] <= written <= r["ok"] + level:
                        say(f"      checkouts written ({written}) do not match the 201s ({r['ok']})")
                if not args.no_floor:
                    for mode in floors:
                        settle(url)
                        with waits(url) as w:
                            f = run_floor(ctx, mode, level, args.duration, args.seed * 1000 + rnd * 100 + level)
                        ledger, lots, after = check(url, instance)
                        before = after
                        f.update(kind=f"floor-{mode}", round=rnd, load=load, ledger=len(ledger), lots=len(lots))
                        rows.append(f)
                        say(f"  round {rnd} {mode:<5} c={level:<3} {f['rate']:7.0f}/s p50 {f['p50']:6.1f} "
                            f"p95 {f['p95']:6.1f} p99 {f['p99']:6.1f} ms  refused {f['refused']}; "
                            f"ledger {len(ledger)} lots {len(lots)} violations")
                        if w:
                            f["pg_cpu_ms"] = w.cpu() * 1000 / max(f["ok"], 1)
                            say(f"      PostgreSQL {w.cpu() / args.duration:.2f} cores, {f['pg_cpu_ms']:.1f} ms CPU "
                                "per checkout; " + w.line())
        report(rows, levels, args)
        if server and args.pyspy:
            write_lua(shop, lua, "pyspy")
            pyspy_profile(server, port, lua, args.pyspy, args.duration, workdir)
        (workdir.parent / f"aixin-wrk-{args.db}-{os.getpid()}.json").write_text(json.dumps(rows))
    finally:
        stop_server(server)
        if args.keep:
            say(f"kept: {url}")
        else:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)


def report(rows, levels, args):
    def span(values, fmt):
        values = sorted(values)
        if not values:
            return "-"
        return fmt.format(values[0]) if len(values) == 1 or fmt.format(values[0]) == fmt.format(values[-1]) \
            else (fmt.format(values[0]) + "–" + fmt.format(values[-1]))

    say("")
    say(f"{args.db}: ranges over {args.rounds} rounds (checkouts/s; ms)")
    say("| clients | app checkouts/s | p50 | p95 | p99 | floor: writes /s | app/floor | floor: every statement /s "
        "| app/every |" + (" floor: lots last /s | app/lots last | floor: 1 call /s | app/1 call |"
                            if args.db == "postgresql" else ""))
    say("|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|" if args.db == "postgresql" else ""))
    for level in levels:
        app = [r for r in rows if r["kind"] == "app" and r["connections"] == level]
        cells = [str(level), span([r["rate"] for r in app], "{:.0f}"), span([r["p50"] for r in app], "{:.1f}"),
                 span([r["p95"] for r in app], "{:.1f}"), span([r["p99"] for r in app], "{:.1f}")]
        for mode in ["sql", "all"] + (["late", "cte"] if args.db == "postgresql" else []):
            floor = {r["round"]: r for r in rows if r["kind"] == f"floor-{mode}" and r["connections"] == level}
            ratios = [a["rate"] / floor[a["round"]]["rate"] for a in app
                      if a["round"] in floor and floor[a["round"]]["rate"]]
            cells += [span([r["rate"] for r in floor.values()], "{:.0f}"), span(ratios, "{:.2f}")]
        say("| " + " | ".join(cells) + " |")
    bad = [r for r in rows if r.get("ledger") or r.get("lots")]
    say(f"ledger and lot checks after every level: {'clean' if not bad else f'{len(bad)} levels with violations'}")


if __name__ == "__main__":
    main()
