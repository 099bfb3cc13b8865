"""The ledger writer's bulk path: how long `writer.add_many` takes to write
millions of awards with their balances and monthly totals, as a history import
or the demo would.

    python tests/bench/ledger_bulk_bench.py --entries 2000000
    python tests/bench/ledger_bulk_bench.py --db postgresql --entries 2000000

Builds a county of --households households (no history) into a fresh
database, generates awards and deductions over a year (a third still on
notice), writes them with `add_many` in batches of --batch, commits, and prints
entries per second; then runs the ledger check (balances and totals against
the entries) and prints how long that took. A script that prints figures, not
a test. PostgreSQL: a throwaway database on --pg (created, dropped).
"""
import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, time as clock_time, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--households", type=int, default=20_000)
    p.add_argument("--entries", type=int, default=2_000_000)
    p.add_argument("--batch", type=int, default=200_000, help="entries per add_many call")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--no-check", action="store_true", help="skip the ledger check afterwards")
    p.add_argument("--seed", type=int, default=11)
    return p.parse_args()


def database(args, workdir: Path):
    if args.db == "sqlite":
        return f"sqlite:///{workdir / 'bulk.db'}", lambda: None
    import psycopg

    name = f"aixin_bulk_{os.getpid()}"
    admin = args.pg.rstrip("/") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return args.pg.rstrip("/") + "/" + name, drop


def main() -> None:
    args = parse_args()
    from sqlalchemy import func, select

    from app import create_app
    from app.demo import build_demo
    from app.extensions import db
    from app.models import Household, LedgerEntry, User
    from app.services.invariants import check_invariants
    from app.services.ledger import writer
    from app.services.points.rules import list_rules

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = database(args, Path(tmp))
        try:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                              "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                              "RATELIMIT_STORAGE_URI": "memory://"}, instance_path=str(Path(tmp) / "i"))
            with app.app_context():
                build_demo(households=args.households, months=0, echo=lambda *a: None)
                ids = db.session.scalars(select(Household.id)).all()
                staff = db.session.scalar(select(User.id).where(User.username == "staff"))
                rules = [r for r in list_rules() if r.active]
                categories = {r.id: r.category for r in rules}
                rng = random.Random(args.seed)
                now = datetime.now(timezone.utc)
                today = now.date()
                pending_ends = now + timedelta(days=3)
                print(f"{args.db}: {len(ids)} households, {len(rules)} rules; writing {args.entries:,} entries",
                      flush=True)
                written, started = 0, time.perf_counter()
                while written < args.entries:
                    n = min(args.batch, args.entries - written)
                    rows = []
                    for _ in range(n):
                        rule = rng.choice(rules)
                        day = today - timedelta(days=rng.randrange(365))
                        made = datetime.combine(day, clock_time(10), tzinfo=timezone.utc)
                        posted = rng.random() > 0.33
                        ends = made if posted else pending_ends
                        rows.append((rng.choice(ids), "award" if rule.points > 0 else "deduction",
                                     rule.points, "posted" if posted else "pending", rule.id,
                                     rule.code, day, made, staff, ends, ends,
                                     made if posted else None, False))
                    writer.add_many(rows, now, categories=categories)
                    db.session.commit()
                    written += n
                    print(f"  {written:>10,} entries  {time.perf_counter() - started:7.1f} s", flush=True)
                seconds = time.perf_counter() - started
                total = db.session.scalar(select(func.count()).select_from(LedgerEntry))
                print(f"wrote {written:,} entries in {seconds:.1f} s ({written / seconds:,.0f} a second); "
                      f"{total:,} in the ledger", flush=True)
                if not args.no_check:
                    started = time.perf_counter()
                    violations = check_invariants(now + timedelta(seconds=1))
                    print(f"ledger check: {len(violations)} violations in "
                          f"{time.perf_counter() - started:.1f} s", flush=True)
                    for v in violations[:10]:
                        print("  ", v)
                db.session.remove()
                db.engine.dispose()
        finally:
            drop()


if __name__ == "__main__":
    main()
