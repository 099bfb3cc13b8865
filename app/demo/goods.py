"""Demo goods: the default product list, a dozen donors and a year of donations
received at the demo supermarkets (with a cash donation spent on goods, a few
write-offs, a transfer and a stocktake waiting for review). Enough stock for
the demo checkouts, scaled to the number of households."""
import random
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, text

from app.extensions import db
from app.models import Donation, DonationLine, Donor, Household, Lot, Product, Supermarket
from app.services.goods import donations
from app.services.goods import products as goods
from app.services.clock import local_today
from app.services.goods import levels, stocktakes, transfers, writeoffs

DONORS = [
    ("青山县供销合作社", "organisation", "县城解放路 12 号"),
    ("爱心人士 王建华", "person", "13907451234"),
    ("青山农商银行", "company", "办公室 0745-2212345"),
    ("青山水泥有限公司", "company", "工会 李主席 13807456789"),
    ("县人民医院工会", "organisation", "0745-2256789"),
    ("爱心人士 刘桂芳", "person", "13574512345"),
    ("县慈善总会", "organisation", "县民政局二楼"),
    ("东坪村乡贤会", "organisation", "张会长 13974598765"),
    ("惠民粮油贸易公司", "company", "经理 陈志强 13607451111"),
    ("爱心人士 赵德明", "person", "在外务工 微信联系"),
    ("青山中学教职工", "organisation", "校办 0745-2233445"),
    ("华润万家青山店", "company", "店长 13107452222"),
]
NAMED_IN_PUBLIC = {"青山农商银行", "青山县供销合作社", "青山水泥有限公司"}
# What donors tend to give, by product name: (weight, typical quantity per line).
GIVES = {"大米 5kg": (5, 30), "面粉 5kg": (3, 20), "食用油 5L": (4, 20), "酱油 500ml": (2, 40),
         "食盐 400g": (2, 60), "鸡蛋 30枚": (2, 20), "挂面 1kg": (3, 40), "洗衣粉 1kg": (3, 40),
         "香皂": (3, 60), "牙膏 120g": (2, 50), "毛巾": (2, 50), "卫生纸 10卷": (3, 30),
         "保温杯": (1, 15), "拖鞋": (1, 20), "棉被": (1, 8), "书包": (1, 15), "文具套装": (1, 20),
         "作业本 10本": (2, 40)}
# Days from receiving to the best-before date (保质期) of the food given; the rest has none.
SHELF_DAYS = {"大米 5kg": 365, "面粉 5kg": 270, "食用油 5L": 540, "酱油 500ml": 540,
              "鸡蛋 30枚": 35, "挂面 1kg": 365}


def build_goods_demo(*, months: int = 12, rng: random.Random | None = None) -> dict:
    """Stock the demo supermarkets; returns counts for the command's summary."""
    rng = rng or random.Random(2026)
    goods.load_default_products()
    products = {p.name: p for p in db.session.scalars(select(Product))}
    donors = _donors()
    markets = list(db.session.scalars(select(Supermarket).order_by(Supermarket.id)))
    if not markets:
        return {}
    households = db.session.scalar(select(func.count()).select_from(Household)) or 0
    scale = max(1, households // (400 * len(markets)))
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    today = local_today()
    start = today - timedelta(days=max(1, months) * 30)
    names = [n for n in GIVES if n in products]
    weights = [GIVES[n][0] for n in names]

    made = {"donations": 0, "lots": 0}
    line_rows, donations_made = [], []
    for sm in markets:
        day = start
        while day <= today:
            donor = rng.choice(donors)
            if day == start:  # the donors with a login (the first two) open the year at each
                donor = donors[markets.index(sm) % 2]
            at = datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=zone)
            d = Donation(kind="goods", donor_id=donor.id, supermarket_id=sm.id, received_on=day,
                         created_at=at.astimezone(timezone.utc))
            db.session.add(d)
            donations_made.append(d)
            chosen = set(rng.choices(names, weights=weights, k=rng.randint(2, 6)))
            for name in sorted(chosen):
                typical = GIVES[name][1]
                value = products[name].points_price * 10 * rng.choice([0, 80, 95, 100, 110]) // 100
                shelf = SHELF_DAYS.get(name)
                line_rows.append((d, {"product_id": products[name].id,
                                      "quantity": max(1, int(typical * scale * rng.uniform(.5, 1.5))),
                                      "unit_value_fen": value or None,
                                      "best_before": day + timedelta(days=shelf) if shelf else None}))
            day += timedelta(days=rng.randint(5, 12))
    db.session.flush()
    for d in donations_made:
        d.receipt_no = f"JZ{d.received_on.year}-{d.id:06d}"
    _bulk_lines_and_lots(line_rows)
    made["donations"] = len(donations_made)
    made["lots"] = len(line_rows)

    _cash_and_purchase(markets[0], donors, products, start, today)
    from app.demo.checkouts import add_checkout_history, issue_demo_cards
    made["cards"] = issue_demo_cards(rng)
    made.update(add_checkout_history(months=months, rng=rng))
    _acts(markets, products, today, rng)
    made["expired_written_off"] = _clear_expired(today)
    made["pledges"] = _pledges(markets[0], products, today)
    return made


def _pledges(sm, products, today) -> int:
    """The donors with a login pledge goods through the service: one pledge
    fulfilled by a later donation, one partly received, one still open."""
    from app.models import User
    from app.services.goods import pledges

    zone = ZoneInfo(current_app.config["TIMEZONE"])
    users = list(db.session.scalars(select(User).where(User.role == "donor", User.donor_id.is_not(None))
                                    .order_by(User.id)))
    if not users:
        return 0
    plan = [(users[0], 20, [("大米 5kg", 20), ("食用油 5L", 10)], 12),
            (users[0], 6, [("挂面 1kg", 30), ("洗衣粉 1kg", 20)], 2),
            (users[-1], 3, [("鸡蛋 30枚", 10), ("卫生纸 10卷", 15)], None)]
    made = 0
    for user, days_ago, lines, delivered_ago in plan:
        lines = [(products[name], n) for name, n in lines if name in products]
        if not lines:
            continue
        p = pledges.create_pledge(user, {"supermarket_id": sm.id, "note": "演示认捐",
                                         "lines": [{"product_id": pr.id, "quantity": n} for pr, n in lines]})
        p.created_at = datetime.combine(today - timedelta(days=days_ago), time(10), tzinfo=zone)
        made += 1
        if delivered_ago is None:
            continue
        db.session.flush()
        # Everything of the first pledge comes; half of the first product of the second.
        brought = lines if days_ago > 10 else [(lines[0][0], lines[0][1] // 2)]
        donations.receive_donation(None, {
            "donor_id": user.donor_id, "supermarket_id": sm.id,
            "received_on": (today - timedelta(days=delivered_ago)).isoformat(),
            "lines": [{"product_id": pr.id, "quantity": n} for pr, n in brought]})
        db.session.flush()
        db.session.refresh(p)
        if p.fulfilled_at is not None:
            p.fulfilled_at = datetime.combine(today - timedelta(days=delivered_ago), time(15),
                                              tzinfo=zone)
    return made


def _clear_expired(today) -> int:
    """The volunteers take food off the shelf a few days after its best-before
    date, as real ones do: the demo's year of eggs is written off lot by lot
    (reason expired) on the day after it expired, except the last week's, which
    the volunteer's home lists as waiting. Returns the lots written off."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    lots = db.session.execute(
        select(Lot.id, Lot.supermarket_id, Lot.product_id, Lot.remaining, Lot.best_before)
        .where(Lot.remaining > 0, Lot.best_before < today - timedelta(days=7))
        .order_by(Lot.best_before, Lot.id)).all()
    for lot in lots:
        w = writeoffs.record_writeoff(None, lot.supermarket_id, lot.product_id, lot.remaining, "expired",
                                      "过期下架", lot_id=lot.id)
        w.created_at = datetime.combine(lot.best_before + timedelta(days=1), time(9), tzinfo=zone)
    return len(lots)


def _donors() -> list[Donor]:
    have = {d.name: d for d in db.session.scalars(select(Donor))}
    for name, kind, contact in DONORS:
        if name in have:
            if not have[name].contact:
                have[name].contact = contact
        else:
            have[name] = Donor(name=name, kind=kind, contact=contact)
            db.session.add(have[name])
        # The companies and organisations that agreed to be named in public (the
        # board, the trace); the individuals have not: the public reads 爱心人士.
        have[name].named_in_public = name in NAMED_IN_PUBLIC
    db.session.flush()
    return [have[name] for name, _, _ in DONORS]


def _bulk_lines_and_lots(line_rows) -> None:
    """Lines, then one lot per line, in two bulk inserts each way."""
    if not line_rows:
        return
    first = (db.session.scalar(select(func.max(DonationLine.id))) or 0) + 1
    lines, lots = [], []
    for i, (d, row) in enumerate(line_rows):
        line_id = first + i
        lines.append({"id": line_id, "donation_id": d.id, **row})
        lots.append({"supermarket_id": d.supermarket_id, "product_id": row["product_id"],
                     "donor_id": d.donor_id, "donation_line_id": line_id,
                     "quantity": row["quantity"], "remaining": row["quantity"], "redeemed": 0,
                     "written_off": 0, "transferred_out": 0, "received_on": d.received_on,
                     "best_before": row["best_before"], "created_at": d.created_at})
    for i in range(0, len(lines), 5000):
        db.session.execute(insert(DonationLine), lines[i:i + 5000])
        db.session.execute(insert(Lot), lots[i:i + 5000])
    fix_sequence("donation_lines")


def fix_sequence(table: str) -> None:
    """PostgreSQL: move the id sequence past the ids given explicitly."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))


def _cash_and_purchase(sm, donors, products, start, today) -> None:
    """A bank's cash donation, half of it spent on rice, oil and noodles: lots
    of that donor, bought before the year's gifts of goods so that households
    take them home first (the demo's checkouts take the oldest lots first) and
    the bank's trace shows its money reaching households."""
    bank = next(d for d in donors if d.name == "青山农商银行")
    # A week before the year's goods, or (a short demo) at the latest four days ago.
    day = min(start - timedelta(days=7), today - timedelta(days=4))
    cash = donations.record_cash_donation(None, {"donor_id": bank.id, "supermarket_id": sm.id,
                                                 "amount": "20000", "received_on": day.isoformat(),
                                                 "note": "年度帮扶资金"})
    donations.record_purchase(None, cash.id, {
        "purchased_on": (day + timedelta(days=3)).isoformat(), "supplier": "惠民粮油贸易公司",
        "lines": [{"product_id": products["大米 5kg"].id, "quantity": 120, "unit_value": "48.00"},
                  {"product_id": products["食用油 5L"].id, "quantity": 60, "unit_value": "62.50"},
                  {"product_id": products["挂面 1kg"].id, "quantity": 80, "unit_value": "5.50"}]})


def _acts(markets, products, today, rng) -> None:
    """A few of the other acts, through the services: write-offs, a transfer, a stocktake."""
    first = markets[0]
    for name, reason in (("鸡蛋 30枚", "expired"), ("卫生纸 10卷", "damaged")):
        have = levels.stock_of(first.id, products[name].id)
        if have >= 2:
            writeoffs.write_off(None, first.id, {"product_id": products[name].id, "quantity": 2,
                                             "reason": reason, "note": "演示"})
    if len(markets) > 1:
        have = levels.stock_of(first.id, products["棉被"].id)
        if have >= 4:
            transfers.transfer_stock(None, {"from_supermarket_id": first.id,
                                        "to_supermarket_id": markets[1].id,
                                        "product_id": products["棉被"].id, "quantity": have // 4,
                                        "note": "入冬调剂"})
        last = markets[-1]
        st = stocktakes.start_stocktake(None, last.id, {"note": "月末盘点"})
        counts = []
        for name in ("香皂", "毛巾", "作业本 10本"):
            have = levels.stock_of(last.id, products[name].id)
            counts.append({"product_id": products[name].id,
                           "counted": max(0, have + rng.choice([-2, -1, 0, 1]))})
        stocktakes.record_counts(None, st.id, {"counts": counts})
        stocktakes.submit_stocktake(None, st.id)
