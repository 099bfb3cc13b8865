"""The raw-SQL floor of a checkout, for checkout_wrk.py: what the app's
checkout sends to the database, as plain SQL through the same driver
(psycopg 3 / sqlite3), no Flask, no SQLAlchemy, as fast as one process goes.

Modes (`run(ctx, mode, ...)`, one process per client):
- "sql": the writes of a checkout (app/services/checkout/checkouts.py and
  app/services/ledger/writer.py), in the app's order: the conditional debit
  UPDATE ... RETURNING, the lots' locking read and the stock UPDATE, the
  checkout INSERT ... RETURNING, the ledger entry INSERT ... RETURNING, the
  monthly totals upsert, the checkout's entry_id UPDATE, the line INSERT,
  the lot movement, the audit row, the idempotency key; one transaction.
- "all": the same, after the reads the app makes before the lock (the
  due-awards probe, the token, the idempotency lock and lookup, the
  product, the supermarket, the card, the household): every statement the
  app sends, with none of its Python.
- "late" (PostgreSQL): "sql" with the lots locked last, just before the
  commit: how much the one hot lot row (the load's one product) costs
  while the transaction holds it.
- "cte" (PostgreSQL): the writes in one round trip, a PL/pgSQL function
  called once per checkout (created by `install_function`).

Every checkout written is a real one: `flask ledger check` and the lot
checks must stay clean after a floor run too.
"""
import hashlib
import json
import random
import time
from datetime import UTC, datetime

BODY = json.dumps({"id": 0, "household_id": 0, "supermarket_id": 0, "total_points": 5, "balance_after": 0,
                   "card_used": True, "no_card_reason": None, "created_at": "2026-11-29T08:00:00+00:00",
                   "voided_at": None, "lines": [{"product_id": 0, "name": "牙膏 120g", "quantity": 1,
                                                 "unit_points": 5, "points": 5}]}, ensure_ascii=False)
PRICE = 5

FUNCTION = """
CREATE OR REPLACE FUNCTION bench_checkout(p_household int, p_sm int, p_product int, p_card int, p_actor int,
    p_village int, p_now timestamptz, p_today date, p_note text, p_key text, p_body text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_balance int; v_lot int; v_checkout int; v_entry int;
BEGIN
  UPDATE households SET balance = balance - 5, last_redeemed_on = p_today, updated_at = p_now
    WHERE id = p_household AND balance >= 5 RETURNING balance INTO v_balance;
  IF v_balance IS NULL THEN RETURN NULL; END IF;
  SELECT id INTO v_lot FROM lots WHERE supermarket_id = p_sm AND product_id = p_product AND remaining > 0
    ORDER BY product_id, id LIMIT 1 FOR UPDATE;
  UPDATE lots SET remaining = remaining - 1, redeemed = redeemed + 1 WHERE id = v_lot AND remaining >= 1;
  INSERT INTO checkouts (supermarket_id, household_id, card_id, card_used, no_card_reason, total_points,
      balance_after, created_at, created_by_id)
    VALUES (p_sm, p_household, p_card, true, NULL, 5, v_balance, p_now, p_actor) RETURNING id INTO v_checkout;
  INSERT INTO ledger_entries (household_id, kind, points, status, note, occurred_on, created_at, created_by_id,
      posted_at, needs_approval, withdrawn, checkout_id)
    VALUES (p_household, 'redemption', -5, 'posted', p_note, p_today, p_now, p_actor, p_now, false, false,
      v_checkout) RETURNING id INTO v_entry;
  INSERT INTO household_months (household_id, month, village_id, awarded, awards, deducted, deductions,
      redeemed, checkouts)
    VALUES (p_household, date_trunc('month', p_today)::date, p_village, 0, 0, 0, 0, 5, 1)
    ON CONFLICT (household_id, month) DO UPDATE SET redeemed = household_months.redeemed + 5,
      checkouts = household_months.checkouts + 1;
  UPDATE checkouts SET entry_id = v_entry WHERE id = v_checkout;
  INSERT INTO checkout_lines (checkout_id, product_id, quantity, unit_points, points)
    VALUES (v_checkout, p_product, 1, 5, 5);
  INSERT INTO lot_movements (lot_id, kind, quantity, household_id, village_id, checkout_id, created_by_id,
      created_at) VALUES (v_lot, 'redemption', 1, p_household, p_village, v_checkout, p_actor, p_now);
  INSERT INTO audit_records (at, user_id, action, object_type, object_id, details, address, household_id,
      village_id) VALUES (p_now, p_actor, 'checkout.create', 'checkouts', v_checkout,
      '{"total": 5, "card_used": true}', '127.0.0.1', p_household, p_village);
  INSERT INTO idempotency_keys (user_id, key, fingerprint, status, content_type, body, created_at)
    VALUES (p_actor, p_key, md5(p_key) || md5(p_key), 201, 'application/json', p_body, p_now);
  RETURN v_checkout;
END $$;
"""


def install_function(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FUNCTION)


class Floor:
    """One client's connection and statements."""

    def __init__(self, ctx: dict, mode: str, seed: int):
        self.ctx, self.mode = ctx, mode
        self.rng = random.Random(seed)
        self.pg = ctx["url"].startswith("postgresql")
        self.n = 0
        self.tag = f"floor-{mode}-{seed}-{time.time_ns()}"
        if self.pg:
            import psycopg

            self.conn = psycopg.connect(ctx["url"])
            self.m = "%s"
        else:
            import fcntl
            import sqlite3

            path = ctx["url"].removeprefix("sqlite:///")
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # The app's writers queue on a flock of <database>-writer (app/database.py): so do we.
            self.lock = open(path + "-writer", "a+")  # noqa: SIM115 (held for the process's life)
            self.fcntl = fcntl
            self.m = "?"
        cur = self.conn.cursor()
        cur.execute(self.q("SELECT household_id, id, token_hash FROM cards WHERE status = 'active'"))
        self.cards = {hid: (cid, token) for hid, cid, token in cur.fetchall()}
        cur.execute(self.q("SELECT user_id, token_hash FROM api_tokens WHERE user_id = ?"), (ctx["actor_id"],))
        self.token_hash = cur.fetchone()[1]
        if not self.pg:
            self.conn.commit()
        else:
            self.conn.rollback()

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def stamp(self, now: datetime):
        # SQLite holds SQLAlchemy's text form of the app's UTC datetimes.
        return now if self.pg else now.replace(tzinfo=None).isoformat(sep=" ")

    def take(self, cur) -> int:
        """The lots' locking read and the stock UPDATE (one lot: the load has one product)."""
        cur.execute(self.q("SELECT id, product_id, remaining, received_on, best_before FROM lots "
                           "WHERE supermarket_id = ? AND product_id IN (?) AND remaining > 0 "
                           "ORDER BY product_id, id" + (" FOR UPDATE" if self.pg else "")),
                    (self.ctx["sm_id"], self.ctx["product_id"]))
        lot = cur.fetchall()[0][0]
        cur.execute(self.q("UPDATE lots SET remaining = remaining - ?, redeemed = redeemed + ? "
                           "WHERE id = ? AND remaining >= ?"), (1, 1, lot, 1))
        return lot

    def movement(self, cur, lot, hid, vid, checkout, ts) -> None:
        cur.execute(self.q("INSERT INTO lot_movements (lot_id, kind, quantity, household_id, village_id, "
                           "checkout_id, created_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                    (lot, "redemption", 1, hid, vid, checkout, self.ctx["actor_id"], ts))

    def one(self) -> bool:
        """One checkout; False when refused (points)."""
        ctx = self.ctx
        self.n += 1
        hid = self.rng.choice(ctx["households"])
        vid = ctx["villages"][hid]
        card_id, card_token = self.cards[hid]
        now = datetime.now(UTC)
        today = now.date()
        key = f"{self.tag}-{self.n}"
        ts = self.stamp(now)
        if self.mode == "cte":
            cur = self.conn.execute(
                "SELECT bench_checkout(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (hid, ctx["sm_id"], ctx["product_id"], card_id, ctx["actor_id"], vid, now, today,
                 ctx["sm_name"], key, BODY))
            ok = cur.fetchone()[0] is not None
            self.conn.commit()
            return ok
        q = self.q
        cur = self.conn.cursor()
        if self.mode == "all":
            # As the app sends them. The probe's LIMIT stays a parameter, as SQLAlchemy renders it: with
            # a literal LIMIT 1, psycopg's prepared statement gets PostgreSQL's generic plan, a sequential
            # scan of the ledger (9 ms at 77,000 entries) when nothing is due.
            cur.execute(q("SELECT 1 FROM ledger_entries WHERE status = ? AND due_at <= ? LIMIT ?"), ("pending", ts, 1))
            cur.fetchall()
            cur.execute(q("SELECT users.id, users.username, users.role, users.active, api_tokens.id, "
                          "api_tokens.revoked_at, api_tokens.expires_at FROM users JOIN api_tokens "
                          "ON api_tokens.user_id = users.id WHERE api_tokens.token_hash = ?"), (self.token_hash,))
            cur.fetchall()
            if self.pg:
                lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_id,))
                cur.fetchall()
            cur.execute(q("SELECT fingerprint, status, content_type, body FROM idempotency_keys "
                          "WHERE user_id = ? AND key = ?"), (ctx["actor_id"], key))
            cur.fetchall()
            cur.execute(q("SELECT id, name, unit, points_price, category, barcode, active FROM products "
                          "WHERE id IN (?)"), (ctx["product_id"],))
            cur.fetchall()
            cur.execute(q("SELECT supermarkets.id, supermarkets.name, supermarkets.region_id, supermarkets.active "
                          "FROM supermarkets JOIN user_supermarkets ON supermarkets.id = "
                          "user_supermarkets.supermarket_id WHERE user_supermarkets.user_id = ? "
                          "AND supermarkets.id = ?"), (ctx["actor_id"], ctx["sm_id"]))
            cur.fetchall()
            cur.execute(q("SELECT id, household_id, token_hash, number, status FROM cards WHERE token_hash = ?"),
                        (card_token,))
            cur.fetchall()
            cur.execute(q("SELECT id, code, village_id, head_name, status, balance FROM households "
                          "WHERE id = ?"), (hid,))
            cur.fetchall()
        if not self.pg:
            self.fcntl.flock(self.lock, self.fcntl.LOCK_EX)
            cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(q("UPDATE households SET balance = balance - ?, last_redeemed_on = ?, updated_at = ? "
                          "WHERE id = ? AND balance >= ? RETURNING balance"),
                        (PRICE, today if self.pg else today.isoformat(), ts, hid, PRICE))
            row = cur.fetchone()
            if row is None:
                self.conn.rollback()
                return False
            balance = row[0]
            late = self.mode == "late"
            if not late:
                lot = self.take(cur)
            cur.execute(q("INSERT INTO checkouts (supermarket_id, household_id, card_id, card_used, no_card_reason, "
                          "total_points, balance_after, created_at, created_by_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                          "RETURNING id"),
                        (ctx["sm_id"], hid, card_id, True, None, PRICE, balance, ts, ctx["actor_id"]))
            checkout = cur.fetchone()[0]
            cur.execute(q("INSERT INTO ledger_entries (household_id, kind, points, status, note, occurred_on, "
                          "created_at, created_by_id, posted_at, needs_approval, withdrawn, checkout_id) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
                        (hid, "redemption", -PRICE, "posted", ctx["sm_name"],
                         today if self.pg else today.isoformat(), ts, ctx["actor_id"], ts, False, False, checkout))
            entry = cur.fetchone()[0]
            month = today.replace(day=1)
            cur.execute(q("INSERT INTO household_months (household_id, month, village_id, awarded, awards, deducted, "
                          "deductions, redeemed, checkouts) SELECT id, ?, village_id, ?, ?, ?, ?, ?, ? FROM households "
                          "WHERE id = ? ON CONFLICT (household_id, month) DO UPDATE SET "
                          "awarded = household_months.awarded + excluded.awarded, "
                          "awards = household_months.awards + excluded.awards, "
                          "deducted = household_months.deducted + excluded.deducted, "
                          "deductions = household_months.deductions + excluded.deductions, "
                          "redeemed = household_months.redeemed + excluded.redeemed, "
                          "checkouts = household_months.checkouts + excluded.checkouts"),
                        (month if self.pg else month.isoformat(), 0, 0, 0, 0, PRICE, 1, hid))
            cur.execute(q("UPDATE checkouts SET entry_id = ? WHERE id = ?"), (entry, checkout))
            cur.execute(q("INSERT INTO checkout_lines (checkout_id, product_id, quantity, unit_points, points) "
                          "VALUES (?, ?, ?, ?, ?) RETURNING id"), (checkout, ctx["product_id"], 1, PRICE, PRICE))
            cur.fetchone()
            if not late:
                self.movement(cur, lot, hid, vid, checkout, ts)
            cur.execute(q("INSERT INTO audit_records (at, user_id, action, object_type, object_id, details, address, "
                          "household_id, village_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                        (ts, ctx["actor_id"], "checkout.create", "checkouts", checkout,
                         '{"total": 5, "card_used": true}', "127.0.0.1", hid, vid))
            cur.execute(q("INSERT INTO idempotency_keys (user_id, key, fingerprint, status, content_type, body, "
                          "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                        (ctx["actor_id"], key, hashlib.sha256(key.encode()).hexdigest(), 201,
                         "application/json", BODY, ts))
            if late:  # the hot lot row locked last: held for two statements and the commit
                lot = self.take(cur)
                self.movement(cur, lot, hid, vid, checkout, ts)
            self.conn.commit()
            return True
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            if not self.pg:
                self.fcntl.flock(self.lock, self.fcntl.LOCK_UN)


def run(ctx: dict, mode: str, seconds: float, start_at: float, seed: int) -> dict:
    """Checkouts as fast as they go from `start_at` for `seconds`: latencies (s), refusals, wall."""
    floor = Floor(ctx, mode, seed)
    latencies, refused = [], 0
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    end = started + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        if floor.one():
            latencies.append(time.perf_counter() - t0)
        else:
            refused += 1
    wall = time.perf_counter() - started
    floor.conn.close()
    return {"latencies": latencies, "refused": refused, "wall": wall}
