"""Where a checkout's time goes, in-process: statements (round trips) per
checkout and their SQL, wall and CPU ms per checkout through Flask's test
client, and a cProfile split by phase (token lookup, idempotency, the
reads before the lock, the writes, the answer).

    python tests/bench/checkout_profile.py --db postgresql
    python tests/bench/checkout_profile.py --db sqlite --checkouts 2000 --sql

The load is checkout_wrk.py's: one 5-point item for a random household of
300. In-process (no HTTP server, no gunicorn), so its wall time is the
app's Python plus the database's answers; HTTP parsing is gunicorn's and
shows only in a py-spy profile of a served worker. A script that prints
figures, not a test.
"""
import argparse
import cProfile
import pstats
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import checkout_wrk

# Functions whose cumulative time makes the phases: (file path suffix, function name).
F = {
    "client": ("flask/testing.py", "open"),
    "wsgi": ("flask/app.py", "wsgi_app"),
    "dispatch": ("flask/app.py", "full_dispatch_request"),
    "before": ("flask/app.py", "preprocess_request"),
    "after": ("flask/app.py", "finalize_request"),
    "commit": ("orm/session.py", "commit"),
    "auth": ("api/common.py", "wrapper"),
    "token": ("people/accounts.py", "user_for_token"),
    "gate": ("spectree/spec.py", "sync_validate"),
    "idem": ("api/idempotency.py", "wrapper"),
    "view": ("api/checkouts.py", "create_checkout"),
    "check_out": ("checkout/checkouts.py", "check_out"),
    "cart": ("checkout/checkouts.py", "cart_lines"),
    "products": ("checkout/checkouts.py", "_products"),
    "require_open": ("people/regions.py", "require_open"),
    "at_till": ("checkout/cards.py", "at_till"),  # the till and the buyer (calls till's read and at_counter, or one read)
    "policy": ("people/policy.py", "require"),
    "debit": ("ledger/writer.py", "debit"),  # asks for due entries too, and posts them
    "rows": ("ledger/writer.py", "record_checkout"),  # checkout, lines, entry, totals, audit
    "take": ("goods/lots.py", "take_and_record"),  # lots locked, taken, movements
    "body": ("api/checkouts.py", "checkout_body"),
    "sql": ("engine/default.py", "do_execute"),
    "sqlmany": ("engine/default.py", "do_executemany"),
    "dbcommit": ("engine/default.py", "do_commit"),
}


def phases(stats, m) -> list[tuple[str, float]]:
    """Exclusive phases of one checkout, ms (cumulative times, differences)."""
    def cum(key, outermost=False):
        suffix, name = F[key]
        values = [v[3] for (fn, _line, fname), v in stats.items()
                  if fname == name and fn.replace("\\", "/").endswith(suffix)]
        total = (max(values, default=0.0) if outermost else sum(values))
        return total / m * 1000

    c = {k: cum(k, outermost=k in ("auth", "idem", "commit", "policy")) for k in F}
    reads = c["cart"] + c["products"] + c["at_till"]
    writes = c["debit"] + c["rows"] + c["take"]
    return [
        ("whole request (test client)", c["client"]),
        ("  test client / WSGI environ (gunicorn: HTTP parsing)", c["client"] - c["wsgi"]),
        ("  Flask request context", c["wsgi"] - c["dispatch"]),
        ("  before_request: address, due-awards probe, limiter", c["before"]),
        ("  limiter decorators (PIN limits), dispatch", c["dispatch"] - c["before"] - c["after"] - c["auth"]),
        ("  token lookup (user_for_token)", c["token"]),
        ("  schema gate (spectree + pydantic), acting()", c["auth"] - c["token"] - c["idem"]),
        ("  idempotency: fingerprint, lock, lookup, insert", c["idem"] - c["view"]),
        ("  check_out: reads before the lock (cart, products, till, card, household)", reads),
        ("  check_out: the writes (debit and due, checkout rows + entry + audit, lots + movements)", writes),
        ("  check_out: the rest (monthly limit, answer objects)", c["check_out"] - reads - writes),
        ("  answer body (checkout_body + JSON)", c["view"] - c["check_out"]),
        ("  after_request: commit, headers", c["after"]),
        ("  (of all: the driver's execute/commit calls)", c["sql"] + c["sqlmany"] + c["dbcommit"]),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    p.add_argument("--households", type=int, default=2_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--buyers", type=int, default=300)
    p.add_argument("--checkouts", type=int, default=1_000)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default=None)
    p.add_argument("--sql", action="store_true", help="print one checkout's statements")
    p.add_argument("--top", type=int, default=0, help="also print the top N functions by cumulative time")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--cpu", action="store_true",
                   help="profile CPU time (time.process_time) instead of wall: the database's answers drop out")
    p.add_argument("--dump", default=None, metavar="FILE",
                   help="also write the cProfile stats to FILE (read with pstats: print_callees)")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="aixin-prof-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop = checkout_wrk.create_database(args, workdir)
    try:
        shop = checkout_wrk.build(args, url, instance)
        profile(args, url, instance, shop)
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def profile(args, url, instance, shop):
    from sqlalchemy import event

    from app.extensions import db

    app = checkout_wrk.bench_app(url, instance, SQLITE_LOCK_OUTSIDE_REQUESTS=True)
    client = app.test_client()
    rng = random.Random(args.seed)
    statements: list[tuple[str, bool]] = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, executemany))

    def one():
        body = {"supermarket_id": shop["supermarket_id"], "card_payload": rng.choice(shop["payloads"]),
                "lines": [{"product_id": shop["product_id"], "quantity": 1}]}
        r = client.post("/api/v1/checkouts", json=body,
                        headers={"Authorization": f"Bearer {shop['tokens'][0]}",
                                 "Idempotency-Key": secrets.token_hex(16)})
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True))

    for _ in range(50):  # warm: imports, statement caches, the pool
        one()
    statements.clear()
    one()
    one_checkout = list(statements)
    say = checkout_wrk.say
    say(f"\n{args.db}: {len(one_checkout)} statements per checkout "
        f"({sum(1 for s, _ in one_checkout if s.strip().upper().startswith(('SELECT', 'WITH')))} reads); "
        "each is a round trip on PostgreSQL")
    kinds = Counter()
    for i, (sql, many) in enumerate(one_checkout, 1):
        flat = " ".join(sql.split())
        kinds[flat.split(" ")[0].upper()] += 1
        if args.sql:
            say(f"  {i:2d}. {'[many] ' if many else ''}{flat[:260]}")
        else:
            say(f"  {i:2d}. {flat[:110]}")
    say("  by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))

    statements.clear()
    n = args.checkouts
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        one()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    say(f"\n{n} checkouts in-process, one at a time: {wall / n * 1000:.2f} ms wall, "
        f"{cpu / n * 1000:.2f} ms CPU (Python; test client included) per checkout, "
        f"{len(statements) / n:.1f} statements each")

    prof = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
    m = max(200, n // 2)
    prof.enable()
    for _ in range(m):
        one()
    prof.disable()
    if args.dump:
        prof.dump_stats(args.dump)
    stats = pstats.Stats(prof).stats
    say(f"\ncProfile over {m} checkouts, exclusive phases (ms per checkout; cProfile inflates "
        "Python about 2x: read the shares):")
    rows = phases(stats, m)
    whole = rows[0][1] or 1
    for label, ms in rows:
        say(f"  {label:76s} {ms:6.2f} ms {100 * ms / whole:5.1f}%")
    if args.top:
        say(f"\ntop {args.top} by cumulative time (ms per checkout, own ms):")
        top = sorted(stats.items(), key=lambda kv: -kv[1][3])[:args.top]
        for (fn, line, fname), v in top:
            short = "/".join(fn.replace("\\", "/").split("/")[-2:])
            say(f"  {v[3] / m * 1000:7.2f} {v[2] / m * 1000:6.2f}  {short}:{line} {fname} ({v[1] / m:.1f} calls)")
        say(f"\ntop {args.top} by own time (ms per checkout; the driver's waits are its socket calls'):")
        for (fn, line, fname), v in sorted(stats.items(), key=lambda kv: -kv[1][2])[:args.top]:
            short = "/".join(fn.replace("\\", "/").split("/")[-2:])
            say(f"  {v[2] / m * 1000:6.2f}  {short}:{line} {fname} ({v[1] / m:.1f} calls)")


if __name__ == "__main__":
    main()
