"""Helpers for the goods tests: products, donations, lot checks and racing HTTP clients."""
import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from app.extensions import db
from app.models import Lot, Product
from app.services import donations, goods, stock
from app.services.stock_check import check_lots


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
    return stock.stock_of(supermarket.id, product.id)


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


def request_json(base: str, method: str, path: str, token: str, body=None, headers=None):
    """A request to a live server; (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path, method=method, data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                 **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"null")
        except ValueError:
            return err.code, raw.decode(errors="replace")


def race(calls: list) -> list:
    """Run the callables in threads released at the same moment; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as err:  # reported as a result so the test shows it
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
