"""Restore drill: a backup taken by `flask backup` while checkouts and awards stream
against a live server, restored by `flask restore` into a brand-new database,
passes `flask ledger check`, and holds every checkout and award acknowledged
before the backup began. On SQLite and on PostgreSQL (TEST_DATABASE_URL)."""
import os
import subprocess
import sys
import threading
import time

from sqlalchemy import create_engine, select

from app import create_app
from app.database import normalise_url
from app.extensions import db
from app.models import Checkout, LedgerEntry
from app.services.people.accounts import issue_token
from app.services.safekeeping import backups
from tests.checkout_helpers import give_points, more_households, stocked
from tests.conftest import base_config
from tests.freshdb import PG_URL, fresh_database
from tests.live import ROOT, live_server, request_json
from tests.points_helpers import make_rule, today

STREAM_BEFORE = 1.0   # seconds of writes at least before the backup begins
STREAM_AFTER = 0.3    # and after it ends
CHECKOUT_THREADS, AWARD_THREADS = 3, 2
THINK = 0.05          # seconds a client waits between writes: counters, not a benchmark


def flask(database_url: str, instance: str, *args: str, wait: bool = True):
    """The `flask` command in a process of its own, configured as the server is."""
    cmd = [sys.executable, "-m", "flask", "--app", f"app:create_app(instance_path={instance!r})", *args]
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
           "FLASK_SECRET_KEY": "live-test-secret"}
    if wait:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def copy_made(folder, deadline: float) -> float:
    """Wait until the backup's copy is in place (named, before its verification); when."""
    while time.monotonic() < deadline:
        if folder.exists() and any(backups.NAME.match(p.name) for p in folder.iterdir()):
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError("the backup's copy did not appear")


class Stream:
    """Client threads writing until told to stop; each acknowledged write with the
    moment its 201 arrived."""

    def __init__(self):
        self.stop = threading.Event()
        self.acked: list[tuple[str, int, float]] = []  # (kind, id, when acknowledged)
        self.refused: list = []
        self.lock = threading.Lock()

    def run(self, kind: str, send):
        while not self.stop.is_set():
            time.sleep(THINK)
            status, body = send()
            now = time.monotonic()
            with self.lock:
                if status == 201:
                    ids = [body["id"]] if kind == "checkout" else [e["id"] for e in body["items"]]
                    self.acked += [(kind, i, now) for i in ids]
                else:
                    self.refused.append((kind, status, body))

    def wait_for(self, each: int, at_least: float, deadline: float) -> None:
        """Until `each` checkouts and awards are acknowledged, and `at_least` seconds passed."""
        started = time.monotonic()
        while time.monotonic() < deadline:
            with self.lock:
                kinds = [k for k, _, _ in self.acked]
            if (kinds.count("checkout") >= each and kinds.count("award") >= each
                    and time.monotonic() - started >= at_least):
                return
            time.sleep(0.05)

    def before(self, moment: float, kind: str) -> set[int]:
        return {i for k, i, at in self.acked if k == kind and at < moment}


def test_backup_under_load_restores_every_acknowledged_write(world, database_url, tmp_path):
    """Checkouts and awards stream from five threads; `flask backup` runs meanwhile; restored into
    a new database the copy passes `flask ledger check` and holds every write acknowledged before
    the backup began, and writes went on while the backup ran."""
    kind = "postgresql" if PG_URL else "sqlite"
    products = stocked(world, {"香皂": 5000})
    buyers = more_households(world, 6)
    for hh in buyers:
        give_points(world, hh, 100_000)
    make_rule("T-DRILL", 1)
    volunteer = [issue_token(world.users["volunteer"])[0] for _ in range(CHECKOUT_THREADS)]
    staff = [issue_token(world.users["staff"])[0] for _ in range(AWARD_THREADS)]
    db.session.commit()
    soap, market, day = products["香皂"].id, world.sm_east.id, today()
    hids = [hh.id for hh in buyers]
    instance = str(tmp_path / "live-instance")
    stream = Stream()

    def checkout(i):
        n = iter(range(10**9))
        return lambda: request_json(base, "POST", "/api/v1/checkouts", volunteer[i], {
            "supermarket_id": market, "household_id": hids[(next(n) + i) % len(hids)],
            "lines": [{"product_id": soap, "quantity": 1}]})

    def awarding(i):
        n = iter(range(10**9))
        return lambda: request_json(base, "POST", "/api/v1/awards", staff[i], {
            "household_ids": [hids[(next(n) + i) % len(hids)]], "rule_code": "T-DRILL",
            "occurred_on": day})

    started = time.monotonic()
    with live_server(database_url, instance) as base:
        threads = [threading.Thread(target=stream.run, args=("checkout", checkout(i)))
                   for i in range(CHECKOUT_THREADS)]
        threads += [threading.Thread(target=stream.run, args=("award", awarding(i)))
                    for i in range(AWARD_THREADS)]
        for t in threads:
            t.start()
        stream.wait_for(10, STREAM_BEFORE, time.monotonic() + 60)
        backup_began = time.monotonic()
        proc = flask(database_url, instance, "backup", str(tmp_path / "copies"), wait=False)
        try:
            # The stream goes on until the copy is taken; its verification then runs on a quiet
            # server (it restores the copy into a scratch database: seconds under load).
            copied = copy_made(tmp_path / "copies", backup_began + 120)
            time.sleep(STREAM_AFTER)
        finally:
            stream.stop.set()
            for t in threads:
                t.join(60)
            output, _ = proc.communicate(timeout=180)
        backup_ended = time.monotonic()
    print("\n" + output)
    assert proc.returncode == 0, output
    assert "ledger check: ok" in output
    assert not stream.refused, stream.refused[:3]
    before = {k: stream.before(backup_began, k) for k in ("checkout", "award")}
    assert len(before["checkout"]) >= 10 and len(before["award"]) >= 10, before
    during = [a for a in stream.acked if backup_began < a[2] < copied]
    assert during, "no write was acknowledged while the backup was taken"
    [copy] = [p for p in (tmp_path / "copies").iterdir() if p.name.startswith("aixin-")]

    with fresh_database(kind, tmp_path) as fresh_url:
        # `flask restore` in this process (the command itself, without another start-up);
        # the check runs apart, as an operator would run it.
        fresh = create_app(base_config(fresh_url), instance_path=instance)
        with fresh.app_context():
            restored = fresh.test_cli_runner().invoke(args=["restore", str(copy)])
            db.session.remove()
            db.engine.dispose()
        assert restored.exit_code == 0, restored.output
        check = flask(fresh_url, instance, "ledger", "check")
        assert check.returncode == 0 and "ledger check: ok" in check.stdout, check.stdout + check.stderr
        engine = create_engine(normalise_url(fresh_url))
        try:
            with engine.connect() as conn:
                checkouts = set(conn.scalars(select(Checkout.id)))
                awards = set(conn.scalars(select(LedgerEntry.id).where(LedgerEntry.rule_code == "T-DRILL")))
        finally:
            engine.dispose()
    assert before["checkout"] <= checkouts, sorted(before["checkout"] - checkouts)
    assert before["award"] <= awards, sorted(before["award"] - awards)
    print(f"\nrestore drill on {kind}: {len(stream.acked)} writes acknowledged, "
          f"{len(before['checkout'])} checkouts and {len(before['award'])} awards before the backup, "
          f"{len(during)} while it was taken ({copied - backup_began:.1f} s), "
          f"backup done in {backup_ended - backup_began:.1f} s; "
          f"whole drill {time.monotonic() - started:.1f} s")
