"""SQLite's writers queue on a file lock (app.database.SQLiteConnection), and
a late_write_lock request reads outside the write transaction until its
first write: what makes a busy counter fast without giving up invariants."""
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, select

from app.database import SQLiteConnection
from app.extensions import db
from app.models import Household
from tests.checkout_helpers import card_for, give_points, stocked


def connect(path) -> SQLiteConnection:
    conn = sqlite3.connect(path, factory=SQLiteConnection, isolation_level=None,
                           check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.open_writer_lock()
    return conn


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "w.db")
    with connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
    return path


def test_a_second_writer_waits_for_the_first_to_commit(db_path):
    """While one connection holds the write transaction, another's BEGIN waits for the commit, then sees its row."""
    first, second = connect(db_path), connect(db_path)
    first.begin_immediate()
    first.execute("INSERT INTO t VALUES (1)")
    waited = {}

    def write():
        started = time.monotonic()
        second.begin_immediate()
        waited["s"] = time.monotonic() - started
        waited["seen"] = second.execute("SELECT count(*) FROM t").fetchone()[0]
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()  # still queued behind the first writer
    first.commit()
    thread.join(5)
    assert waited["s"] >= 0.25 and waited["seen"] == 1
    assert first.execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]


def test_a_writer_gives_up_after_its_timeout(db_path):
    """A writer that cannot get the lock in time fails with SQLite's own "database is locked", holding nothing."""
    first, second = connect(db_path), connect(db_path)
    first.begin_immediate()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.begin_immediate(timeout=0.2)
    assert not second.holds_writer_lock
    first.rollback()
    second.begin_immediate(timeout=0.2)  # free again after the rollback
    second.commit()


def test_the_lock_goes_with_rollback_and_close(db_path):
    """Rollback and close each release the queue, so a failed or abandoned request never blocks the next one."""
    a = connect(db_path)
    a.begin_immediate()
    a.rollback()
    b = connect(db_path)
    b.begin_immediate(timeout=0.2)
    b.close()
    c = connect(db_path)
    c.begin_immediate(timeout=0.2)
    c.commit()


def test_late_write_lock_reads_before_taking_the_lock(app, world, client, monkeypatch):
    """A checkout reads (token, card, household, products) before it asks for SQLite's write lock: a writer
    holding the lock delays it only from its first write, and it then debits what that writer committed."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    products = stocked(world)
    household = world.households["v1a"]
    give_points(world, household, 100)
    payload = card_for(world, "v1a")
    body = {"supermarket_id": world.sm_east.id, "card_payload": payload,
            "lines": [{"product_id": products["香皂"].id, "quantity": 2}]}
    headers = world.headers("volunteer")
    holder = connect(db.engine.url.database)
    holder.begin_immediate()
    holder.execute("UPDATE households SET balance = balance + 7 WHERE id = ?", (household.id,))
    read, asked = [], threading.Event()
    begin = SQLiteConnection.begin_immediate

    def asking(self, *args, **kwargs):
        asked.set()
        return begin(self, *args, **kwargs)

    def spy(conn, cursor, statement, *args):
        if not asked.is_set():
            read.append(statement.split())  # e.g. ["SELECT", "cards.id,", ...]

    monkeypatch.setattr(SQLiteConnection, "begin_immediate", asking)
    event.listen(db.engine, "before_cursor_execute", spy)
    answer = {}
    try:
        thread = threading.Thread(target=lambda: answer.update(
            r=client.post("/api/v1/checkouts", headers=headers, json=body)))
        thread.start()
        assert asked.wait(10)
        time.sleep(0.2)
        assert thread.is_alive()  # waiting for the holder
        holder.commit()
        thread.join(10)
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
        holder.close()
    assert all(words[0] == "SELECT" for words in read), read
    assert {"supermarkets.id,", "products.id,"} <= {words[1] for words in read}, read
    # The till's read brings the card and its household (one statement for all three).
    assert any(words[1] == "supermarkets.id," and "LEFT OUTER JOIN cards" in " ".join(words)
               and "LEFT OUTER JOIN households" in " ".join(words) for words in read), read
    assert answer["r"].status_code == 201, answer["r"].get_json()
    assert answer["r"].get_json()["balance_after"] == 100 + 7 - 8
    db.session.rollback()
    assert db.session.scalar(select(Household.balance).where(Household.id == household.id)) == 99


def test_writers_behind_an_outside_lock_give_up_within_their_timeout(db_path):
    """Another program (the sqlite3 shell, a backup) holds the write lock without our queue: the writer
    in front waits its timeout in SQLite's busy handler, and one queued behind it does not wait twice."""
    outside = sqlite3.connect(db_path, isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")
    first = sqlite3.connect(db_path, factory=SQLiteConnection, isolation_level=None, timeout=1,
                            check_same_thread=False)
    first.open_writer_lock()
    second = sqlite3.connect(db_path, factory=SQLiteConnection, isolation_level=None, timeout=1,
                             check_same_thread=False)
    second.open_writer_lock()
    took = {}

    def write(name, conn):
        started = time.monotonic()
        try:
            conn.begin_immediate()
        except sqlite3.OperationalError as err:
            took[name] = (time.monotonic() - started, str(err))

    threads = [threading.Thread(target=write, args=("first", first))]
    threads[0].start()
    time.sleep(0.3)  # the first holds our queue's lock, waiting for the outside program
    threads.append(threading.Thread(target=write, args=("second", second)))
    threads[1].start()
    for thread in threads:
        thread.join(10)
    outside.rollback()
    assert took["first"][1] == took["second"][1] == "database is locked"
    assert 0.9 <= took["first"][0] < 1.5 and took["second"][0] < 1.2, took
    second.begin_immediate()  # the outside program let go: the next write goes through
    second.commit()
