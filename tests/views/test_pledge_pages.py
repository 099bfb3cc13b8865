"""Needs and pledge pages: the public needs page (no login, no household data),
the donor's pledge form and list, the volunteer's home and the pledges page."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Household
from app.models.pledges import Pledge
from tests.factories import count, login
from tests.goods_helpers import load_products, receive, redeem


@pytest.fixture
def products(world):
    p = load_products()
    receive(world, [(p["大米 5kg"], 6), (p["鸡蛋 30枚"], 3)])
    redeem(world.users["volunteer"], world.sm_east.id, p["大米 5kg"].id, 6,
           household=world.households["v1a"])
    redeem(world.users["volunteer"], world.sm_east.id, p["鸡蛋 30枚"].id, 1,
           household=world.households["v1b"])
    db.session.commit()
    return p


def test_public_needs_page_without_login(client, world, products):
    """The needs page opens without a login, in Chinese first, out before low, linking to the board."""
    r = client.get(f"/market/{world.sm_east.id}/needs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "这些物资缺货或快用完了" in html
    assert html.index("大米 5kg") < html.index("鸡蛋 30枚")  # 6 redeemed before 1
    assert "已缺货" in html and "只剩 2 盒" in html
    assert f"/market/{world.sm_east.id}/board" in html
    assert client.get("/market/99999/needs").status_code == 404
    r = client.get("/markets")
    assert r.status_code == 200 and f"/market/{world.sm_east.id}/needs" in r.get_data(as_text=True)


def test_public_needs_page_shows_no_household_and_names_donor_only_with_consent(client, world, products):
    """No household's name, code or id on the needs page; the pledging donor is named only with consent."""
    login(client, "donor")
    client.post(f"/goods/pledges/new?supermarket_id={world.sm_east.id}",
                data={"supermarket_id": world.sm_east.id, f"qty-{products['大米 5kg'].id}": "10"})
    client.post("/logout")
    html = client.get(f"/market/{world.sm_east.id}/needs").get_data(as_text=True)
    for hh in db.session.scalars(select(Household)):
        assert hh.head_name not in html and hh.code not in html
    assert "爱心企业" in html and world.donor.name not in html
    assert "已有捐赠方认捐 10 袋" in html
    world.donor.named_in_public = True
    db.session.commit()
    assert world.donor.name in client.get(f"/market/{world.sm_east.id}/needs").get_data(as_text=True)


def test_donor_pledges_from_the_form_and_cancels(client, world, products):
    """A donor pledges with quantities and a note, sees it in their list, and cancels it."""
    login(client, "donor")
    html = client.get(f"/market/{world.sm_east.id}/needs").get_data(as_text=True)
    assert "/goods/pledges/new" in html
    rice, eggs = products["大米 5kg"], products["鸡蛋 30枚"]
    r = client.post(f"/goods/pledges/new?supermarket_id={world.sm_east.id}",
                    data={"supermarket_id": world.sm_east.id, f"qty-{rice.id}": "12",
                          f"qty-{eggs.id}": "", "note": "周三送到"})
    assert r.status_code == 302
    (p,) = db.session.scalars(select(Pledge)).all()
    assert [(line.product_id, line.quantity) for line in p.lines] == [(rice.id, 12)]
    html = client.get("/goods/pledges").get_data(as_text=True)
    assert "周三送到" in html and "0</b> / 12" in html
    r = client.post(f"/goods/pledges/{p.id}/cancel")
    assert r.status_code == 302
    db.session.refresh(p)
    assert p.status == "cancelled"
    assert "pledge-cancelled" in client.get("/goods/pledges").get_data(as_text=True)


def test_pledge_form_refuses_bad_quantities_and_writes_nothing(client, world, products):
    """A zero or an empty form is refused on the page in Chinese; no pledge is written."""
    login(client, "donor")
    rice = products["大米 5kg"]
    r = client.post(f"/goods/pledges/new?supermarket_id={world.sm_east.id}",
                    data={"supermarket_id": world.sm_east.id, f"qty-{rice.id}": "0"})
    assert r.status_code == 200 and "has-error" in r.get_data(as_text=True)
    r = client.post(f"/goods/pledges/new?supermarket_id={world.sm_east.id}",
                    data={"supermarket_id": world.sm_east.id})
    assert "请至少填写一样物资的数量" in r.get_data(as_text=True)
    assert count(Pledge) == 0


def test_only_donors_pledge_and_visitors_are_sent_to_login(client, world, products):
    """A visitor is sent to log in; a volunteer may not pledge (403)."""
    r = client.get(f"/goods/pledges/new?supermarket_id={world.sm_east.id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    login(client, "volunteer")
    assert client.get(f"/goods/pledges/new?supermarket_id={world.sm_east.id}").status_code == 403


def test_volunteer_home_and_pledges_page_list_open_pledges(client, world, products):
    """The volunteer's home lists open pledges at their supermarket with received/promised; the page filters by status."""
    login(client, "donor")
    client.post(f"/goods/pledges/new?supermarket_id={world.sm_east.id}",
                data={"supermarket_id": world.sm_east.id, f"qty-{products['鸡蛋 30枚'].id}": "9"})
    client.post("/logout")
    receive(world, [(products["鸡蛋 30枚"], 4)])
    login(client, "volunteer")
    html = client.get("/").get_data(as_text=True)
    assert 'id="pledges"' in html and world.donor.name in html and "<b>4</b>/9" in html
    assert "pledge-partial" in client.get("/goods/pledges?status=partial").get_data(as_text=True)
    assert world.donor.name not in client.get("/goods/pledges?status=fulfilled").get_data(as_text=True)
    client.post("/logout")
    login(client, "volunteer_west")
    assert world.donor.name not in client.get("/").get_data(as_text=True)
    assert world.donor.name not in client.get("/goods/pledges").get_data(as_text=True)
