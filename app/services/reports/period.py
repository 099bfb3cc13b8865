"""The range a report covers: inclusive local dates. Whole months inside it
are read from the monthly totals; the days before the first whole month and
after the last are read from the ledger."""
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from sqlalchemy import and_

from app.services.clock import local_midnight, local_today
from app.services.errors import Errors
from app.services.validate import day

MAX_YEARS = 5
# Dates a report may name at all (the programme began in the 2010s).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


def month_of(d: date) -> date:
    return d.replace(day=1)


def next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_back(d: date, n: int) -> date:
    """The same day `n` calendar months earlier (the month's last day where it is shorter)."""
    year, month0 = divmod(d.year * 12 + d.month - 1 - n, 12)
    first = date(year, month0 + 1, 1)
    return first.replace(day=min(d.day, (next_month(first) - timedelta(days=1)).day))


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def months(self) -> list[date]:
        """The first day of every calendar month the range touches, oldest first."""
        out, m = [], month_of(self.start)
        while m <= self.end:
            out.append(m)
            m = next_month(m)
        return out

    def whole_months(self) -> tuple[date, date] | None:
        """The first and last whole months inside the range (their first days)."""
        first = self.start if self.start.day == 1 else next_month(self.start)
        last = month_of(self.end + timedelta(days=1)) - timedelta(days=1)  # end of the last whole month
        if first > last:
            return None
        return first, month_of(last)

    def after_end(self):
        """The first moment (aware) after the range's last local day."""
        return local_midnight(self.end + timedelta(days=1))

    def holds(self, column):
        """A WHERE clause: the moment in `column` falls on a local day of the range."""
        return and_(column >= local_midnight(self.start), column < self.after_end())

    def as_read(self, today: date) -> "Period":
        """The same figures, in fewer rows: nothing is ever recorded for a day
        after today (awards are never dated ahead, checkouts are dated the day
        they are made), so a range reaching today reads its month whole."""
        if self.end >= today:
            return Period(self.start, max(self.end, next_month(month_of(self.end)) - timedelta(days=1)))
        return self

    def edges(self) -> list[tuple[date, date]]:
        """The spans of days outside the whole months, each inside one month."""
        whole = self.whole_months()
        if whole is None:
            # No whole month: one span per month touched.
            return [(max(self.start, m), min(self.end, next_month(m) - timedelta(days=1)))
                    for m in self.months()]
        spans = []
        if self.start < whole[0]:
            spans.append((self.start, whole[0] - timedelta(days=1)))
        after = next_month(whole[1])
        if after <= self.end:
            spans.append((after, self.end))
        return spans


def parse(data: dict, *, default: str = "days") -> Period:
    """`from` and `to` (inclusive); by default the 30 days up to today, or
    (`default="months"`) the 12 calendar months up to this one. Refused: a
    wrong date, `from` after `to`, a range over five years."""
    errors = Errors()
    start, end = day(errors, data, "from"), day(errors, data, "to")
    for field, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            errors.add(field, _l("Use a date between %(first)s and %(last)s.",
                                 first=EARLIEST.isoformat(), last=LATEST.isoformat()))
    errors.raise_if_any()
    if end is None:
        end = local_today()
    if start is None:
        start = end - timedelta(days=29) if default == "days" else months_back(month_of(end), 11)
    if start > end:
        errors.add("from", _l("The start date is after the end date."))
    elif start <= _years_before(end):
        errors.add("from", _l("A report covers at most %(n)d years.", n=MAX_YEARS))
    errors.raise_if_any()
    return Period(start, end)


def _years_before(end: date) -> date:
    """The first start date too early for a range ending on `end`."""
    try:
        return end.replace(year=end.year - MAX_YEARS)
    except ValueError:  # 29 February
        return end.replace(year=end.year - MAX_YEARS, day=28)
