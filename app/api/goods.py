"""Goods, donations and stock: products, donors, donations (goods and cash,
and purchases with the money), stock levels and lots, write-offs, transfers,
stocktakes and the donor's trace."""
from flask import g, request
from sqlalchemy import select

from app.api import bp
from app.api.common import json_body, paginated, pagination
from app.api import fields
from app.api.schemas import goods as schemas
from app.api.spec import PROBLEMS, endpoint
from app.extensions import db
from app.models import DonationLine, Lot, LotMovement
from app.services.goods import donations
from app.services.goods import products as goods
from app.services.errors import Errors
from app.services.goods.products import yuan
from app.services.goods import levels
from app.services.goods import lots
from app.services.goods import stocktakes
from app.services.goods import transfers
from app.services.goods import writeoffs

NOT_STOCKED = {404: PROBLEMS[404], 409: "insufficient-stock: fewer units than asked for."}
STOCKTAKE_STATE = {404: PROBLEMS[404],
                   409: "conflict: the stocktake is no longer open for this, or another is "
                        "already open at the supermarket."}

# -- shapes --------------------------------------------------------------------

def _iso(day) -> str | None:
    return day.isoformat() if day is not None else None


def product_body(p) -> dict:
    return {"id": p.id, "name": p.name, "unit": p.unit, "points_price": p.points_price,
            "barcode": p.barcode, "category": p.category, "active": p.active,
            "low_stock_threshold": p.low_stock_threshold}


def donor_body(d) -> dict:
    return {"id": d.id, "name": d.name, "kind": d.kind, "contact": d.contact,
            "named_in_public": d.named_in_public}


def donation_body(d) -> dict:
    body = {"id": d.id, "kind": d.kind, "receipt_no": d.receipt_no, "donor_id": d.donor_id,
            "donor": d.donor.name, "supermarket_id": d.supermarket_id,
            "received_on": d.received_on.isoformat(), "note": d.note,
            "created_at": d.created_at.isoformat(),
            "lines": [{"id": line.id, "product_id": line.product_id, "quantity": line.quantity,
                       "unit_value": yuan(line.unit_value_fen), "best_before": _iso(line.best_before),
                       "purchase_id": line.purchase_id}
                      for line in d.lines]}
    if d.kind == "cash":
        body["amount"] = yuan(d.amount_fen)
        body["spent"] = yuan(donations.spent_fen(d.id))
    return body


def purchase_body(p) -> dict:
    lines = db.session.scalars(select(DonationLine)
                               .where(DonationLine.purchase_id == p.id)).all()
    return {"id": p.id, "donation_id": p.donation_id, "supermarket_id": p.supermarket_id,
            "purchased_on": p.purchased_on.isoformat(), "supplier": p.supplier, "note": p.note,
            "lines": [{"id": line.id, "product_id": line.product_id, "quantity": line.quantity,
                       "unit_value": yuan(line.unit_value_fen),
                       "best_before": _iso(line.best_before)} for line in lines]}


def lot_body(lot) -> dict:
    return {"id": lot.id, "supermarket_id": lot.supermarket_id, "product_id": lot.product_id,
            "donor_id": lot.donor_id, "donation_line_id": lot.donation_line_id,
            "source_lot_id": lot.source_lot_id, "transfer_id": lot.transfer_id,
            "stocktake_id": lot.stocktake_id, "quantity": lot.quantity, "remaining": lot.remaining,
            "redeemed": lot.redeemed, "written_off": lot.written_off,
            "transferred_out": lot.transferred_out, "received_on": lot.received_on.isoformat(),
            "best_before": _iso(lot.best_before)}


def writeoff_body(w) -> dict:
    taken = lots.movements_of(LotMovement.writeoff_id, w.id)
    return {"id": w.id, "supermarket_id": w.supermarket_id, "product_id": w.product_id,
            "quantity": w.quantity, "reason": w.reason, "note": w.note,
            "stocktake_id": w.stocktake_id, "created_at": w.created_at.isoformat(),
            "lots": [{"lot_id": m.lot_id, "quantity": m.quantity} for m in taken]}


def transfer_body(t) -> dict:
    made = db.session.scalars(select(Lot).where(Lot.transfer_id == t.id).order_by(Lot.id)).all()
    return {"id": t.id, "from_supermarket_id": t.from_supermarket_id,
            "to_supermarket_id": t.to_supermarket_id, "product_id": t.product_id,
            "quantity": t.quantity, "note": t.note, "created_at": t.created_at.isoformat(),
            "lots": [{"lot_id": lot.id, "source_lot_id": lot.source_lot_id,
                      "donor_id": lot.donor_id, "quantity": lot.quantity} for lot in made]}


def stocktake_body(st) -> dict:
    def iso(v):
        return v.isoformat() if v is not None else None

    return {"id": st.id, "supermarket_id": st.supermarket_id, "status": st.status,
            "note": st.note, "started_at": iso(st.started_at), "submitted_at": iso(st.submitted_at),
            "decided_at": iso(st.decided_at), "decision_note": st.decision_note,
            "lines": [{"product_id": line.product_id, "name": line.product.name,
                       "expected": line.expected, "counted": line.counted,
                       "difference": line.difference} for line in st.lines]}


def _flag(name: str) -> bool | None:
    """A yes-or-no query argument (the schema gate has refused any other value)."""
    errors = Errors()
    value = fields.flag(errors, request.args, name)
    errors.raise_if_any()
    return value


# -- products ------------------------------------------------------------------

@bp.post("/products")
@endpoint("products.manage", tag="goods", json=schemas.ProductIn, ok=201,
          body=schemas.ProductOut, idempotent=True)
def create_product():
    """Add a product."""
    return product_body(goods.create_product(g.user, json_body())), 201


@bp.get("/products")
@endpoint("products.read", tag="goods", query=schemas.ProductQuery, body=schemas.ProductPage)
def list_products():
    """Products (paginated); ?barcode= finds one by its GTIN, in any of its forms."""
    page, per_page = pagination()
    items, total = goods.search_products(
        barcode_value=request.args.get("barcode") or None, q=request.args.get("q"),
        active=_flag("active"), category=request.args.get("category") or None,
        page=page, per_page=per_page)
    return paginated([product_body(p) for p in items], page, per_page, total)


@bp.get("/products/<int:product_id>")
@endpoint("products.read", tag="goods", body=schemas.ProductOut, problems=(404,))
def get_product(product_id: int):
    """One product."""
    return product_body(goods.get_product(product_id))


@bp.patch("/products/<int:product_id>")
@endpoint("products.manage", tag="goods", json=schemas.ProductPatch, body=schemas.ProductOut,
          idempotent=True, problems=(404,))
def update_product(product_id: int):
    """Edit a product; fields left out stay as they are."""
    return product_body(goods.update_product(g.user, product_id, json_body()))


@bp.post("/products/<int:product_id>/retire")
@endpoint("products.manage", tag="goods", body=schemas.ProductOut, idempotent=True,
          problems=(404,))
def retire_product(product_id: int):
    """Retire a product: no new donations of it; its stock stays."""
    return product_body(goods.set_product_active(g.user, product_id, False))


@bp.post("/products/<int:product_id>/reactivate")
@endpoint("products.manage", tag="goods", body=schemas.ProductOut, idempotent=True,
          problems=(404,))
def reactivate_product(product_id: int):
    """Bring a retired product back."""
    return product_body(goods.set_product_active(g.user, product_id, True))


# -- donors --------------------------------------------------------------------

@bp.post("/donors")
@endpoint("donors.manage", tag="goods", json=schemas.DonorIn, ok=201, body=schemas.DonorOut,
          idempotent=True)
def create_donor():
    """Add a donor."""
    return donor_body(donations.create_donor(g.user, json_body())), 201


@bp.get("/donors")
@endpoint("donors.read", tag="goods", query=schemas.DonorQuery, body=schemas.DonorPage)
def list_donors():
    """Donors (paginated); a donor account sees only itself."""
    page, per_page = pagination()
    items, total = donations.search_donors(g.user, q=request.args.get("q"),
                                           kind=request.args.get("kind"), page=page,
                                           per_page=per_page)
    return paginated([donor_body(d) for d in items], page, per_page, total)


@bp.get("/donors/<int:donor_id>")
@endpoint("donors.read", tag="goods", body=schemas.DonorOut, problems=(404,))
def get_donor(donor_id: int):
    """One donor."""
    return donor_body(donations.get_donor(g.user, donor_id))


@bp.get("/donors/<int:donor_id>/trace")
@endpoint("donors.read", tag="goods", body=schemas.DonorTrace, problems=(404,))
def donor_trace(donor_id: int):
    """Where all of a donor's goods went, per product; households only counted."""
    return donations.trace_donor(g.user, donor_id)


# -- donations -----------------------------------------------------------------

@bp.post("/donations")
@endpoint("donations.receive", tag="goods", json=schemas.DonationIn, ok=201,
          body=schemas.DonationOut, idempotent=True, problems={
              404: "not-found: the supermarket is not one where the user receives."})
def create_donation():
    """Receive donated goods at a supermarket: each line becomes a lot."""
    return donation_body(donations.receive_donation(g.user, json_body())), 201


@bp.post("/cash-donations")
@endpoint("donations.receive", tag="goods", json=schemas.CashIn, ok=201,
          body=schemas.DonationOut, idempotent=True, problems={
              404: "not-found: the supermarket is not one where the user receives."})
def create_cash_donation():
    """Record a cash donation."""
    return donation_body(donations.record_cash_donation(g.user, json_body())), 201


@bp.post("/donations/<int:donation_id>/purchases")
@endpoint("donations.receive", tag="goods", json=schemas.PurchaseIn, ok=201,
          body=schemas.PurchaseOut, idempotent=True, problems=(404,),
          refused_when={"donation_id": "the donation is not a cash donation"})
def create_purchase(donation_id: int):
    """Goods bought with a cash donation: lots of that donor."""
    return purchase_body(donations.record_purchase(g.user, donation_id, json_body())), 201


@bp.get("/donations")
@endpoint("donations.read", tag="goods", query=schemas.DonationQuery, body=schemas.DonationPage)
def list_donations():
    """Donations the user may see, newest first (paginated)."""
    page, per_page = pagination()
    items, total = donations.search_donations(
        g.user, supermarket_id=request.args.get("supermarket_id"),
        donor_id=request.args.get("donor_id"), kind=request.args.get("kind"),
        page=page, per_page=per_page)
    return paginated([donation_body(d) for d in items], page, per_page, total)


@bp.get("/donations/<int:donation_id>")
@endpoint("donations.read", tag="goods", body=schemas.DonationOut, problems=(404,))
def get_donation(donation_id: int):
    """One donation with its lines."""
    return donation_body(donations.get_donation(g.user, donation_id))


@bp.get("/donations/<int:donation_id>/trace")
@endpoint("donations.trace", tag="goods", body=schemas.DonationTrace, problems=(404,))
def donation_trace(donation_id: int):
    """Where a donation's goods went, line by line; households only counted."""
    return donations.trace_donation(g.user, donation_id)


# -- stock ---------------------------------------------------------------------

@bp.get("/supermarkets/<int:supermarket_id>/stock")
@endpoint("stock.read", tag="goods", query=schemas.StockQuery, body=schemas.StockPage,
          problems=(404,))
def get_stock(supermarket_id: int):
    """Stock per product: the sum of its lots (paginated)."""
    page, per_page = pagination()
    _, rows, total = levels.stock_levels(g.user, supermarket_id, low_only=bool(_flag("low")),
                                        q=request.args.get("q"), page=page, per_page=per_page)
    items = [{"product_id": p.id, "name": p.name, "quantity": qty, "unit": p.unit,
              "category": p.category, "barcode": p.barcode, "points_price": p.points_price,
              "low_stock_threshold": p.low_stock_threshold,
              "low": qty <= p.low_stock_threshold, "active": p.active} for p, qty in rows]
    return paginated(items, page, per_page, total)


@bp.get("/supermarkets/<int:supermarket_id>/lots")
@endpoint("stock.read", tag="goods", query=schemas.LotQuery, body=schemas.LotPage,
          problems=(404,))
def list_lots(supermarket_id: int):
    """Lots at a supermarket, newest first (paginated)."""
    page, per_page = pagination()
    _, lots, total = levels.lots_at(g.user, supermarket_id, product_id=request.args.get("product_id"),
                                   only_remaining=bool(_flag("remaining")), page=page,
                                   per_page=per_page)
    return paginated([lot_body(lot) for lot in lots], page, per_page, total)


@bp.post("/supermarkets/<int:supermarket_id>/stock/writeoffs")
@endpoint("stock.keep", tag="goods", json=schemas.WriteoffIn, ok=201, body=schemas.WriteoffOut,
          idempotent=True, problems=NOT_STOCKED)
def create_writeoff(supermarket_id: int):
    """Write off units, from the lots that expire first, then the oldest."""
    return writeoff_body(writeoffs.write_off(g.user, supermarket_id, json_body())), 201


@bp.get("/supermarkets/<int:supermarket_id>/stock/writeoffs")
@endpoint("stock.read", tag="goods", query=schemas.WriteoffQuery, body=schemas.WriteoffPage,
          problems=(404,))
def list_writeoffs(supermarket_id: int):
    """Write-offs at a supermarket, newest first (paginated)."""
    page, per_page = pagination()
    _, items, total = writeoffs.writeoffs_at(g.user, supermarket_id, page=page, per_page=per_page)
    return paginated([writeoff_body(w) for w in items], page, per_page, total)


@bp.post("/transfers")
@endpoint("stock.keep", tag="goods", json=schemas.TransferIn, ok=201, body=schemas.TransferOut,
          idempotent=True, problems=NOT_STOCKED)
def create_transfer():
    """Move units to another supermarket; each new lot names its source lot and donor."""
    return transfer_body(transfers.transfer_stock(g.user, json_body())), 201


@bp.get("/transfers/<int:transfer_id>")
@endpoint("stock.read", tag="goods", body=schemas.TransferOut, problems=(404,))
def get_transfer(transfer_id: int):
    """One transfer and the lots it made."""
    return transfer_body(transfers.get_transfer(g.user, transfer_id))


@bp.get("/supermarkets/<int:supermarket_id>/transfers")
@endpoint("stock.read", tag="goods", body=schemas.TransferList, problems=(404,))
def list_transfers(supermarket_id: int):
    """Transfers to or from a supermarket, newest first."""
    _, items = transfers.transfers_at(g.user, supermarket_id)
    return {"items": [transfer_body(t) for t in items]}


# -- stocktakes ----------------------------------------------------------------

@bp.post("/supermarkets/<int:supermarket_id>/stocktakes")
@endpoint("stocktake.count", tag="goods", json=schemas.StocktakeIn, ok=201,
          body=schemas.StocktakeOut, idempotent=True, problems=STOCKTAKE_STATE)
def start_stocktake(supermarket_id: int):
    """Start a stocktake (one open at a supermarket at a time)."""
    return stocktake_body(stocktakes.start_stocktake(g.user, supermarket_id, json_body())), 201


@bp.get("/supermarkets/<int:supermarket_id>/stocktakes")
@endpoint("stock.read", tag="goods", body=schemas.StocktakeList, problems=(404,))
def list_stocktakes(supermarket_id: int):
    """Stocktakes at a supermarket, newest first."""
    _, items = stocktakes.stocktakes_at(g.user, supermarket_id)
    return {"items": [stocktake_body(st) for st in items]}


@bp.get("/stocktakes/<int:stocktake_id>")
@endpoint("stock.read", tag="goods", body=schemas.StocktakeOut, problems=(404,))
def get_stocktake(stocktake_id: int):
    """A stocktake with its counts and differences."""
    return stocktake_body(stocktakes.get_stocktake(g.user, stocktake_id))


@bp.post("/stocktakes/<int:stocktake_id>/counts")
@endpoint("stocktake.count", tag="goods", json=schemas.CountsIn, body=schemas.StocktakeOut,
          idempotent=True, problems=STOCKTAKE_STATE)
def record_counts(stocktake_id: int):
    """Record counts; the expected stock is taken now."""
    return stocktake_body(stocktakes.record_counts(g.user, stocktake_id, json_body()))


@bp.post("/stocktakes/<int:stocktake_id>/submit")
@endpoint("stocktake.count", tag="goods", body=schemas.StocktakeOut, idempotent=True,
          problems=STOCKTAKE_STATE,
          refused_when={"counts": "the stocktake has no counts yet"})
def submit_stocktake(stocktake_id: int):
    """Counting done: the differences wait for a cadre's review."""
    return stocktake_body(stocktakes.submit_stocktake(g.user, stocktake_id))


@bp.post("/stocktakes/<int:stocktake_id>/finalize")
@endpoint("stocktake.decide", tag="goods", json=schemas.NoteIn, body=schemas.StocktakeOut,
          idempotent=True, problems=STOCKTAKE_STATE)
def finalize_stocktake(stocktake_id: int):
    """Accept the differences: a shortage is written off (reason count), a
    surplus becomes a lot from the stocktake."""
    return stocktake_body(stocktakes.finalize_stocktake(g.user, stocktake_id, json_body()))


@bp.post("/stocktakes/<int:stocktake_id>/reopen")
@endpoint("stocktake.decide", tag="goods", json=schemas.NoteIn, body=schemas.StocktakeOut,
          idempotent=True, problems=STOCKTAKE_STATE)
def reopen_stocktake(stocktake_id: int):
    """Send a submitted stocktake back for a recount."""
    return stocktake_body(stocktakes.reopen_stocktake(g.user, stocktake_id, json_body()))


@bp.post("/stocktakes/<int:stocktake_id>/cancel")
@endpoint("stocktake.cancel", tag="goods", json=schemas.NoteIn, body=schemas.StocktakeOut,
          idempotent=True, problems=STOCKTAKE_STATE)
def cancel_stocktake(stocktake_id: int):
    """Drop a stocktake without changing stock."""
    return stocktake_body(stocktakes.cancel_stocktake(g.user, stocktake_id, json_body()))
