"""The demo goods: a dozen donors, a season of donations, and every lot balanced."""
import random

from sqlalchemy import func, select

from app.extensions import db
from app.demo.goods import DONORS, build_goods_demo
from app.models import Donation, Donor, Lot, Stocktake
from app.services.goods.check import check_lots


def test_demo_stocks_every_supermarket_from_a_dozen_donors(world):
    """build_goods_demo gives each supermarket donations from the demo donors, a cash donation
    spent on goods, and a stocktake waiting for review; every lot balances."""
    made = build_goods_demo(months=3, rng=random.Random(1))
    db.session.commit()
    assert made["donations"] > 10 and made["lots"] >= made["donations"] * 2
    names = set(db.session.scalars(select(Donor.name)))
    assert {name for name, _, _ in DONORS} <= names
    assert db.session.scalar(select(func.count(func.distinct(Lot.supermarket_id)))) == 2
    assert db.session.scalar(select(func.count(func.distinct(Donation.donor_id)))) >= 6
    cash = db.session.scalar(select(Donation).where(Donation.kind == "cash"))
    assert cash is not None and any(line.purchase_id for line in cash.lines)
    assert db.session.scalar(select(Stocktake.status)) == "submitted"
    receipts = list(db.session.scalars(select(Donation.receipt_no)))
    assert all(receipts) and len(set(receipts)) == len(receipts)
    assert check_lots() == []
