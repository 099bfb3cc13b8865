"""Demo checkouts: months of households redeeming at their township's
supermarket, written in bulk and kept exact: a cart is only what the
household's posted points held at that moment and what the shelves held that
day (oldest lot first), so every invariant `flask ledger check` tests holds.
Most checkouts scan the household's card; a few are looked up by hand."""
import random
from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import func, insert, select, update

from app.extensions import db
from app.models import (AuditRecord, Card, Checkout, CheckoutLine, Household, LedgerEntry, Lot,
                        LotMovement, Product, Region, Supermarket, User, user_supermarkets, utcnow)
from app.demo.goods import fix_sequence
from app.services.checkout.cards import issue_in_bulk
from app.services.clock import local_today, local_zone
from app.services.ledger import writer

CHUNK = 5000
# Why the few households served without a card had none with them.
NO_CARD_DEMO = ["lost", "elder", "at_home", "at_home", "孩子带去学校了"]


def _market_of_village() -> dict[int, int]:
    """Each village's supermarket: the one in its township (else the first)."""
    markets = db.session.execute(select(Supermarket.id, Supermarket.region_id)
                                 .order_by(Supermarket.id)).all()
    by_region = {region_id: sm_id for sm_id, region_id in markets}
    villages = db.session.execute(select(Region.id, Region.parent_id)
                                  .where(Region.level == "village")).all()
    return {vid: by_region.get(parent, markets[0][0]) for vid, parent in villages}


def issue_demo_cards(rng: random.Random) -> int:
    """A card for every active household (as staff would print a village's sheet)."""
    have = set(db.session.scalars(select(Card.household_id).where(Card.status == "active")))
    admin = db.session.scalar(select(func.min(User.id)).where(User.role == "admin"))
    wanted = [hid for hid in db.session.scalars(select(Household.id).where(Household.status == "active")
                                                 .order_by(Household.id)) if hid not in have]
    return issue_in_bulk(wanted, actor_id=admin, now=utcnow(), rng=rng)


def _posted_points() -> dict[int, tuple[list, list]]:
    """Per household: the moments its points posted and the running sums."""
    out: dict[int, tuple[list, list]] = {}
    rows = db.session.execute(
        select(LedgerEntry.household_id, LedgerEntry.posted_at, LedgerEntry.points)
        .where(LedgerEntry.status == "posted").order_by(LedgerEntry.household_id,
                                                         LedgerEntry.posted_at))
    for hid, at, points in rows:
        moments, sums = out.setdefault(hid, ([], []))
        moments.append(at)
        sums.append((sums[-1] if sums else 0) + points)
    return out


def add_checkout_history(*, months: int, rng: random.Random, share: float = 0.6,
                         per_month: float = 0.55) -> dict:
    """About `share` of households redeem, `per_month` times a month on average."""
    now = utcnow()
    today = local_today(now)
    zone = local_zone()
    market_of = _market_of_village()
    if not market_of:
        return {"checkouts": 0}
    products = db.session.execute(select(Product.id, Product.points_price)
                                  .where(Product.active.is_(True))).all()
    cheap = [p for p in products if p[1] <= 60]
    volunteers = dict(db.session.execute(
        select(user_supermarkets.c.supermarket_id, func.min(user_supermarkets.c.user_id))
        .group_by(user_supermarkets.c.supermarket_id)).all())
    admin = db.session.scalar(select(func.min(User.id)).where(User.role == "admin"))
    cards = dict(db.session.execute(select(Card.household_id, Card.id)
                                    .where(Card.status == "active")).all())
    posted = _posted_points()
    households = db.session.execute(select(Household.id, Household.village_id)
                                    .where(Household.status == "active")
                                    .order_by(Household.id)).all()

    # 1. Carts, each within what the household's posted points held at the time.
    carts = []
    days = [today - timedelta(days=d) for d in range(max(1, months) * 30, 0, -1)]
    for hid, village_id in households:
        if hid not in posted or rng.random() > share:
            continue
        moments, sums = posted[hid]
        spent = 0
        visits = sorted(rng.sample(days, k=min(len(days), max(1, round(rng.expovariate(
            1 / (per_month * months)))))))
        for day in visits:
            at = datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=zone)
            i = bisect_right(moments, at)
            left = (sums[i - 1] if i else 0) - spent
            lines, total = {}, 0
            for _ in range(rng.randint(1, 3)):
                pid, price = rng.choice(cheap or products)
                qty = rng.choice((1, 1, 1, 2))
                if total + price * qty <= left:
                    lines[pid] = lines.get(pid, 0) + qty
                    total += price * qty
            if lines:
                carts.append([at, hid, village_id, market_of[village_id], lines])
                spent += total
    carts.sort(key=lambda c: (c[0], c[1]))

    # 2. The shelves: each line from the lots received by that day, oldest first.
    lots: dict[tuple[int, int], list] = defaultdict(list)
    for lot_id, sm, pid, received_on, remaining in db.session.execute(
            select(Lot.id, Lot.supermarket_id, Lot.product_id, Lot.received_on, Lot.remaining)
            .where(Lot.remaining > 0).order_by(Lot.received_on, Lot.id)):
        lots[(sm, pid)].append([lot_id, received_on, remaining])
    prices = dict(products)
    checkout_id = (db.session.scalar(select(func.max(Checkout.id))) or 0)
    entry_id = (db.session.scalar(select(func.max(LedgerEntry.id))) or 0)
    checkout_rows, line_rows, movement_rows, entries = [], [], [], []
    taken: dict[int, int] = defaultdict(int)
    balances_spent: dict[int, int] = defaultdict(int)
    for at, hid, village_id, sm, lines in carts:
        day = at.date()
        got = {}
        for pid, qty in lines.items():
            shelf = [lot for lot in lots[(sm, pid)] if lot[1] <= day and lot[2] > 0]
            if sum(lot[2] for lot in shelf) < qty:
                continue
            got[pid] = []
            need = qty
            for lot in shelf:
                take = min(need, lot[2])
                lot[2] -= take
                need -= take
                got[pid].append((lot[0], take))
                if not need:
                    break
        if not got:
            continue
        total = sum(prices[pid] * lines[pid] for pid in got)
        checkout_id += 1
        entry_id += 1
        moments, sums = posted[hid]
        held = (sums[bisect_right(moments, at) - 1] if moments and moments[0] <= at else 0)
        balances_spent[hid] += total
        by = volunteers.get(sm, admin)
        card = cards.get(hid) if rng.random() < 0.92 else None
        checkout_rows.append({"id": checkout_id, "supermarket_id": sm, "household_id": hid,
                              "card_id": card, "card_used": card is not None,
                              "no_card_reason": None if card else NO_CARD_DEMO[checkout_id % len(NO_CARD_DEMO)],
                              "total_points": total,
                              "balance_after": held - balances_spent[hid], "entry_id": entry_id,
                              "created_at": at, "created_by_id": by})
        for pid, parts in got.items():
            line_rows.append({"checkout_id": checkout_id, "product_id": pid,
                              "quantity": lines[pid], "unit_points": prices[pid],
                              "points": prices[pid] * lines[pid]})
            for lot_id, qty in parts:
                taken[lot_id] += qty
                movement_rows.append({"lot_id": lot_id, "kind": "redemption", "quantity": qty,
                                      "household_id": hid, "village_id": village_id,
                                      "checkout_id": checkout_id, "created_by_id": by,
                                      "created_at": at})
        entries.append((entry_id, hid, total, at, by, checkout_id))

    # 3. Written in bulk: the checkouts, their lines and lot movements, the lots'
    # counters, and the redemptions through the ledger's writer.
    # The entries first: a checkout names its redemption entry (a foreign key).
    writer.add_redemptions_many(entries, now)
    for table, rows in ((Checkout, checkout_rows), (CheckoutLine, line_rows),
                        (LotMovement, movement_rows)):
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(table), rows[start:start + CHUNK])
    lot_table = Lot.__table__
    if taken:
        db.session.connection().execute(
            update(lot_table).where(lot_table.c.id == db.bindparam("lot"))
            .values(remaining=lot_table.c.remaining - db.bindparam("n"),
                    redeemed=lot_table.c.redeemed + db.bindparam("n")),
            [{"lot": lot_id, "n": n} for lot_id, n in sorted(taken.items())])
    for table in ("checkouts", "checkout_lines", "lot_movements"):
        fix_sequence(table)
    db.session.add(AuditRecord(user_id=None, action="demo.checkouts", object_type="system",
                               details={"checkouts": len(checkout_rows)}))
    return {"checkouts": len(checkout_rows)}

