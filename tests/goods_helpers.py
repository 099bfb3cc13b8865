"""Helpers for the goods tests: products, donations and lot checks."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Lot, Product
from app.services.goods import donations
from app.services.goods import products as goods
from app.services.goods.check import check_lots
from app.services.goods import levels
from app.services.goods import lots


def load_products() -> dict[str, Product]:
    """The shipped default list, by name."""
    goods.load_default_products()
    db.session.commit()
    return {p.name: p for p in db.session.scalars(select(Product))}


def receive(world, lines: list[tuple[Product, int]], *, supermarket=None, donor=None,
            user: str = "volunteer", received_on: str | None = None, commit: bool = True):
    """Receive a donation through the service; lines are (product, quantity)."""
    d = donations.receive_donation(world.users[user], {
        "donor_id": (donor or world.donor).id,
        "supermarket_id": (supermarket or world.sm_east).id,
        "received_on": received_on,
        "lines": [{"product_id": p.id, "quantity": n} for p, n in lines]})
    if commit:
        db.session.commit()
    return d


def level(supermarket, product) -> int:
    db.session.expire_all()
    return levels.stock_of(supermarket.id, product.id)


def lots_of(supermarket, product) -> list[Lot]:
    db.session.expire_all()
    return list(db.session.scalars(select(Lot).where(Lot.supermarket_id == supermarket.id,
                                                     Lot.product_id == product.id)
                                   .order_by(Lot.id)))


def assert_lots_balance() -> None:
    """Invariant 3 holds for every lot, and every counter matches its movements."""
    db.session.expire_all()
    assert check_lots() == []
    bad = db.session.scalar(select(func.count()).select_from(Lot).where(
        (Lot.quantity != Lot.remaining + Lot.redeemed + Lot.written_off + Lot.transferred_out)
        | (Lot.remaining < 0) | (Lot.remaining > Lot.quantity)))
    assert bad == 0


def redeem(actor, supermarket_id: int, product_id: int, quantity: int, *, household,
           checkout_id: int | None = None):
    """Units taken as a checkout takes them (redemption movements carrying the
    household and its village), without the checkout: for lot and trace tests."""
    return lots.take_units(supermarket_id, product_id, quantity, kind="redemption", actor=actor,
                            household_id=household.id, village_id=household.village_id,
                            checkout_id=checkout_id)
