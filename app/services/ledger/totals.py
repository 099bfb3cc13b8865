"""The monthly totals the reports read, and what a change of the ledger adds
to them or takes away: per household and month (household_months: points
awarded and deducted, checkouts), per village, month, rule category and rule
(category_months: awards and deductions), and each household's last award
and redemption day; and per author, household and month of entry, the
awards entered and what became of them (author_months, for the fairness
checks). Only the writer calls `apply`, in the same transaction as the
change; `expected_*` recompute them from the ledger, for the check."""
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import (Date, and_, bindparam, case, cast, delete, except_, exists, func, insert,
                        literal, or_, select, union_all, update)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from app.models import (LIVE_STATUSES, AuthorMonth, CategoryMonth, Checkout, Household,
                        HouseholdMonth, LedgerEntry, Rule)
from app.services.clock import local_zone

FIGURES = ("awarded", "awards", "deducted", "deductions", "redeemed", "checkouts")
CATEGORY_FIGURES = ("awarded", "awards", "deducted", "deductions")
# Kinds whose live entries count in the totals; a checkout counts through its redemption.
COUNTED_KINDS = ("award", "deduction")
table = HouseholdMonth.__table__
category_table = CategoryMonth.__table__
author_table = AuthorMonth.__table__
AUTHOR_FIGURES = ("awards", "rejected", "reversed", "late")
# An award entered this many days or more after the day it records is late.
LATE_DAYS = 14


def month_of(day: date) -> date:
    return day.replace(day=1)


class Deltas:
    """Changes to the totals, summed per row before they are written."""

    def __init__(self):
        # (household, month) -> FIGURES; (household, month, category, rule) -> CATEGORY_FIGURES
        # (the household's village is looked up as the row is written).
        self.rows: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
        self.categories: dict[tuple[int, date, str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(CATEGORY_FIGURES, 0))
        # households.last_award_on / last_redeemed_on: a later day moves them
        # forward; an award or checkout that stops counting has them recounted.
        self.awarded_on: dict[int, date] = {}
        self.redeemed_on: dict[int, date] = {}
        self.recount: set[int] = set()
        # (user, household, month of entry) -> AUTHOR_FIGURES
        self.authors: dict[tuple[int, int, date], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(AUTHOR_FIGURES, 0))

    def entry(self, household_id: int, kind: str, points: int, occurred_on: date,
              category: str | None, sign: int = 1, rule_code: str | None = None) -> None:
        """An award or deduction starts (sign 1) or stops (sign -1) counting."""
        month = month_of(occurred_on)
        for row in (self.rows[(household_id, month)],
                    self.categories[(household_id, month, category or "", rule_code or "")]):
            if kind == "award":
                row["awarded"] += sign * points
                row["awards"] += sign
            elif kind == "deduction":
                row["deducted"] -= sign * points
                row["deductions"] += sign
        if kind == "award":
            if sign > 0:
                _later(self.awarded_on, household_id, occurred_on)
            else:
                self.recount.add(household_id)

    def entered(self, user_id: int | None, household_id: int, entered_on: date, occurred_on: date
                ) -> None:
        """A user entered an award on local day `entered_on` for `occurred_on`."""
        if user_id is None:
            return
        row = self.authors[(user_id, household_id, month_of(entered_on))]
        row["awards"] += 1
        if (entered_on - occurred_on).days >= LATE_DAYS:
            row["late"] += 1

    def undone(self, user_id: int | None, household_id: int, entered_on: date, how: str) -> None:
        """An award entered on `entered_on` was rejected by a cadre or reversed."""
        if user_id is not None:
            self.authors[(user_id, household_id, month_of(entered_on))][how] += 1

    def checkout(self, household_id: int, day: date, points: int, sign: int = 1,
                 dated: bool = False) -> None:
        """A checkout of `points` made on local `day` counts (1) or is voided (-1).
        `dated`: the debit has already set the household's last_redeemed_on."""
        row = self.rows[(household_id, month_of(day))]
        row["redeemed"] += sign * points
        row["checkouts"] += sign
        if sign < 0:
            self.recount.add(household_id)
        elif not dated:
            _later(self.redeemed_on, household_id, day)

    def __bool__(self) -> bool:
        return (any(any(v) for v in self.rows.values()) or bool(self.awarded_on) or bool(self.authors)
                or bool(self.redeemed_on) or bool(self.recount))


def _later(days: dict[int, date], household_id: int, day: date) -> None:
    if days.get(household_id) is None or days[household_id] < day:
        days[household_id] = day


RAW_FROM = 1000


def _upsert_sql(target: str, keys: tuple[str, ...], figures: tuple[str, ...], select_keys: str,
                mark: str, conflict: tuple[str, ...]) -> str:
    """INSERT ... SELECT (the village from the household row) ... ON CONFLICT
    DO UPDATE adding to the row: one statement for SQLite and PostgreSQL."""
    marks = ", ".join([mark] * len(figures))
    return (f"INSERT INTO {target} ({', '.join(keys)}, {', '.join(figures)}) "
            f"SELECT {select_keys}, {marks} FROM households WHERE id = {mark} "
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET "
            + ", ".join(f"{f} = {target}.{f} + excluded.{f}" for f in figures))


def copy_rows(conn: Connection, table: str, columns, rows) -> None:
    """PostgreSQL: rows (Python values) into `table` by COPY, many times faster
    than INSERTs for a bulk load."""
    with conn.connection.driver_connection.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _upsert_many_pg(conn: Connection, target: str, keys, figures, conflict, temp_columns,
                    select_keys: str, rows) -> None:
    """Many rows on PostgreSQL: COPY them into a temporary table, then one
    INSERT ... SELECT (summed per key, the village from the household) ...
    ON CONFLICT DO UPDATE, instead of one statement per row."""
    temp = f"_bulk_{target}"
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE {temp} ("
                    + ", ".join(f"{name} {kind}" for name, kind in temp_columns) + ")")
    copy_rows(conn, temp, [name for name, _ in temp_columns], rows)
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {target} ({', '.join(keys)}, {', '.join(figures)}) "
            f"SELECT {select_keys}, {', '.join(f'SUM(t.{f})' for f in figures)} "
            f"FROM {temp} t JOIN households h ON h.id = t.hid "
            f"GROUP BY {select_keys} ORDER BY {select_keys} "
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET "
            + ", ".join(f"{f} = {target}.{f} + excluded.{f}" for f in figures))
        cur.execute(f"DROP TABLE {temp}")


def apply(conn: Connection, deltas: Deltas) -> None:
    """Add the deltas to the totals (rows in key order), then move the households' last days."""
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    day = (lambda d: d.isoformat()) if sqlite else (lambda d: d)
    bulk = not sqlite and max(len(deltas.rows), len(deltas.categories), len(deltas.authors)) > RAW_FROM
    if bulk:
        _apply_many_pg(conn, deltas)
    months = [] if bulk else [(key, f) for key, f in sorted(deltas.rows.items()) if any(f.values())]
    if months:
        sql = _upsert_sql("household_months", ("household_id", "month", "village_id"), FIGURES,
                          f"id, {mark}, village_id", mark, ("household_id", "month"))
        params = [(day(month), *(f[n] for n in FIGURES), hid) for (hid, month), f in months]
        conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
    categories = [] if bulk else [(key, f) for key, f in sorted(deltas.categories.items())
                                  if any(f.values())]
    if categories:
        sql = _upsert_sql("category_months", ("village_id", "month", "category", "rule_code"),
                          CATEGORY_FIGURES, f"village_id, {mark}, {mark}, {mark}", mark,
                          ("village_id", "month", "category", "rule_code"))
        params = [(day(month), category, rule, *(f[n] for n in CATEGORY_FIGURES), hid)
                  for (hid, month, category, rule), f in categories]
        conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
    authors = [] if bulk else [(key, f) for key, f in sorted(deltas.authors.items()) if any(f.values())]
    if authors:
        sql = _upsert_sql("author_months", ("user_id", "household_id", "month", "village_id"),
                          AUTHOR_FIGURES, f"{mark}, id, {mark}, village_id", mark,
                          ("user_id", "household_id", "month"))
        params = [(user, day(month), *(f[n] for n in AUTHOR_FIGURES), hid)
                  for (user, hid, month), f in authors]
        conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
    for column, days in (("last_award_on", deltas.awarded_on), ("last_redeemed_on", deltas.redeemed_on)):
        _move_last(conn, column, {h: d for h, d in days.items() if h not in deltas.recount})
    if deltas.recount:
        ids = sorted(deltas.recount)
        for start in range(0, len(ids), RAW_FROM):
            conn.execute(_RECOUNT, {"ids": ids[start:start + RAW_FROM]})


def _apply_many_pg(conn: Connection, deltas: Deltas) -> None:
    """The three upserts of `apply`, for a bulk load on PostgreSQL."""
    ints = lambda names: [(n, "integer") for n in names]  # noqa: E731
    _upsert_many_pg(conn, "household_months", ("household_id", "month", "village_id"), FIGURES,
                    ("household_id", "month"), [("hid", "integer"), ("month", "date"), *ints(FIGURES)],
                    "t.hid, t.month, h.village_id",
                    ((hid, month, *(f[n] for n in FIGURES))
                     for (hid, month), f in deltas.rows.items() if any(f.values())))
    _upsert_many_pg(conn, "category_months", ("village_id", "month", "category", "rule_code"),
                    CATEGORY_FIGURES, ("village_id", "month", "category", "rule_code"),
                    [("hid", "integer"), ("month", "date"), ("category", "text"), ("rule_code", "text"),
                     *ints(CATEGORY_FIGURES)],
                    "h.village_id, t.month, t.category, t.rule_code",
                    ((hid, month, category, rule, *(f[n] for n in CATEGORY_FIGURES))
                     for (hid, month, category, rule), f in deltas.categories.items() if any(f.values())))
    _upsert_many_pg(conn, "author_months", ("user_id", "household_id", "month", "village_id"),
                    AUTHOR_FIGURES, ("user_id", "household_id", "month"),
                    [("user_id", "integer"), ("hid", "integer"), ("month", "date"), *ints(AUTHOR_FIGURES)],
                    "t.user_id, t.hid, t.month, h.village_id",
                    ((user, hid, month, *(f[n] for n in AUTHOR_FIGURES))
                     for (user, hid, month), f in deltas.authors.items() if any(f.values())))


households = Household.__table__
entries = LedgerEntry.__table__
_reversal = aliased(LedgerEntry)


def last_award_of(household_id):
    """The day of a household's latest live award (a scalar subquery)."""
    return (select(func.max(entries.c.occurred_on))
            .where(entries.c.household_id == household_id, entries.c.kind == "award",
                   entries.c.status.in_(LIVE_STATUSES),
                   ~exists().where(_reversal.reversal_of == entries.c.id,
                                   _reversal.household_id == entries.c.household_id))
            .scalar_subquery())


def last_redeemed_of(household_id):
    """The day of a household's latest checkout not voided (a scalar subquery)."""
    return (select(func.max(entries.c.occurred_on))
            .select_from(entries.join(Checkout.__table__, Checkout.id == entries.c.checkout_id))
            .where(entries.c.household_id == household_id, entries.c.kind == "redemption",
                   Checkout.voided_at.is_(None))
            .scalar_subquery())


# An award reversed or cancelled, a checkout voided: the household's last days
# are read again from its own entries (ix_ledger_household_status).
_RECOUNT = (update(households).where(households.c.id.in_(bindparam("ids", expanding=True)))
            .values(last_award_on=last_award_of(households.c.id),
                    last_redeemed_on=last_redeemed_of(households.c.id)))
_MOVE_LAST = {
    column: (update(households).where(
        households.c.id == bindparam("hid"),
        or_(households.c[column].is_(None), households.c[column] < bindparam("day")))
        .values({column: bindparam("day")}))
    for column in ("last_award_on", "last_redeemed_on")}


def _move_last(conn: Connection, column: str, days: dict[int, date]) -> None:
    """Move a last day forward where `days` has a later one, households in id order."""
    if not days:
        return
    if len(days) < RAW_FROM:
        conn.execute(_MOVE_LAST[column], [{"hid": h, "day": days[h]} for h in sorted(days)])
        return
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    conn.exec_driver_sql(
        f"UPDATE households SET {column} = {mark} WHERE id = {mark} "
        f"AND ({column} IS NULL OR {column} < {mark})",
        [(d.isoformat() if sqlite else d, h, d.isoformat() if sqlite else d)
         for h, d in sorted(days.items())])


def _month_expr(dialect: str, column):
    if dialect == "sqlite":
        return func.date(column, "start of month")
    return func.cast(func.date_trunc("month", column), HouseholdMonth.month.type)


def _counted(conn: Connection):
    """Every live, unreversed award and deduction and every checkout not voided,
    as rows (household_id, village_id, month, category, rule_code, *FIGURES)."""
    dialect = conn.dialect.name
    e = LedgerEntry.__table__
    h = Household.__table__
    reversal = aliased(LedgerEntry)
    is_award = case((e.c.kind == "award", 1), else_=0)
    is_deduction = case((e.c.kind == "deduction", 1), else_=0)
    entries_ = (
        select(e.c.household_id.label("household_id"), h.c.village_id.label("village_id"),
               _month_expr(dialect, e.c.occurred_on).label("month"),
               func.coalesce(Rule.category, "").label("category"),
               func.coalesce(e.c.rule_code, "").label("rule_code"),
               (is_award * e.c.points).label("awarded"), is_award.label("awards"),
               (-is_deduction * e.c.points).label("deducted"), is_deduction.label("deductions"),
               literal(0).label("redeemed"), literal(0).label("checkouts"))
        .select_from(e.join(h, h.c.id == e.c.household_id)
                     .outerjoin(Rule.__table__, Rule.id == e.c.rule_id))
        .where(e.c.kind.in_(COUNTED_KINDS), e.c.status.in_(LIVE_STATUSES),
               # A reversal erases the entry it names, if it is of the same household.
               ~exists().where(reversal.reversal_of == e.c.id,
                               reversal.household_id == e.c.household_id)))
    redemptions = (
        select(e.c.household_id, h.c.village_id, _month_expr(dialect, e.c.occurred_on),
               literal(""), literal(""), literal(0), literal(0), literal(0), literal(0), -e.c.points,
               literal(1))
        .select_from(e.join(h, h.c.id == e.c.household_id)
                     .join(Checkout.__table__, Checkout.id == e.c.checkout_id))
        .where(e.c.kind == "redemption", Checkout.voided_at.is_(None)))
    return union_all(entries_, redemptions).subquery()


def expected(conn: Connection):
    """household_months as the ledger says it should be: (household_id, month, village_id, *FIGURES)."""
    rows = _counted(conn)
    return (select(rows.c.household_id, rows.c.month, rows.c.village_id,
                   *[func.sum(rows.c[f]).label(f) for f in FIGURES])
            .group_by(rows.c.household_id, rows.c.month, rows.c.village_id))


def expected_categories(conn: Connection):
    """category_months as the ledger says: (village_id, month, category, rule_code,
    *CATEGORY_FIGURES)."""
    rows = _counted(conn)
    return (select(rows.c.village_id, rows.c.month, rows.c.category, rows.c.rule_code,
                   *[func.sum(rows.c[f]).label(f) for f in CATEGORY_FIGURES])
            .where(rows.c.category != "")
            .group_by(rows.c.village_id, rows.c.month, rows.c.category, rows.c.rule_code)
            .having(or_(*[func.sum(rows.c[f]) != 0 for f in CATEGORY_FIGURES])))


def local_day(dialect: str, column):
    """The local date of a stored moment, in SQL."""
    zone = local_zone()
    if dialect == "sqlite":
        # Stored as naive UTC text; the zone's offset now (the deployment's
        # zone, Asia/Shanghai by default, keeps no summer time).
        minutes = int(datetime.now(zone).utcoffset().total_seconds() // 60)
        return func.date(column, f"{minutes:+d} minutes")
    return cast(func.timezone(str(zone), column), Date)


def days_late(dialect: str, e):
    """Days from an entry's occurred_on to the local day it was entered, in SQL."""
    if dialect == "sqlite":
        return func.julianday(local_day(dialect, e.c.created_at)) - func.julianday(e.c.occurred_on)
    return local_day(dialect, e.c.created_at) - e.c.occurred_on


def rejected_clause(e):
    """An award rejected by a cadre: cancelled through a decision. An entry
    withdrawn by its author (or a cadre) as a mistake is not a rejection."""
    return and_(e.c.status == "cancelled", e.c.decided_by_id.is_not(None),
                e.c.withdrawn.is_(False))


def expected_authors(conn: Connection):
    """author_months as the ledger says: (user_id, household_id, month, village_id, *AUTHOR_FIGURES)."""
    dialect = conn.dialect.name
    e = LedgerEntry.__table__
    h = Household.__table__
    reversal = aliased(LedgerEntry)
    month = _month_expr(dialect, local_day(dialect, e.c.created_at))
    flag = lambda clause: func.sum(case((clause, 1), else_=0))  # noqa: E731
    return (select(e.c.created_by_id.label("user_id"), e.c.household_id, month.label("month"),
                   h.c.village_id, func.count().label("awards"),
                   flag(rejected_clause(e)).label("rejected"),
                   # A reversal erases the entry it names, if it is of the same household.
                   flag(exists().where(reversal.reversal_of == e.c.id,
                                       reversal.household_id == e.c.household_id)).label("reversed"),
                   flag(days_late(dialect, e) >= LATE_DAYS).label("late"))
            .select_from(e.join(h, h.c.id == e.c.household_id))
            .where(e.c.kind == "award", e.c.created_by_id.is_not(None))
            .group_by(e.c.created_by_id, e.c.household_id, month, h.c.village_id))


# Each kept table: its key columns, its figures, and what the ledger says it holds.
KEPT = {
    "household_months": (table, ("household_id", "month", "village_id"), FIGURES, expected),
    "category_months": (category_table, ("village_id", "month", "category", "rule_code"),
                        CATEGORY_FIGURES, expected_categories),
    "author_months": (author_table, ("user_id", "household_id", "month", "village_id"),
                      AUTHOR_FIGURES, expected_authors),
}


def rebuild(conn: Connection) -> dict[str, int]:
    """Recompute every kept table and each household's last days from the
    ledger (after a repair by hand, or a restore of the ledger alone); the
    rows written per table."""
    written = {}
    for name, (tbl, keys, figures, want) in KEPT.items():
        conn.execute(delete(tbl))
        written[name] = conn.execute(insert(tbl).from_select([*keys, *figures], want(conn))).rowcount
    conn.execute(update(households).values(last_award_on=last_award_of(households.c.id),
                                           last_redeemed_on=last_redeemed_of(households.c.id)))
    return written


def differences(conn: Connection, limit: int = 50) -> list[tuple]:
    """Rows where the kept totals and the ledger disagree, compared in the
    database (EXCEPT both ways): (table, "kept" or "ledger", *key, *figures)
    for the side that has the row the other lacks."""
    out = []
    for name, (tbl, keys, figures, want) in KEPT.items():
        want = want(conn).subquery()
        kept = (select(*[tbl.c[k] for k in keys], *[tbl.c[f] for f in figures])
                .where(or_(*[tbl.c[f] != 0 for f in figures])))
        want_rows = select(*want.c).where(or_(*[want.c[f] != 0 for f in figures]))
        for side, stmt in (("ledger", except_(want_rows, kept)), ("kept", except_(kept, want_rows))):
            rows = conn.execute(select(stmt.subquery()).limit(limit)).all()
            out.extend((name, side, *row) for row in rows)
    return out[:limit]
