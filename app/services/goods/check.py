"""Invariant 3 on a live database, for `flask ledger check`: every lot
balances, its counters agree with its movements, and every unit can be
followed back to where it came from. Each check returns the violations it
finds; app.services.invariants runs them with the others."""
from datetime import datetime

from sqlalchemy import case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    Donation, DonationLine, Lot, LotMovement, Stocktake, Transfer, Writeoff,
)
from app.services.invariants import Violation


def check_lot_arithmetic(now: datetime | None = None) -> list[Violation]:
    """3: quantity = remaining + redeemed + written off + transferred out, 0 <= remaining <= quantity."""
    rows = db.session.execute(
        select(Lot.id, Lot.quantity, Lot.remaining, Lot.redeemed, Lot.written_off,
               Lot.transferred_out)
        .where(or_(Lot.quantity != Lot.remaining + Lot.redeemed + Lot.written_off + Lot.transferred_out,
                   Lot.remaining < 0, Lot.remaining > Lot.quantity, Lot.quantity <= 0,
                   Lot.redeemed < 0, Lot.written_off < 0, Lot.transferred_out < 0))
        .order_by(Lot.id)).all()
    return [Violation(3, f"lot {lid}: quantity {q} but remaining {r} + redeemed {rd} + written off "
                         f"{w} + transferred out {t}") for lid, q, r, rd, w, t in rows]


def check_lot_movements(now: datetime | None = None) -> list[Violation]:
    """3: each lot's counters equal the sums of its movements (redemptions less returns,
    write-offs, transfers out)."""
    def total(kind):
        return func.coalesce(func.sum(case((LotMovement.kind == kind, LotMovement.quantity), else_=0)), 0)

    sums = (select(LotMovement.lot_id.label("lot_id"),
                   (total("redemption") - total("return")).label("redeemed"),
                   total("writeoff").label("written_off"), total("transfer").label("transferred"))
            .group_by(LotMovement.lot_id).subquery())
    redeemed = func.coalesce(sums.c.redeemed, 0)
    written_off = func.coalesce(sums.c.written_off, 0)
    transferred = func.coalesce(sums.c.transferred, 0)
    rows = db.session.execute(
        select(Lot.id, Lot.redeemed, redeemed, Lot.written_off, written_off, Lot.transferred_out,
               transferred)
        .outerjoin(sums, sums.c.lot_id == Lot.id)
        .where(or_(Lot.redeemed != redeemed, Lot.written_off != written_off,
                   Lot.transferred_out != transferred))
        .order_by(Lot.id)).all()
    out = []
    for lid, r, mr, w, mw, t, mt in rows:
        out.append(Violation(3, f"lot {lid}: counters redeemed {r}, written off {w}, transferred out "
                                f"{t} but its movements sum to {mr}, {mw}, {mt}"))
    twice = db.session.execute(
        select(LotMovement.returns_id, func.count()).where(LotMovement.returns_id.is_not(None))
        .group_by(LotMovement.returns_id).having(func.count() > 1)).all()
    out += [Violation(3, f"redemption {mid} is returned {n} times") for mid, n in twice]
    return out


def check_lot_origins(now: datetime | None = None) -> list[Violation]:
    """3: a donation line's own lots hold exactly its quantity, of its product and
    donor; a transferred lot holds what left its source lot, keeping product and
    donor; a surplus lot comes from a finalized stocktake."""
    out = []
    roots = (select(Lot.donation_line_id.label("line_id"), func.sum(Lot.quantity).label("n"))
             .where(Lot.source_lot_id.is_(None), Lot.donation_line_id.is_not(None))
             .group_by(Lot.donation_line_id).subquery())
    rows = db.session.execute(
        select(DonationLine.id, DonationLine.quantity, func.coalesce(roots.c.n, 0))
        .outerjoin(roots, roots.c.line_id == DonationLine.id)
        .where(DonationLine.quantity != func.coalesce(roots.c.n, 0))
        .order_by(DonationLine.id)).all()
    out += [Violation(3, f"donation line {lid}: quantity {q} but its lots hold {n}")
            for lid, q, n in rows]
    rows = db.session.execute(
        select(Lot.id, DonationLine.id)
        .join(DonationLine, DonationLine.id == Lot.donation_line_id)
        .join(Donation, Donation.id == DonationLine.donation_id)
        .where(or_(Lot.product_id != DonationLine.product_id, Lot.donor_id.is_(None),
                   Lot.donor_id != Donation.donor_id))
        .order_by(Lot.id)).all()
    out += [Violation(3, f"lot {lid}: product or donor differs from its donation line {line}")
            for lid, line in rows]
    # What left each source lot by each transfer, less what the lots it made hold.
    both = union_all(
        select(LotMovement.lot_id.label("source"), LotMovement.transfer_id.label("transfer"),
               LotMovement.quantity.label("sent"), literal(0).label("got"))
        .where(LotMovement.kind == "transfer"),
        select(Lot.source_lot_id, Lot.transfer_id, literal(0), Lot.quantity)
        .where(Lot.source_lot_id.is_not(None)),
    ).subquery()
    for src, transfer, sent, got in db.session.execute(
            select(both.c.source, both.c.transfer, func.sum(both.c.sent), func.sum(both.c.got))
            .group_by(both.c.source, both.c.transfer)
            .having(func.sum(both.c.sent) != func.sum(both.c.got))).all():
        out.append(Violation(3, f"transfer {transfer}: {sent} left lot {src} but the lots it "
                                f"made hold {got}"))
    source = aliased(Lot)
    rows = db.session.execute(
        select(Lot.id, source.id).join(source, source.id == Lot.source_lot_id)
        .where(or_(Lot.product_id != source.product_id,
                   func.coalesce(Lot.donor_id, 0) != func.coalesce(source.donor_id, 0),
                   func.coalesce(Lot.donation_line_id, 0) != func.coalesce(source.donation_line_id, 0),
                   func.coalesce(Lot.stocktake_id, 0) != func.coalesce(source.stocktake_id, 0)))
        .order_by(Lot.id)).all()
    out += [Violation(3, f"lot {lid}: product, donor or origin differs from its source lot {sid}")
            for lid, sid in rows]
    rows = db.session.execute(
        select(Lot.id, Stocktake.id, Stocktake.status)
        .join(Stocktake, Stocktake.id == Lot.stocktake_id)
        .where(Lot.source_lot_id.is_(None), Stocktake.status != "finalized")
        .order_by(Lot.id)).all()
    out += [Violation(3, f"lot {lid}: surplus of stocktake {sid}, which is {status}")
            for lid, sid, status in rows]
    return out


def check_stock_acts(now: datetime | None = None) -> list[Violation]:
    """3: each write-off and transfer took exactly its quantity from lots of its
    supermarket and product."""
    out = []
    for model, field, label in ((Writeoff, LotMovement.writeoff_id, "write-off"),
                                (Transfer, LotMovement.transfer_id, "transfer")):
        place = model.supermarket_id if model is Writeoff else model.from_supermarket_id
        taken = (select(field.label("owner"), func.sum(LotMovement.quantity).label("n"))
                 .where(field.is_not(None)).group_by(field).subquery())
        rows = db.session.execute(
            select(model.id, model.quantity, func.coalesce(taken.c.n, 0))
            .outerjoin(taken, taken.c.owner == model.id)
            .where(model.quantity != func.coalesce(taken.c.n, 0)).order_by(model.id)).all()
        out += [Violation(3, f"{label} {oid}: quantity {q} but {n} taken from lots")
                for oid, q, n in rows]
        rows = db.session.execute(
            select(model.id, Lot.id).join(LotMovement, field == model.id)
            .join(Lot, Lot.id == LotMovement.lot_id)
            .where(or_(Lot.supermarket_id != place, Lot.product_id != model.product_id))
            .order_by(model.id)).all()
        out += [Violation(3, f"{label} {oid} took from lot {lid} of another supermarket or product")
                for oid, lid in rows]
    return out


CHECKS = [check_lot_arithmetic, check_lot_movements, check_lot_origins, check_stock_acts]


def check_lots(now: datetime | None = None) -> list[str]:
    """Every lot violation, as text."""
    return [str(v) for check in CHECKS for v in check(now)]
