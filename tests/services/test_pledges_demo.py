"""The demo's pledges: made through the service by the demo's donor logins, one
fulfilled by a later donation, one partly received, one open."""
from sqlalchemy import select

from app.extensions import db
from app.models import Donation
from app.models.pledges import Pledge
from tests.test_cli import demo


def test_demo_has_fulfilled_partial_and_open_pledges(demo_app):  # noqa: F811
    """After `flask demo`: a fulfilled pledge (a later donation of its donor filled it), a partial one, an open one."""
    demo(demo_app)
    with demo_app.app_context():
        pledges = {p.status: p for p in db.session.scalars(select(Pledge))}
        assert set(pledges) == {"fulfilled", "partial", "open"}
        done = pledges["fulfilled"]
        assert all(line.received == line.quantity for line in done.lines) and done.fulfilled_at
        later = db.session.scalars(select(Donation).where(
            Donation.donor_id == done.donor_id, Donation.supermarket_id == done.supermarket_id,
            Donation.received_on >= done.created_at.date())).all()
        assert later
        part = pledges["partial"]
        assert 0 < sum(line.received for line in part.lines) < sum(line.quantity for line in part.lines)
        assert all(line.received == 0 for line in pledges["open"].lines)
        db.session.remove()
