"""The village public notice (积分公示) of a month: the awards and deductions
dated in that month with where each stands in its notice, the objection
deadline, and the month's ranking. The notice is public (no login), so
household names are masked unless POINTS_NOTICE_MASK_NAMES is off; the last
digits of the household code stand beside each name, so that two households
whose masked names are the same can be told apart. `public_villages` lists
the villages for the public entry page."""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Household, LedgerEntry, Region, Rule, utcnow
from app.services.errors import NotFound
from app.services.clock import local_today, local_zone
from app.services.points.passbook import reversed_by
from app.services.validate import as_id

MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
NOTICE_KINDS = ("award", "deduction")
NOTICE_STATUSES = ("pending", "disputed", "posted")


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 欧阳小明 -> 欧**明, 王喆 -> 王*; one character stays as it is."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def parse_month(value, today: date) -> date | None:
    """The first day of a 'YYYY-MM' month, not after this month; None if it is not one."""
    if value in (None, ""):
        return today.replace(day=1)
    match = MONTH_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 9999 or not 1 <= month <= 12:
        return None
    first = date(year, month, 1)
    return first if first <= today.replace(day=1) else None


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def last_notice_day(notice_ends_at: datetime) -> date:
    """The last local day on which objections are taken (the notice ends at the midnight after it)."""
    return (notice_ends_at.astimezone(local_zone()) - timedelta(microseconds=1)).date()


def household_digits(code: str, n: int = 4) -> str:
    """The last digits of a household code (00120007 -> 0007): beside a masked
    name, they tell apart households whose masked names are the same."""
    return re.sub(r"\D", "", code or "")[-n:]


@dataclass
class NoticeRow:
    entry_id: int
    occurred_on: date
    name: str
    household_no: str
    rule_name: str
    points: int
    note: str | None
    # notice | disputed | awaiting (approval, notice over) | posted | reversed
    state: str
    deadline: date | None


@dataclass
class RankRow:
    rank: int
    name: str
    household_no: str
    points: int
    entries: int


@dataclass
class VillageNotice:
    village: Region
    places: list[str]
    month: date
    today: date
    rows: list[NoticeRow] = field(default_factory=list)
    ranking: list[RankRow] = field(default_factory=list)
    deadline: date | None = None
    masked: bool = True

    @property
    def previous(self) -> date:
        return previous_month(self.month)

    @property
    def next(self) -> date | None:
        following = next_month(self.month)
        return following if following <= self.today else None

    @property
    def awarded(self) -> int:
        return sum(r.points for r in self.rows if r.state != "reversed" and r.points > 0)

    @property
    def deducted(self) -> int:
        return -sum(r.points for r in self.rows if r.state != "reversed" and r.points < 0)


def public_village(village_id) -> Region:
    """A village by id, for the public notice; anything else is not found."""
    village_id = as_id(village_id) if isinstance(village_id, int) else None
    village = db.session.get(Region, village_id) if village_id is not None else None
    if village is None or village.level != "village":
        raise NotFound()
    return village


def _places(village: Region) -> list[str]:
    """Names from the top of the tree down to the village's parent."""
    ids = [int(p) for p in village.path.split("/") if p.isdigit() and int(p) != village.id]
    if not ids:
        return []
    regions = db.session.scalars(select(Region).where(Region.id.in_(ids))).all()
    by_id = {r.id: r.name for r in regions}
    return [by_id[i] for i in ids if i in by_id]


def _state(entry: LedgerEntry, reversed_ids: set, now: datetime) -> str:
    if entry.id in reversed_ids:
        return "reversed"
    if entry.status == "posted":
        return "posted"
    if entry.status == "disputed":
        return "disputed"
    if entry.notice_ends_at is not None and entry.notice_ends_at > now:
        return "notice"
    return "awaiting"


def village_notice(village_id, month: str | None = None, *, now: datetime | None = None,
                   mask: bool | None = None) -> VillageNotice:
    """The notice of one village for one month (this month by default)."""
    now = now or utcnow()
    today = local_today(now)
    village = public_village(village_id)
    first = parse_month(month, today)
    if first is None:
        raise NotFound()
    if mask is None:
        mask = bool(current_app.config["POINTS_NOTICE_MASK_NAMES"])
    found = db.session.execute(
        select(LedgerEntry, Household.id, Household.head_name, Household.code, Rule.name)
        .join(Household, LedgerEntry.household_id == Household.id)
        .outerjoin(Rule, LedgerEntry.rule_id == Rule.id)
        .where(Household.village_id == village.id,
               LedgerEntry.kind.in_(NOTICE_KINDS),
               LedgerEntry.status.in_(NOTICE_STATUSES),
               LedgerEntry.occurred_on >= first,
               LedgerEntry.occurred_on < next_month(first))
        .order_by(LedgerEntry.occurred_on, LedgerEntry.id)
    ).all()
    reversed_ids = set(reversed_by([row[0] for row in found]))
    notice = VillageNotice(village=village, places=_places(village), month=first, today=today,
                           masked=mask)
    totals: dict[int, list] = {}
    for entry, household_id, head_name, code, rule_name in found:
        name = mask_name(head_name) if mask else head_name
        digits = household_digits(code)
        state = _state(entry, reversed_ids, now)
        deadline = (last_notice_day(entry.notice_ends_at)
                    if state == "notice" and entry.notice_ends_at is not None else None)
        notice.rows.append(NoticeRow(entry.id, entry.occurred_on, name, digits,
                                     rule_name or entry.rule_code or "",
                                     entry.points, entry.note, state, deadline))
        if deadline is not None and (notice.deadline is None or deadline > notice.deadline):
            notice.deadline = deadline
        if state != "reversed":
            total = totals.setdefault(household_id, [name, 0, 0, digits])
            total[1] += entry.points
            total[2] += 1
    ordered = sorted(totals.values(), key=lambda t: (-t[1], t[0], t[3]))
    rank = 0
    previous_points = None
    for position, (name, pts, count, digits) in enumerate(ordered, start=1):
        if pts != previous_points:
            rank, previous_points = position, pts
        notice.ranking.append(RankRow(rank, name, digits, pts, count))
    return notice


@dataclass
class TownshipVillages:
    township: Region | None
    places: list[str]
    villages: list[Region]


def public_villages() -> list[TownshipVillages]:
    """Every active village, grouped by its township (the region above it),
    townships and villages by name: the public entry page to the notices."""
    villages = db.session.scalars(
        select(Region).where(Region.level == "village", Region.active.is_(True))
        .order_by(Region.name, Region.id)).all()
    parent_ids = {v.parent_id for v in villages if v.parent_id is not None}
    parents = {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(parent_ids)))}
    groups: dict[int | None, TownshipVillages] = {}
    for village in villages:
        parent = parents.get(village.parent_id)
        key = parent.id if parent is not None else None
        if key not in groups:
            groups[key] = TownshipVillages(parent, _places(parent) if parent is not None else [], [])
        groups[key].villages.append(village)
    return sorted(groups.values(), key=lambda g: (g.places, g.township.name if g.township else ""))
