"""Donations racing to fill the same pledge against a real server in another
process: the pledge is never over-filled, on SQLite and PostgreSQL."""
from sqlalchemy import select

from app.extensions import db
from app.models import Donation
from app.models.pledges import Pledge, PledgeLine
from app.services.goods import pledges
from tests.factories import count
from tests.goods_helpers import load_products
from tests.live import race, request_json

THREADS = 10


def test_concurrent_donations_never_overfill_a_pledge(world, live):
    """10 donations of 3 units at once against a pledge of 20: all received, the line stops at 20, fulfilled."""
    rice = load_products()["大米 5kg"]
    p = pledges.create_pledge(world.users["donor"], {
        "supermarket_id": world.sm_east.id, "lines": [{"product_id": rice.id, "quantity": 20}]})
    db.session.commit()
    pledge_id = p.id
    token = world.token("volunteer")
    body = {"donor_id": world.donor.id, "supermarket_id": world.sm_east.id,
            "lines": [{"product_id": rice.id, "quantity": 3}]}
    with live() as base:
        results = race([lambda: request_json(base, "POST", "/api/v1/donations", token, body)
                        for _ in range(THREADS)])
    db.session.rollback()
    assert sorted(r[0] for r in results) == [201] * THREADS, results
    assert count(Donation) == THREADS
    p = db.session.get(Pledge, pledge_id)
    (line,) = db.session.scalars(select(PledgeLine).where(PledgeLine.pledge_id == pledge_id)).all()
    assert line.received == 20 and p.status == "fulfilled" and p.fulfilled_at is not None
