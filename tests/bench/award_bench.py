"""Where the award path's time goes, in-process: a batch award of one rule
to N households (POST /api/v1/awards through Flask's test client, as a
client would) and the posting of due awards (`flask points post-due`'s
service, writer.post_due), each with wall ms, Python CPU ms
(time.process_time) and SQL statements (an executemany counts as one; its
rows are noted). `flask ledger check`'s service must be clean after.

    python tests/bench/award_bench.py --db sqlite
    python tests/bench/award_bench.py --db postgresql --sql

Setup: the demo county (build_demo) with enough households, a staff account
reaching the county, fresh rules without a monthly cap (5 points, no
evidence, below the approval threshold). Due entries are made due by moving
`due_at` into the past with an UPDATE here, not in app code. A script that
prints figures, not a test.
"""
import argparse
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import checkout_wrk

say = checkout_wrk.say


class Meter:
    """Statements (and executemany rows) on an engine while active."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on = False
        self.calls: list[tuple[str, bool, int]] = []

        @event.listens_for(engine, "before_cursor_execute")
        def count(conn, cursor, statement, parameters, context, executemany):
            if self.on:
                if not executemany:
                    rows = 1
                elif (isinstance(parameters, (list, tuple)) and parameters
                      and isinstance(parameters[0], (tuple, list, dict))):
                    rows = len(parameters)  # a driver executemany: one row per parameter set
                else:  # insertmanyvalues: one statement carrying rows as VALUES groups
                    rows = statement.count("), (") + 1
                self.calls.append((statement, executemany, rows))

    def __enter__(self):
        self.calls = []
        self.on = True
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self.on = False

    def figures(self) -> dict:
        kinds = Counter(" ".join(s.split()).split(" ")[0].upper() for s, _m, _r in self.calls)
        many = [(r) for _s, m, r in self.calls if m]
        return {"wall_ms": self.wall * 1000, "cpu_ms": self.cpu * 1000, "stmts": len(self.calls),
                "many": len(many), "many_rows": sum(many), "kinds": dict(kinds.most_common())}

    def listing(self, width=150) -> list[str]:
        """Distinct statements with how often each ran (first `width` chars)."""
        seen = Counter()
        for s, m, r in self.calls:
            seen[(("[many] " if m else "") + " ".join(s.split()))[:width]] += 1
        return [f"  {n:5d} x {s}" for s, n in seen.most_common()]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--households", type=int, default=500, help="households per batch award")
    p.add_argument("--months", type=int, default=1, help="demo history (months of awards)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--many-due", type=int, default=5_000, help="due entries in the big post-due")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default=None)
    p.add_argument("--sql", action="store_true", help="list each measured step's statements")
    p.add_argument("--profile", type=int, default=0,
                   help="also cProfile one more batch award: the top N functions by cumulative time")
    args = p.parse_args()
    if args.db == "postgresql" and not args.db_name:
        import os
        args.db_name = f"aixin_award13_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="aixin-award-"))
    instance = workdir / "instance"
    instance.mkdir()
    url, drop = checkout_wrk.create_database(args, workdir)
    try:
        run(args, url, instance)
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, url, instance):
    from sqlalchemy import select, update

    from app.demo import build_demo
    from app.extensions import db
    from app.models import Household, LedgerEntry, Region, Rule, utcnow
    from app.services.clock import local_today
    from app.services.invariants import check_invariants, summary
    from app.services.ledger.writer import post_due
    from app.services.people.accounts import create_user, issue_token

    app = checkout_wrk.bench_app(url, instance)
    n = args.households
    with app.app_context():
        t0 = time.perf_counter()
        build_demo(households=int(n * 1.3) + 20, months=args.months, echo=lambda *a: None)
        county = db.session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.id)).first()
        ids = db.session.scalars(select(Household.id).join(Region, Region.id == Household.village_id).where(
            Region.path.startswith(county.path), Household.status == "active").order_by(Household.id)
            .limit(n)).all()
        assert len(ids) == n, f"only {len(ids)} active households"
        category = db.session.scalars(select(Rule.category).limit(1)).first()
        # run 1 and run 2 are posted 500 at a time (the first call warms), the rest together
        batches = args.runs + -(-max(0, args.many_due - (args.runs - 2) * n) // n)
        codes = [f"BENCH{i:02d}" for i in range(batches)]
        db.session.add_all(Rule(code=c, category=category, name=f"bench rule {c}", points=5,
                                cap_per_month=None, needs_evidence=False) for c in codes)
        staff = create_user(None, {"username": "award13", "password": "bench-password-1",
                                   "role": "staff", "region_id": county.id})
        token = issue_token(staff)[0]
        post_due(utcnow())  # whatever the demo left due
        db.session.commit()
        engine = db.engine
        say(f"{args.db}: built {db.session.query(Household).count()} households "
            f"({n} awarded), {db.session.query(LedgerEntry).count()} entries in "
            f"{time.perf_counter() - t0:.1f}s")
    meter = Meter(engine)
    client = app.test_client()
    with app.app_context():
        today = local_today(utcnow()).isoformat()

    def award(code):
        return client.post("/api/v1/awards", json={"household_ids": ids, "rule_code": code,
                                                   "occurred_on": today, "note": "bench"},
                           headers={"Authorization": f"Bearer {token}",
                                    "Idempotency-Key": secrets.token_hex(16)})

    rows = []
    # warm the path once with a small award (imports, statement caches)
    r = client.post("/api/v1/awards", json={"household_ids": ids[:5], "rule_code": codes[0],
                                            "occurred_on": today},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(16)})
    assert r.status_code == 201, r.get_data(as_text=True)
    batch_ids: list[list[int]] = []
    for i in range(args.runs):
        with meter:
            r = award(codes[i])
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True)[:500])
        items = r.get_json()["items"]
        assert len(items) == n and all(e["status"] == "pending" for e in items), items[:2]
        batch_ids.append([e["id"] for e in items])
        rows.append((f"batch award {n} households, run {i + 1}", meter.figures()))
        if args.sql and i == 0:
            say("\nstatements of batch award run 1:")
            say("\n".join(meter.listing()))

    if args.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        r = award(codes[args.runs])
        prof.disable()
        assert r.status_code == 201
        batch_ids.append([e["id"] for e in r.get_json()["items"]])
        codes.pop(args.runs)
        say(f"\ncProfile of one batch award of {n} (ms cumulative, ms own, calls; cProfile inflates):")
        stats = pstats.Stats(prof).stats
        ours = [kv for kv in stats.items() if "/app/" in kv[0][0].replace("\\", "/")]
        for title, rows_, key in (("app code by cumulative time", ours, 3), ("all by own time", stats.items(), 2)):
            say(f"  -- {title}:")
            for (fn, line, fname), v in sorted(rows_, key=lambda kv: -kv[1][key])[:args.profile]:
                short = "/".join(fn.replace("\\", "/").split("/")[-2:])
                say(f"  {v[3] * 1000:8.1f} {v[2] * 1000:7.1f} {v[1]:7d}  {short}:{line} {fname}")

    def make_due(entry_ids):
        with app.app_context():
            past = utcnow() - timedelta(minutes=1)
            for k in range(0, len(entry_ids), 1000):
                db.session.execute(update(LedgerEntry).where(LedgerEntry.id.in_(entry_ids[k:k + 1000]))
                                   .values(due_at=past, notice_ends_at=past))
            db.session.commit()

    def post(label):
        with app.app_context():
            with meter:
                count = post_due(utcnow())
                db.session.commit()
            rows.append((f"post due, {label}", meter.figures() | {"posted": count}))
            if args.sql:
                say(f"\nstatements of post due, {label}:")
                say("\n".join(meter.listing()))
            return count

    for i in range(2):
        make_due(batch_ids[i])
        got = post(f"{n} entries, run {i + 1}")
        assert got == n, got
    # the rest of the measured batches plus unmeasured ones: args.many_due pending entries
    for code in codes[args.runs:]:
        r = award(code)
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True)[:500])
        batch_ids.append([e["id"] for e in r.get_json()["items"]])
    pending = [e for b in batch_ids[2:] for e in b][:args.many_due]
    make_due(pending)
    got = post(f"{len(pending)} entries")
    assert got == len(pending), got

    with app.app_context():
        wall0 = time.perf_counter()
        violations = check_invariants()
        counted = summary()
        db.session.rollback()
        check_s = time.perf_counter() - wall0
    say(f"\n{args.db}: ledger check {'ok' if not violations else 'FAILED'} in {check_s:.1f}s "
        f"({', '.join(f'{v} {k}' for k, v in counted.items())})")
    for v in violations[:10]:
        say(f"  invariant {v.invariant}: {v.message}")

    say(f"\n{args.db}, N={n}:")
    say(f"  {'step':38s} {'wall ms':>8s} {'CPU ms':>8s} {'stmts':>6s} {'many(rows)':>11s} "
        f"{'ms/entry':>8s} {'stmts/entry':>11s}  kinds")
    for label, f in rows:
        m = f.get("posted", n)
        say(f"  {label:38s} {f['wall_ms']:8.0f} {f['cpu_ms']:8.0f} {f['stmts']:6d} "
            f"{f['many']:4d}({f['many_rows']:5d}) {f['wall_ms'] / m:8.3f} {f['stmts'] / m:11.3f}  "
            + ", ".join(f"{k} {v}" for k, v in f["kinds"].items()))
    if violations:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
