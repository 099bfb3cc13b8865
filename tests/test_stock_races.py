"""Races for the last units against a real server in another process (invariant 3):
stock never goes below zero and the counts are exact, on SQLite and PostgreSQL."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Lot, Writeoff
from tests.goods_helpers import assert_lots_balance, level, load_products, receive
from tests.live import race, request_json

THREADS = 12


def test_many_write_offs_race_for_the_last_units(world, live):
    """12 clients each write off 1 of the last 5 units (in three lots): exactly 5 succeed, 7 get 409, stock ends at 0."""
    soap = load_products()["香皂"]
    receive(world, [(soap, 2)], received_on="2026-01-01")
    receive(world, [(soap, 2)])
    receive(world, [(soap, 1)])
    token = world.token("volunteer")
    path = f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs"
    body = {"product_id": soap.id, "quantity": 1, "reason": "damaged"}  # plain values: threads have no app context
    with live() as base:
        results = race([lambda: request_json(base, "POST", path, token, body)
                        for _ in range(THREADS)])
    db.session.rollback()
    statuses = sorted(r[0] for r in results)
    assert statuses == [201] * 5 + [409] * (THREADS - 5), results
    assert all(r[1]["type"].endswith("insufficient-stock") for r in results if r[0] == 409)
    assert level(world.sm_east, soap) == 0
    assert db.session.scalar(select(func.sum(Writeoff.quantity))) == 5
    assert db.session.scalar(select(func.min(Lot.remaining))) == 0
    assert_lots_balance()


def test_mixed_sizes_and_transfers_never_oversell(world, live):
    """Write-offs of 1 to 4 units at once, then transfers and write-offs racing on the same lots:
    what succeeds adds up exactly, each refusal asked for more than was left, no unit counts twice."""
    products = load_products()
    rice, towel = products["大米 5kg"], products["毛巾"]
    receive(world, [(rice, 6), (towel, 5)])
    receive(world, [(rice, 7), (towel, 5)])
    rice_id, towel_id = rice.id, towel.id  # plain values: the threads have no app context
    admin, volunteer = world.token("admin"), world.token("volunteer")
    writeoffs = f"/api/v1/supermarkets/{world.sm_east.id}/stock/writeoffs"
    sizes = [1 + i % 4 for i in range(THREADS)]  # 30 units asked for, 13 in stock
    transfer = {"from_supermarket_id": world.sm_east.id, "to_supermarket_id": world.sm_west.id,
                "product_id": towel_id, "quantity": 2}
    one = {"product_id": towel_id, "quantity": 1, "reason": "lost"}
    with live() as base:
        sized = race([lambda n=n: request_json(base, "POST", writeoffs, admin,
                                               {"product_id": rice_id, "quantity": n, "reason": "expired"})
                      for n in sizes])
        mixed = race([(lambda: request_json(base, "POST", writeoffs, volunteer, one)) if i % 2 else
                      (lambda: request_json(base, "POST", "/api/v1/transfers", admin, transfer))
                      for i in range(THREADS)])
    db.session.rollback()

    assert {r[0] for r in sized} <= {201, 409}, sized
    sold = sum(n for n, r in zip(sizes, sized) if r[0] == 201)
    left = level(world.sm_east, rice)
    assert sold + left == 13 and left >= 0
    assert all(n > left for n, r in zip(sizes, sized) if r[0] == 409)
    assert db.session.scalar(select(func.sum(Writeoff.quantity)).where(Writeoff.product_id == rice_id)) == sold

    assert {r[0] for r in mixed} <= {201, 409}, mixed
    written_off = sum(1 for i, r in enumerate(mixed) if i % 2 and r[0] == 201)
    moved = sum(2 for i, r in enumerate(mixed) if not i % 2 and r[0] == 201)
    east, west = level(world.sm_east, towel), level(world.sm_west, towel)
    assert east >= 0 and west == moved and east + west + written_off == 10
    assert_lots_balance()
