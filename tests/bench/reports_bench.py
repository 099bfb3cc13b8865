"""Reports at county scale: generate (or reuse) a county and time every report.

    python tests/bench/reports_bench.py --db sqlite
    python tests/bench/reports_bench.py --db postgresql
    python tests/bench/reports_bench.py --db sqlite --reuse sqlite:////tmp/county.db

Generates the county as `flask demo --households 50000 --villages 300 --months
12` does (timed), then, in process through the app (no network, so the
figures are the server's own time), asks every report's JSON (first page)
for a one-year range over the whole county as the admin, every report page
as a cadre of the county, and the county-wide exports (CSV and xlsx), three
times each, and prints the median and the slowest. Checks the ledger
afterwards. A script that prints figures, not a test.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--households", type=int, default=50_000)
    p.add_argument("--villages", type=int, default=300)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--reuse", metavar="URL", help="a database a --keep run left (no generation)")
    p.add_argument("--keep", action="store_true", help="keep the generated database")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    from sqlalchemy import create_engine, text

    workdir = Path(tempfile.mkdtemp(prefix="aixin-reports-"))
    if args.reuse:
        url = args.reuse
    elif args.db == "sqlite":
        url = f"sqlite:///{workdir / 'county.db'}"
    else:
        name = f"aixin_reports_{os.getpid()}"
        admin = create_engine(f"{args.pg}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = f"{args.pg}/{name}"

    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False}, instance_path=str(workdir / "instance"))
    with app.app_context():
        if not args.reuse:
            from app.demo import build_demo
            started = time.perf_counter()
            build_demo(households=args.households, villages=args.villages, months=args.months,
                       echo=lambda *a: None)
            print(f"generated {args.households} households in {args.villages} villages, "
                  f"{args.months} months: {time.perf_counter() - started:.0f} s")
        figures = run(app, db, args.rounds)
        from app.services.invariants import check_invariants
        started = time.perf_counter()
        violations = check_invariants()
        figures.append(("flask ledger check", time.perf_counter() - started, None))
        print(f"ledger check: {len(violations)} violations")
        db.session.remove()
        db.engine.dispose()
    if args.keep or args.reuse:
        print(f"kept: {url}")
    elif args.db == "postgresql":
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


def run(app, db, rounds: int) -> list:
    from sqlalchemy import func, select

    from app.models import Checkout, Household, LedgerEntry, Region, User
    from app.services.clock import local_today
    from app.services.people.accounts import issue_token

    admin = db.session.scalar(select(User).where(User.username == "admin"))
    cadre = db.session.scalar(select(User).where(User.username == "cadre"))
    token, _ = issue_token(admin)
    db.session.commit()
    counts = [db.session.scalar(select(func.count()).select_from(m))
              for m in (Household, LedgerEntry, Checkout, Region)]
    print(f"county: {counts[0]} households, {counts[1]} ledger entries, {counts[2]} checkouts, "
          f"{counts[3]} regions")
    today = local_today()
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pages = app.test_client()
    with pages.session_transaction() as session:
        session["_user_id"] = str(cadre.id)
        session["_fresh"] = True
    village = db.session.scalar(select(Region.id).where(Region.level == "village").limit(1))
    asks = [
        ("API summary", api, "/api/v1/reports/summary", year),
        ("API engagement (page 1)", api, "/api/v1/reports/engagement", year),
        ("API engagement by last award", api, "/api/v1/reports/engagement", {**year, "sort": "last_award_on"}),
        ("API villages", api, "/api/v1/reports/villages", year),
        ("API trends", api, "/api/v1/reports/trends", year),
        ("API inactive (page 1)", api, "/api/v1/reports/inactive", {}),
        ("API fairness", api, "/api/v1/reports/fairness", year),
        ("page dashboard (this year)", pages, "/reports/", {"period": "year"}),
        ("page engagement", pages, "/reports/engagement", {"period": "custom", **year}),
        ("page engagement, one village", pages, "/reports/engagement",
         {"period": "custom", "village_id": village, **year}),
        ("page villages", pages, "/reports/villages", {"period": "custom", **year}),
        ("page trends", pages, "/reports/trends", {}),
        ("page needs a visit", pages, "/reports/inactive", {}),
        ("page fairness", pages, "/reports/fairness", {"period": "custom", **year}),
        ("API fairness, last 30 days", api, "/api/v1/reports/fairness", {}),
        ("page supermarkets", pages, "/reports/supermarkets", {"period": "custom", **year}),
        ("page donations", pages, "/reports/donations", {"period": "custom", **year}),
        ("export engagement CSV (county)", api, "/api/v1/reports/engagement", {**year, "format": "csv"}),
        ("export engagement xlsx (county)", api, "/api/v1/reports/engagement", {**year, "format": "xlsx"}),
        ("export needs a visit CSV", api, "/api/v1/reports/inactive", {"format": "csv"}),
        ("export households register CSV (county)", pages, "/households/", {"format": "csv"}),
        ("export households register xlsx (county)", pages, "/households/", {"format": "xlsx"}),
    ]
    out = []
    print(f"\n{'what':36} {'median s':>9} {'max s':>7} {'bytes':>10}")
    for name, client, path, query in asks:
        times, size = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            r = client.get(path, query_string=query, headers=headers if client is api else {})
            body = r.get_data()
            times.append(time.perf_counter() - started)
            assert r.status_code == 200, (name, r.status_code, body[:300])
            size = len(body)
        out.append((name, statistics.median(times), max(times)))
        print(f"{name:36} {statistics.median(times):9.3f} {max(times):7.3f} {size:10d}")
    return out


if __name__ == "__main__":
    main()
