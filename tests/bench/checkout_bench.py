"""Checkout latency and throughput through the JSON API, under gunicorn.

    python tests/bench/checkout_bench.py --db sqlite --households 20000
    python tests/bench/checkout_bench.py --db postgresql --households 20000

Builds a generated county into a fresh database (the same `build_demo` as
`flask demo`: villages, 20,000 households and a year of points history),
gives a few thousand households points and a card, stocks a supermarket
with several lots of each product, starts the app under gunicorn, and
drives POST /api/v1/checkouts as the counter does (card payload, one to
three products, an Idempotency-Key) at concurrency 1, 8 and 32: each
client thread has its own connection (kept alive where the workers keep
it: gthread) and its own volunteer's bearer token, and serves its own
households. Prints latency p50/p95/p99
and checkouts per second per level, then checks the ledger and stock
invariants. A script that prints figures, not a test (pytest does not
collect it). PostgreSQL: a throwaway database on --pg (created, dropped).
"""
import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.live import free_port  # noqa: E402

LEVELS = (1, 8, 32)
POINTS_EACH = 100_000
LOTS_PER_PRODUCT = 5
UNITS_PER_LOT = 200_000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--households", type=int, default=20_000, help="size of the generated county")
    p.add_argument("--buyers", type=int, default=4_000, help="households that get points and a card")
    p.add_argument("--requests", type=int, default=1_000, help="checkouts per concurrency level")
    p.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrency levels, e.g. 1,8,32")
    p.add_argument("--workers", type=int, default=None,
                   help="gunicorn worker processes: default one per core on SQLite, two on PostgreSQL")
    p.add_argument("--worker-class", default=None,
                   help="gunicorn worker class: default sync on SQLite, gthread on PostgreSQL")
    p.add_argument("--threads", type=int, default=None,
                   help="gunicorn threads per worker (gthread); default 4")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                   help="PostgreSQL server (a database is created on it and dropped)")
    p.add_argument("--months", type=int, default=12, help="months of points history in the demo")
    p.add_argument("--factory", default="app:create_app",
                   help="the app factory gunicorn calls (module:callable), to measure a variant")
    p.add_argument("--keep", action="store_true", help="keep the database and print where it is")
    p.add_argument("--reuse", metavar="URL", help="run against a database a --keep run left (no rebuild)")
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args()


def say(*args):
    print(*args, flush=True)


# -- the database --------------------------------------------------------------------

def create_database(args, workdir: Path, prefix: str = "aixin_bench") -> tuple[str, callable]:
    """A fresh database: its URL and how to drop it (named by `args.db_name` when
    the script has that option, else by the prefix and the process)."""
    if args.db == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    import psycopg

    name = getattr(args, "db_name", None) or f"{prefix}_{os.getpid()}"
    admin_url = args.pg.rstrip("/") + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return args.pg.rstrip("/") + "/" + name, drop


def luhn_number(rng: random.Random) -> str:
    from app.services.checkout.cards import luhn_digit

    body = str(rng.randrange(10**8, 10**9))
    return body + luhn_digit(body)


def build(args, url: str, instance: Path) -> dict:
    """The county, the shop, the buyers and the volunteers; returns what the clients need."""
    from sqlalchemy import insert, select

    from app import create_app
    from app.demo import build_demo
    from app.extensions import db
    from app.models import Card, Donor, Household, LedgerEntry, Product, Region, Supermarket, utcnow
    from app.services.goods import products as goods
    from app.services.people.accounts import create_user, issue_token
    from app.services.goods.donations import receive_donation
    from app.services.clock import local_today
    from app.services.ledger import writer
    from app.services.checkout import card_key
    from app.services.checkout.cards import token_columns

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "RATELIMIT_STORAGE_URI": "memory://"},
                     instance_path=str(instance))
    rng = random.Random(args.seed)
    with app.app_context():
        started = time.perf_counter()
        build_demo(households=args.households, months=args.months, echo=lambda *a: None)
        say(f"  county: {args.households} households, a year of points ({time.perf_counter() - started:.0f} s)")
        started = time.perf_counter()
        sm = db.session.scalars(select(Supermarket).order_by(Supermarket.id)).first()
        goods.load_default_products()
        products = db.session.scalars(select(Product).where(Product.barcode.is_not(None))
                                      .order_by(Product.id)).all()
        donor = db.session.scalars(select(Donor)).first()
        for _ in range(LOTS_PER_PRODUCT):
            receive_donation(None, {"donor_id": donor.id, "supermarket_id": sm.id, "lines": [
                {"product_id": p.id, "quantity": UNITS_PER_LOT} for p in products]})
        served = select(Household.id).join(Region, Region.id == Household.village_id).where(
            Region.path.startswith(sm.region.path), Household.status == "active").order_by(Household.id)
        buyers = db.session.scalars(served.limit(args.buyers)).all()
        now = utcnow()
        today = local_today(now)
        writer.add([LedgerEntry(household_id=hid, kind="adjustment", points=POINTS_EACH,
                                status="posted", note="bench opening balance", occurred_on=today,
                                created_at=now, posted_at=now) for hid in buyers], now)
        numbers = set()
        while len(numbers) < len(buyers):
            numbers.add(luhn_number(rng))
        tokens = [f"{rng.randrange(10**39):039d}" for _ in buyers]
        key = card_key.sealer()
        db.session.execute(insert(Card), [
            {"household_id": hid, **token_columns(token, key), "number": number, "status": "active",
             "issued_at": now}
            for hid, token, number in zip(buyers, tokens, sorted(numbers))])
        levels = [int(x) for x in args.levels.split(",")]
        bearer = []
        for i in range(max(levels + [4])):  # 4: the warm-up
            user = create_user(None, {"username": f"counter{i:02d}", "password": "bench-password-1",
                                      "role": "volunteer", "supermarket_ids": [sm.id]})
            bearer.append(issue_token(user)[0])
        db.session.commit()
        say(f"  shop: {sm.name}, {len(products)} products x {LOTS_PER_PRODUCT} lots; "
            f"{len(buyers)} households with {POINTS_EACH} points and a card; "
            f"{len(bearer)} volunteers ({time.perf_counter() - started:.0f} s)")
        shop = {"supermarket_id": sm.id, "products": [p.id for p in products],
                "payloads": ["81" + t for t in tokens], "tokens": bearer, "levels": levels}
        db.session.remove()
        db.engine.dispose()
    return shop


def reopen(args, url: str, instance: Path) -> dict:
    """What the clients need, from a database an earlier --keep run built."""
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import Card, LedgerEntry, Product, Supermarket, User
    from app.services.checkout import card_key
    from app.services.people.accounts import issue_token

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"}, instance_path=str(instance))
    with app.app_context():
        sm = db.session.scalars(select(Supermarket).order_by(Supermarket.id)).first()
        products = db.session.scalars(select(Product.id).where(Product.barcode.is_not(None))
                                      .order_by(Product.id)).all()
        buyers = select(LedgerEntry.household_id).where(LedgerEntry.note == "bench opening balance")
        key = card_key.sealer(create=False)
        tokens = [card_key.unseal(sealed, key) for sealed in db.session.scalars(
            select(Card.token_sealed).where(Card.household_id.in_(buyers)).order_by(Card.household_id))]
        users = db.session.scalars(select(User).where(User.username.like("counter%")).order_by(User.username)).all()
        bearer = [issue_token(u)[0] for u in users]
        db.session.commit()
        shop = {"supermarket_id": sm.id, "products": list(products), "payloads": ["81" + t for t in tokens],
                "tokens": bearer, "levels": [int(x) for x in args.levels.split(",")]}
        db.session.remove()
        db.engine.dispose()
    return shop


def count_checkouts(url: str, instance: Path) -> int:
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Checkout

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "SQLITE_LOCK_OUTSIDE_REQUESTS": False}, instance_path=str(instance))
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Checkout))
        db.session.remove()
        db.engine.dispose()
    return n


def check_invariants(url: str, instance: Path) -> tuple[list, list, int]:
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Checkout
    from app.services.invariants import check_invariants
    from app.services.goods.check import check_lots

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "SQLITE_LOCK_OUTSIDE_REQUESTS": False}, instance_path=str(instance))
    with app.app_context():
        result = check_invariants(), check_lots(), db.session.scalar(select(func.count()).select_from(Checkout))
        db.session.remove()
        db.engine.dispose()
    return result


# -- the server ------------------------------------------------------------------------

def start_server(args, url: str, instance: Path) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = instance / "gunicorn.log"
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url, "FLASK_SECRET_KEY": "bench",
           "FLASK_RATELIMIT_STORAGE_URI": "memory://"}
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class", args.worker_class,
           "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
           "--backlog", "256", f"{args.factory}(instance_path={str(instance)!r})"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_until_healthy(proc, port, log)
    return proc, port, log


def wait_until_healthy(proc: subprocess.Popen, port: int, log: Path, seconds: float = 60) -> None:
    """Until the started gunicorn answers /healthz; its log if it dies or takes longer."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit("gunicorn did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.2)


# -- the clients --------------------------------------------------------------------------

class Counter:
    """One till: a keep-alive connection, a volunteer's token, its own households."""

    def __init__(self, port: int, token: str, payloads: list[str], shop: dict, rng: random.Random):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token, self.payloads, self.shop, self.rng = token, payloads, shop, rng
        self.turn = 0

    def checkout(self) -> tuple[float, int]:
        payload = self.payloads[self.turn % len(self.payloads)]
        self.turn += 1
        products = self.rng.sample(self.shop["products"], self.rng.randint(1, 3))
        body = json.dumps({"supermarket_id": self.shop["supermarket_id"], "card_payload": payload,
                           "lines": [{"product_id": p, "quantity": self.rng.randint(1, 2)} for p in products]})
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                   "Idempotency-Key": secrets.token_hex(16)}
        started = time.perf_counter()
        self.conn.request("POST", "/api/v1/checkouts", body, headers)
        response = self.conn.getresponse()
        response.read()
        return time.perf_counter() - started, response.status

    def close(self):
        self.conn.close()


def run_level(port: int, shop: dict, concurrency: int, requests: int, seed: int) -> dict:
    per_client = max(1, requests // concurrency)
    payloads = shop["payloads"]
    counters = [Counter(port, shop["tokens"][i], payloads[i::concurrency], shop, random.Random(seed + i))
                for i in range(concurrency)]
    results: list[list] = [[] for _ in counters]
    barrier = threading.Barrier(concurrency + 1)

    def work(i: int):
        barrier.wait()
        for _ in range(per_client):
            try:
                results[i].append(counters[i].checkout())
            except (OSError, http.client.HTTPException) as err:
                results[i].append((0.0, f"{type(err).__name__}"))
                counters[i].conn.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for c in counters:
        c.close()
    flat = [r for rs in results for r in rs]
    ok = sorted(lat for lat, status in flat if status == 201)
    errors: dict = {}
    for _lat, status in flat:
        if status != 201:
            errors[status] = errors.get(status, 0) + 1
    q = statistics.quantiles(ok, n=100, method="inclusive") if len(ok) > 1 else [0.0] * 99
    return {"concurrency": concurrency, "requests": len(flat), "ok": len(ok), "errors": errors,
            "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000,
            "max": (ok[-1] if ok else 0) * 1000, "rate": len(ok) / wall if wall else 0.0, "wall": wall}


def warm_up(port: int, shop: dict, seed: int) -> int:
    """Open the workers' database connections and import everything once; how many checked out."""
    return run_level(port, shop, 4, 40, seed)["ok"]


def main():
    args = parse_args()
    cores = os.cpu_count() or 2
    if args.worker_class is None:
        # Sync workers take each request from the shared listen socket when
        # free, so the load spreads evenly; gthread workers keep each client's
        # keep-alive connection to themselves, and one can be busy while
        # another idles (measured: p95 at 8 clients about 1.5 times worse).
        args.worker_class = "sync"
    if args.workers is None:
        # SQLite runs one write transaction at a time: a worker per core
        # keeps both cores busy, more would only wait for the lock. On
        # PostgreSQL a worker also waits for the server's answers: two per core.
        args.workers = cores if args.db == "sqlite" else 2 * cores
    if args.threads is None:
        args.threads = 1 if args.worker_class == "sync" else 4
    workdir = Path(tempfile.mkdtemp(prefix="aixin-bench-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop = (args.reuse, lambda: None) if args.reuse else create_database(args, workdir)
    server = None
    try:
        say(f"Aixin checkout benchmark: {args.db}, {os.cpu_count()} CPUs, gunicorn {args.workers} workers"
            f" ({args.worker_class}" + (f", {args.threads} threads each" if args.worker_class != "sync" else "")
            + f"); load average {os.getloadavg()[0]:.1f}")
        shop = reopen(args, url, instance) if args.reuse else build(args, url, instance)
        existing = count_checkouts(url, instance)
        server, port, log = start_server(args, url, instance)
        warmed = warm_up(port, shop, args.seed)
        rows = [run_level(port, shop, c, args.requests, args.seed + 1000 * c) for c in shop["levels"]]
        say("")
        say(f"{'clients':>7} {'requests':>8} {'errors':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'max ms':>8} {'checkouts/s':>12}")
        for r in rows:
            errors = sum(r["errors"].values())
            say(f"{r['concurrency']:>7} {r['requests']:>8} {errors:>8} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                f"{r['p99']:>8.1f} {r['max']:>8.1f} {r['rate']:>12.0f}")
            if errors:
                say(f"        errors by status: {r['errors']}")
        server.terminate()
        server.wait(timeout=30)
        server = None
        ledger, lots, checkouts = check_invariants(url, instance)
        expected = sum(r["ok"] for r in rows) + warmed
        say("")
        say(f"checkouts written: {checkouts - existing} (answered 201: {expected}); "
            f"ledger check: {len(ledger)} violations; lot check: {len(lots)} violations")
        for v in (ledger + lots)[:10]:
            say("  ", v)
        if args.keep:
            say(f"kept: {url} ({workdir})")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
