"""What a ledger entry's kind and status are called, on every page and in every
export (the passbook, the review list, a household's ledger as a file)."""
from flask_babel import lazy_gettext as _l

ENTRY_KINDS = {"award": _l("Award"), "deduction": _l("Deduction"), "redemption": _l("Redemption"),
               "reversal": _l("Reversal"), "expiry": _l("Year-end expiry"),
               "adjustment": _l("Adjustment")}
# An entry still pending is shown more precisely on the pages (on notice, awaiting approval).
ENTRY_STATUSES = {"posted": _l("Counted"), "pending": _l("Pending"),
                  "disputed": _l("Objection raised"), "cancelled": _l("Cancelled")}
# A cancelled entry its author (or a cadre) took back as a mistake: said as such, not "cancelled".
WITHDRAWN = _l("Withdrawn")


# A reversal that gives back a voided checkout's points, said in plain words.
VOIDED_CHECKOUT = _l("Checkout voided: points back")


def entry_kind(e) -> str:
    """What an entry is called: a voided checkout's refund is not a cadre's reversal."""
    if e.kind == "reversal" and getattr(e, "checkout_id", None):
        return VOIDED_CHECKOUT
    return ENTRY_KINDS.get(e.kind, e.kind)


def entry_status(e) -> str:
    """What an entry's status is called, a withdrawal named as one."""
    if e.status == "cancelled" and getattr(e, "withdrawn", False):
        return WITHDRAWN
    return ENTRY_STATUSES.get(e.status, e.status)
