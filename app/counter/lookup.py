"""What the till asks before a cart is filled: whose card is this, and may
they buy here? The same refusals `check_out` makes, in the same order, so the
volunteer learns them on the scan rather than at the end."""
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Card, Product, Supermarket, User
from app.services.checkout import checkouts as checkout
from app.services.goods import products as goods
from app.services.goods import stock
from app.services.checkout.cards import CardRevoked, find_card
from app.services.errors import HouseholdInactive, NotFound, ValidationError
from app.services.people.scope import get_household, get_supermarket, require_role, visible_supermarkets


def till(actor: User, supermarket_id) -> Supermarket:
    """A supermarket where this user may check out (volunteers: their own; admin: any)."""
    require_role(actor, *checkout.SELLERS)
    return get_supermarket(actor, supermarket_id)


def card_at_counter(actor: User, sm: Supermarket, *, payload=None, number=None) -> Card:
    """The active card a scan or a typed number names, of an active household
    this supermarket serves. Unknown: NotFound; revoked: CardRevoked;
    exited: HouseholdInactive (api.md's order: 404, 410, 422)."""
    require_role(actor, *checkout.SELLERS)
    if payload in (None, "") and number in (None, ""):
        raise ValidationError({"payload": [_l("Scan a card or type its number.")]})
    card = find_card(payload=payload) if payload not in (None, "") else find_card(number=number)
    if card is None:
        raise NotFound(_l("No card with this code."))
    household = get_household(actor, card.household_id)  # out of the user's reach: NotFound
    if not household.village.path.startswith(sm.region.path):
        raise NotFound(_l("This household is not served by this supermarket."))
    if card.status != "active":
        raise CardRevoked()
    if household.status != "active":
        raise HouseholdInactive(_l("This household has exited the programme."))
    return card


def product_by_barcode(code) -> Product:
    """The active product with this EAN-13; a misread scan is a 422, an unknown one a 404."""
    items, _total = goods.search_products(barcode_value=code if isinstance(code, str) else "",
                                          active=True, per_page=1)
    if not items:
        raise NotFound(_l("No product has the barcode %(code)s.", code=code))
    return items[0]


def goods_in_stock(actor: User, sm: Supermarket) -> list[tuple[Product, int]]:
    """The tiles: active products with stock at this supermarket, by category and name."""
    _sm, rows, _total = stock.stock_levels(actor, sm.id, per_page=10_000)
    return [(p, n) for p, n in rows if n > 0 and p.active]


def stock_for(sm: Supermarket, product_ids) -> dict[int, int]:
    """Stock now of these products at this supermarket."""
    return {pid: stock.stock_of(sm.id, pid) for pid in sorted(set(product_ids))}


def supermarkets_for(actor: User, q: str = "", limit: int = 200) -> list[Supermarket]:
    """The supermarkets a user may pick at the counter, optionally by name."""
    query = visible_supermarkets(actor)
    q = (q or "").replace("\x00", "").strip()[:100]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Supermarket.name.like(like, escape="\\"))
    return list(db.session.scalars(query.limit(limit)))
