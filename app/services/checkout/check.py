"""Invariants 2 and 4 on a live database, for `flask ledger check`."""
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Checkout, CheckoutLine, LedgerEntry, LotMovement
from app.services.invariants import Violation


def check_checkout_totals(now: datetime):
    """4: each checkout's points equal the sum of its lines, and its ledger
    entry took exactly that; 2: no checkout left a balance below zero."""

    lines = (select(CheckoutLine.checkout_id, func.sum(CheckoutLine.points).label("points"))
             .group_by(CheckoutLine.checkout_id).subquery())
    out = [Violation(4, f"checkout {cid}: total {total} but its lines sum to {s}")
           for cid, total, s in db.session.execute(
               select(Checkout.id, Checkout.total_points, func.coalesce(lines.c.points, 0))
               .outerjoin(lines, lines.c.checkout_id == Checkout.id)
               .where(Checkout.total_points != func.coalesce(lines.c.points, 0)))]
    out += [Violation(4, f"checkout {cid}: total {total} but its ledger entry is {points}")
            for cid, total, points in db.session.execute(
                select(Checkout.id, Checkout.total_points, LedgerEntry.points)
                .outerjoin(LedgerEntry, LedgerEntry.id == Checkout.entry_id)
                .where((LedgerEntry.id.is_(None)) | (LedgerEntry.points != -Checkout.total_points)
                       | (LedgerEntry.kind != "redemption")))]
    out += [Violation(2, f"checkout {cid} left a balance of {b}")
            for cid, b in db.session.execute(
                select(Checkout.id, Checkout.balance_after).where(Checkout.balance_after < 0))]
    return out


def check_checkout_lots(now: datetime):
    """4: each line's quantity equals what was taken from lots for it."""

    from app.models import Lot

    moved = (select(LotMovement.checkout_id.label("cid"), Lot.product_id.label("pid"),
                    func.sum(LotMovement.quantity).label("qty"))
             .join(Lot, Lot.id == LotMovement.lot_id)
             .where(LotMovement.kind == "redemption", LotMovement.checkout_id.is_not(None))
             .group_by(LotMovement.checkout_id, Lot.product_id).subquery())
    rows = db.session.execute(
        select(CheckoutLine.checkout_id, CheckoutLine.product_id, CheckoutLine.quantity,
               func.coalesce(moved.c.qty, 0))
        .outerjoin(moved, (moved.c.cid == CheckoutLine.checkout_id)
                   & (moved.c.pid == CheckoutLine.product_id))
        .where(CheckoutLine.quantity != func.coalesce(moved.c.qty, 0))).all()
    out = [Violation(4, f"checkout {cid}, product {pid}: line says {q}, lots gave {m}")
           for cid, pid, q, m in rows]
    voided_without_return = db.session.execute(
        select(Checkout.id).where(Checkout.voided_at.is_not(None), ~select(LedgerEntry.id).where(
            LedgerEntry.reversal_of == Checkout.entry_id).exists())).scalars().all()
    out += [Violation(4, f"checkout {cid} is voided but its points were not given back")
            for cid in voided_without_return]
    return out


CHECKS = [check_checkout_totals, check_checkout_lots]
