"""Stock levels: a product's stock at a supermarket is the sum of its lots'
remaining units; low stock is at or below the product's threshold."""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.models import Lot, Product, Supermarket, User
from app.services.clock import local_today
from app.services.errors import ValidationError
from app.services.goods.lots import first_out
from app.services.goods.products import searched_barcode
from app.services.people import policy
from app.services.people.scope import supermarket_for, visible_supermarkets
from app.services.validate import as_id, contains


def stock_of(supermarket_id: int, product_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Lot.remaining), 0))
        .where(Lot.supermarket_id == supermarket_id, Lot.product_id == product_id)) or 0


def _levels_query(supermarket_ids, *, low_only: bool = False, q: str | None = None):
    quantity = func.coalesce(func.sum(Lot.remaining), 0).label("quantity")
    query = (select(Lot.supermarket_id, Product, quantity)
             .join(Product, Product.id == Lot.product_id)
             .where(Lot.supermarket_id.in_(supermarket_ids))
             .group_by(Lot.supermarket_id, Product.id))
    if q:
        query = query.where(contains(searched_barcode(q), Product.name, Product.barcode))
    if low_only:
        query = query.having(func.coalesce(func.sum(Lot.remaining), 0) <= Product.low_stock_threshold)
    return query


def stock_levels(actor: User, supermarket_id, *, low_only: bool = False, q: str | None = None,
                 page: int = 1, per_page: int = 50) -> tuple[Supermarket, list[tuple[Product, int]], int]:
    """One page of the products that have ever had a lot here, with their stock."""
    sm = supermarket_for(actor, "stock.read", supermarket_id)
    q = (q or "").replace("\x00", "").strip()[:100]
    query = _levels_query([sm.id], low_only=low_only, q=q)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return sm, [], total
    rows = db.session.execute(
        query.order_by(Product.category, Product.name, Product.id).limit(per_page).offset(offset)).all()
    return sm, [(product, int(qty)) for _, product, qty in rows], total


def lots_in_stock(supermarket_id: int, product_id: int | None = None) -> list[Lot]:
    """The lots with units left at a supermarket (of one product, if given),
    in the order they are taken: expiring first, then oldest."""
    query = select(Lot).where(Lot.supermarket_id == supermarket_id, Lot.remaining > 0)
    if product_id is not None:
        query = query.where(Lot.product_id == product_id)
    return sorted(db.session.scalars(query), key=lambda lot: (lot.product_id, first_out(lot)))


EXPIRING_DAYS = 30


def expiring(actor: User, *, days: int = EXPIRING_DAYS, limit: int = 100
             ) -> list[tuple[Supermarket, Lot, bool]]:
    """Lots with units left whose best-before date is past or within `days`
    days, at the supermarkets the user keeps: (supermarket, lot, expired),
    the ones expired already first, then by date."""
    if not policy.can(actor, "stock.keep"):
        return []
    markets = {s.id: s for s in db.session.scalars(visible_supermarkets(actor))}
    if not markets:
        return []
    today = local_today()
    lots = db.session.scalars(
        select(Lot).where(Lot.supermarket_id.in_(list(markets)), Lot.remaining > 0,
                          Lot.best_before.is_not(None),
                          Lot.best_before <= today + timedelta(days=days))
        .order_by(Lot.best_before, Lot.received_on, Lot.id).limit(limit)).all()
    return [(markets[lot.supermarket_id], lot, lot.best_before < today) for lot in lots]


def low_stock(actor: User, limit: int = 50) -> list[tuple[Supermarket, Product, int]]:
    """Products at or below their threshold at the supermarkets the user keeps."""
    if not policy.can(actor, "stock.read"):
        return []
    markets = {s.id: s for s in db.session.scalars(visible_supermarkets(actor))}
    if not markets:
        return []
    rows = db.session.execute(
        _levels_query(list(markets), low_only=True)
        .order_by(Lot.supermarket_id, Product.category, Product.name).limit(limit)).all()
    return [(markets[sm_id], product, int(qty)) for sm_id, product, qty in rows]


def lots_at(actor: User, supermarket_id, *, product_id=None, only_remaining: bool = False,
            page: int = 1, per_page: int = 50) -> tuple[Supermarket, list[Lot], int]:
    sm = supermarket_for(actor, "stock.read", supermarket_id)
    query = select(Lot).where(Lot.supermarket_id == sm.id)
    if product_id not in (None, ""):
        pid = as_id(product_id)
        if pid is None:
            raise ValidationError({"product_id": [_l("Must be a whole number.")]})
        query = query.where(Lot.product_id == pid)
    if only_remaining:
        query = query.where(Lot.remaining > 0)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return sm, [], total
    items = db.session.scalars(
        query.order_by(Lot.received_on.desc(), Lot.id.desc()).limit(per_page).offset(offset)).all()
    return sm, list(items), total


def goods_in_stock(actor: User, sm: Supermarket) -> list[tuple[Product, int]]:
    """The counter's tiles: active products with stock here, by category and name."""
    _sm, rows, _total = stock_levels(actor, sm.id, per_page=10_000)
    return [(p, n) for p, n in rows if n > 0 and p.active]


def stock_for(sm: Supermarket, product_ids) -> dict[int, int]:
    """Stock now of these products at this supermarket."""
    return {pid: stock_of(sm.id, pid) for pid in sorted(set(product_ids))}


def products_in_stock(supermarket_id: int) -> list[tuple[Product, int]]:
    """Products with units left here, with how many, by category and name."""
    rows = db.session.execute(
        select(Product, func.sum(Lot.remaining)).join(Lot, Lot.product_id == Product.id)
        .where(Lot.supermarket_id == supermarket_id).group_by(Product.id)
        .having(func.sum(Lot.remaining) > 0).order_by(Product.category, Product.name)).all()
    return [(p, int(n)) for p, n in rows]


def units_at(supermarket_ids) -> dict[int, int]:
    """{supermarket id: units in stock} for these supermarkets."""
    ids = list(supermarket_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Lot.supermarket_id, func.sum(Lot.remaining)).where(Lot.supermarket_id.in_(ids))
        .group_by(Lot.supermarket_id)).all())
