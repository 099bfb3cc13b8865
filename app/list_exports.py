"""The list pages as tables for export (?format=csv|xlsx): the households
register, a household's ledger, a day's checkouts, donations, stock levels
and write-offs. Every row matching the page's filters, not one page; headers
in the user's language; written by the one exporter (app.exports.download),
which records each export in the audit trail."""
from flask_babel import lazy_gettext as _l

from app.labels import entry_kind, entry_status
from app.services.clock import local_zone
from app.services.reports.tables import village_names

# A page asked for as a file returns every row up to this many (a county's
# largest list, its households, is some tens of thousands).
EXPORT_ROWS = 1_000_000



def _when(moment) -> str:
    """A stored moment as local date and time."""
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def households(items) -> tuple[list, list[list]]:
    names = village_names(h.village_id for h in items)
    columns = [_l("Code"), _l("Head of household"), _l("Village"), _l("Members"), _l("Phone"),
               _l("Address"), _l("Tags"), _l("Status"), _l("Balance")]
    return columns, [[h.code, h.head_name, names.get(h.village_id, ""), h.members, h.phone or "",
                      h.address or "", "、".join(h.tags or []),
                      _l("Active") if h.status == "active" else _l("Exited"), h.balance]
                     for h in items]


def ledger(entries) -> tuple[list, list[list]]:
    columns = [_l("Date"), _l("Kind"), _l("Rule"), _l("Points"), _l("Status"), _l("Note"),
               _l("Entered"), _l("By")]
    return columns, [[e.occurred_on.isoformat(), entry_kind(e),
                      f"{e.rule_code} {e.rule.name}" if e.rule else (e.rule_code or ""), e.points,
                      entry_status(e), e.note or "", _when(e.created_at),
                      e.created_by.username if e.created_by else ""] for e in entries]


def _card_cell(c) -> str:
    """"Yes", or that no card was used and why."""
    from app.services.checkout.checkouts import no_card_text
    return _l("Yes") if c.card_used else no_card_text(c)


def checkouts(items) -> tuple[list, list[list]]:
    columns = [_l("Time"), _l("Household"), _l("Goods"), _l("Points"), _l("Balance after"),
               _l("Card"), _l("By"), _l("Voided")]
    return columns, [[_when(c.created_at), f"{c.household.code} {c.household.head_name}",
                      "、".join(f"{line.product.name}×{line.quantity}" for line in c.lines),
                      c.total_points, c.balance_after, _card_cell(c),
                      c.created_by.username if c.created_by else "",
                      c.void_reason or (_l("Yes") if c.voided_at else "")] for c in items]


def donations(items) -> tuple[list, list[list]]:
    columns = [_l("Received on"), _l("Receipt"), _l("Donor"), _l("Supermarket"), _l("Kind"),
               _l("Goods"), _l("Amount (yuan)")]
    return columns, [[d.received_on.isoformat(), d.receipt_no or "", d.donor.name, d.supermarket.name,
                      _l("Money") if d.kind == "cash" else _l("Goods"),
                      "、".join(f"{line.product.name}×{line.quantity}" for line in d.lines),
                      d.amount_fen / 100 if d.amount_fen is not None else ""] for d in items]


def stock(rows) -> tuple[list, list[list]]:
    columns = [_l("Product"), _l("Category"), _l("Barcode"), _l("In stock"), _l("Unit"),
               _l("Threshold"), _l("Points price")]
    return columns, [[p.name, p.category or "", p.barcode or "", n, p.unit, p.low_stock_threshold,
                      p.points_price] for p, n in rows]


def writeoffs(items) -> tuple[list, list[list]]:
    from app.goods.text import REASONS   # the goods pages import this module
    columns = [_l("Time"), _l("Product"), _l("Quantity"), _l("Reason"), _l("Note"), _l("By")]
    return columns, [[_when(w.created_at), w.product.name, w.quantity, REASONS.get(w.reason, w.reason),
                      w.note or "", w.created_by.username if w.created_by else ""] for w in items]
