"""Helpers for checkout tests: a stocked supermarket and households with points."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Checkout, LedgerEntry, LotMovement
from app.services.checkout.cards import issue_card, qr_payload
from app.services.people.households import create_household
from app.services.points.awards import adjust_points
from tests.goods_helpers import load_products, receive


def give_points(world, household, points: int) -> None:
    adjust_points(world.users["admin"], household.id, {"points": points, "reason": "期初余额"})
    db.session.commit()


def stocked(world, quantities: dict[str, int] | None = None):
    """The default products, with stock at the east supermarket; returns products by name."""
    products = load_products()
    quantities = quantities or {"大米 5kg": 10, "香皂": 20, "食盐 400g": 30}
    receive(world, [(products[name], n) for name, n in quantities.items()])
    return products


def card_for(world, key: str) -> str:
    card = issue_card(world.users["admin"], world.households[key].id)
    db.session.commit()
    return qr_payload(card)


def more_households(world, n: int, village=None) -> list:
    admin = world.users["admin"]
    made = [create_household(admin, {"village_id": (village or world.v1).id, "head_name": f"测试户{i}"})
            for i in range(n)]
    db.session.commit()
    return made


def counts() -> tuple[int, int, int]:
    """(checkouts, ledger entries, lot movements): what a refused checkout must leave alone."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Checkout, LedgerEntry, LotMovement))
