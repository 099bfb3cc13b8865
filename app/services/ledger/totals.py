"""The monthly totals (household_months) the reports read: what a change of
the ledger adds to them or takes away. Only the writer calls `apply`, in the
same transaction as the change; `expected` recomputes them from the ledger,
for the check."""
from collections import defaultdict
from datetime import date

from sqlalchemy import case, except_, exists, func, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from app.models import LIVE_STATUSES, Checkout, HouseholdMonth, LedgerEntry, Rule

FIGURES = ("awarded", "awards", "deducted", "deductions", "redeemed", "checkouts")
# Kinds whose live entries count in the totals; a checkout counts through its redemption.
COUNTED_KINDS = ("award", "deduction")
table = HouseholdMonth.__table__
Key = tuple[int, date, str]  # household id, first day of the month, category


def month_of(day: date) -> date:
    return day.replace(day=1)


class Deltas:
    """Changes to the totals, summed per (household, month, category) before they are written."""

    def __init__(self):
        self.rows: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))

    def entry(self, household_id: int, kind: str, points: int, occurred_on: date,
              category: str | None, sign: int = 1) -> None:
        """An award or deduction starts (sign 1) or stops (sign -1) counting."""
        row = self.rows[(household_id, month_of(occurred_on), category or "")]
        if kind == "award":
            row["awarded"] += sign * points
            row["awards"] += sign
        elif kind == "deduction":
            row["deducted"] -= sign * points
            row["deductions"] += sign

    def checkout(self, household_id: int, day: date, points: int, sign: int = 1) -> None:
        """A checkout of `points` made on local `day` counts (1) or is voided (-1)."""
        row = self.rows[(household_id, month_of(day), "")]
        row["redeemed"] += sign * points
        row["checkouts"] += sign

    def __bool__(self) -> bool:
        return any(any(v) for v in self.rows.values())


_UPSERTS = {}


def _upsert(dialect: str):
    """INSERT ... ON CONFLICT DO UPDATE adding to the row, built once per dialect."""
    if dialect not in _UPSERTS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=[table.c.household_id, table.c.month, table.c.category],
            set_={f: table.c[f] + stmt.excluded[f] for f in FIGURES})
    return _UPSERTS[dialect]


# Many rows at once (a history import, the demo): straight to the driver, since
# SQLAlchemy's per-row parameter processing would cost more than the upsert.
# The statement is the same on SQLite and PostgreSQL but for the parameter marks.
_RAW_UPSERT = ("INSERT INTO household_months (household_id, month, category, {figures}) "
               "VALUES ({marks}) ON CONFLICT (household_id, month, category) DO UPDATE SET {sets}")
RAW_FROM = 1000


def apply(conn: Connection, deltas: Deltas) -> None:
    """Add the deltas to the totals, in (household, month, category) order."""
    rows = [(key, figures) for key, figures in sorted(deltas.rows.items()) if any(figures.values())]
    if not rows:
        return
    if len(rows) < RAW_FROM:
        params = [{"household_id": hid, "month": month, "category": category, **figures}
                  for (hid, month, category), figures in rows]
        conn.execute(_upsert(conn.dialect.name), params if len(params) > 1 else params[0])
        return
    sqlite = conn.dialect.name == "sqlite"
    sql = _RAW_UPSERT.format(
        figures=", ".join(FIGURES), marks=", ".join(["?" if sqlite else "%s"] * (3 + len(FIGURES))),
        sets=", ".join(f"{f} = household_months.{f} + excluded.{f}" for f in FIGURES))
    conn.exec_driver_sql(sql, [
        (hid, month.isoformat() if sqlite else month, category, *(figures[f] for f in FIGURES))
        for (hid, month, category), figures in rows])


def _month_expr(dialect: str, column):
    if dialect == "sqlite":
        return func.date(column, "start of month")
    return func.cast(func.date_trunc("month", column), HouseholdMonth.month.type)


def expected(conn: Connection):
    """The totals as the ledger says they should be, as a SELECT of
    (household_id, month, category, *FIGURES)."""
    dialect = conn.dialect.name
    e = LedgerEntry.__table__
    reversal = aliased(LedgerEntry)
    is_award = case((e.c.kind == "award", 1), else_=0)
    is_deduction = case((e.c.kind == "deduction", 1), else_=0)
    entries = (
        select(e.c.household_id.label("household_id"),
               _month_expr(dialect, e.c.occurred_on).label("month"),
               func.coalesce(Rule.category, "").label("category"),
               (is_award * e.c.points).label("awarded"), is_award.label("awards"),
               (-is_deduction * e.c.points).label("deducted"), is_deduction.label("deductions"),
               literal(0).label("redeemed"), literal(0).label("checkouts"))
        .select_from(e.outerjoin(Rule.__table__, Rule.id == e.c.rule_id))
        .where(e.c.kind.in_(COUNTED_KINDS), e.c.status.in_(LIVE_STATUSES),
               # A reversal erases the entry it names, if it is of the same household.
               ~exists().where(reversal.reversal_of == e.c.id,
                               reversal.household_id == e.c.household_id)))
    redemptions = (
        select(e.c.household_id, _month_expr(dialect, e.c.occurred_on), literal(""),
               literal(0), literal(0), literal(0), literal(0), -e.c.points, literal(1))
        .select_from(e.join(Checkout.__table__, Checkout.id == e.c.checkout_id))
        .where(e.c.kind == "redemption", Checkout.voided_at.is_(None)))
    rows = union_all(entries, redemptions).subquery()
    return (select(rows.c.household_id, rows.c.month, rows.c.category,
                   *[func.sum(rows.c[f]).label(f) for f in FIGURES])
            .group_by(rows.c.household_id, rows.c.month, rows.c.category))


def differences(conn: Connection, limit: int = 50) -> list[tuple]:
    """Rows where the kept totals and the ledger disagree, compared in the
    database (EXCEPT both ways): ("kept" or "ledger", household_id, month,
    category, *FIGURES) for the side that has the row the other lacks."""
    want = expected(conn).subquery()
    kept = (select(table.c.household_id, table.c.month, table.c.category,
                   *[table.c[f] for f in FIGURES])
            .where(or_(*[table.c[f] != 0 for f in FIGURES])))
    want_rows = select(*want.c)
    out = []
    for side, stmt in (("ledger", except_(want_rows, kept)), ("kept", except_(kept, want_rows))):
        rows = conn.execute(select(stmt.subquery()).limit(limit)).all()
        out.extend((side, *row) for row in rows)
    return out[:limit]
