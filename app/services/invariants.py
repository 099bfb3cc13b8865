"""The invariants (listed in docs/architecture.md) checked on a live database (`flask ledger check`):
each domain's checks, run in invariant order. A check returns the violations
it finds; an empty list is a clean database."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Checkout, Household, IdempotencyKey, LedgerEntry, Lot, utcnow


@dataclass(frozen=True)
class Violation:
    invariant: int
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}: {self.message}"


def checks() -> list:
    """Every check: the ledger's (1, 5, 6 and its totals), the checkouts' (2, 4)
    and the lots' (3), in invariant order."""
    from app.services.checkout import check as checkouts
    from app.services.goods import check as lots
    from app.services.ledger import check as ledger

    return [*ledger.BALANCE_CHECKS, *checkouts.CHECKS, *lots.CHECKS, *ledger.CHECKS]


def check_invariants(now: datetime | None = None) -> list[Violation]:
    """Every violation of the checked invariants, in invariant order."""
    now = now or utcnow()
    out = []
    for check in checks():
        out.extend(check(now))
    return out


def summary() -> dict[str, int]:
    """What was checked, for the command's last line."""
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {"households": count(Household), "entries": count(LedgerEntry),
            "checkouts": count(Checkout), "lots": count(Lot),
            "idempotency keys": count(IdempotencyKey)}
