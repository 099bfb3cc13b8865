"""Demo points history: months of seasonal awards written in bulk, so
`flask demo --households 20000` stays fast. Some households are busy, some
occasional, some never earn anything (the ones a cadre should visit); the
last days' awards are still on public notice and one of them is disputed."""
import random
from calendar import monthrange
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, Household, LedgerEntry, Rule, User, utcnow
from app.services.clock import local_today, local_zone
from app.services.ledger import writer
from app.services.points.awards import notice_end
from app.services.points.rules import list_rules, load_default_rules

# Month -> weight per category: farm work in spring and autumn, family before
# the Spring Festival, clean-ups before it and in early summer.
SEASON = {
    "勤劳致富": {3: 2.0, 4: 2.0, 5: 1.5, 9: 1.8, 10: 2.0, 1: 0.4, 2: 0.4, 12: 0.6},
    "环境卫生": {1: 1.6, 2: 1.2, 5: 1.3, 6: 1.5, 12: 1.4},
    "孝老爱亲": {1: 2.0, 2: 1.8, 9: 1.4},
    "公益参与": {3: 1.3, 7: 1.4, 8: 1.4, 11: 1.2},
}
PROFILES = ((0.15, 0.0), (0.60, 0.7), (0.25, 2.2))  # share of households, awards a month
# What a villager's objection says about an award of each category (the demo's
# dispute must fit the award it is on).
OBJECTIONS = {
    "勤劳致富": "务工时间不满一个月，与申报不符",
    "环境卫生": "评比当天院内仍有杂物堆放",
    "孝老爱亲": "老人反映平时无人照料",
    "公益参与": "当天未见其参加义务劳动",
}


def _period(unit: str | None, year: int, month: int) -> tuple | None:
    """The period a rule counted per term, quarter or year is given once in
    (a household earns 全年无违法 once a year, not every month)."""
    if unit == "每年":
        return (year,)
    if unit == "每学期":   # spring term March to August, autumn term September to February
        return (year, "spring") if 3 <= month <= 8 else ((year, "autumn") if month >= 9 else (year - 1, "autumn"))
    if unit == "每季度":
        return (year, (month - 1) // 3)
    return None


def _months(today: date, count: int) -> list[tuple[int, int]]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def build_points_demo(*, months: int, rng: random.Random, intensity: float = 1.0) -> int:
    """The default rule catalogue, then the history, awarded by each village's
    staff (the demo's staff login where a village has none of its own)."""
    load_default_rules()
    ids = dict(db.session.execute(select(User.username, User.id)
                                  .where(User.username.in_(("staff", "cadre")))).all())
    if months <= 0 or "staff" not in ids:
        return 0
    staff_of = dict(db.session.execute(
        select(User.region_id, func.min(User.id))
        .where(User.role == "staff").group_by(User.region_id)).all())
    return add_points_history(months=months, rng=rng, staff_id=ids["staff"], cadre_id=ids["cadre"],
                              staff_of=staff_of, intensity=intensity)


def add_points_history(*, months: int, rng: random.Random, staff_id: int, cadre_id: int,
                       staff_of: dict[int, int] | None = None, intensity: float = 1.0) -> int:
    """Write `months` months of entries for the demo's households; returns how many.
    `intensity` multiplies how often households earn (1: the small demo)."""
    staff_of = staff_of or {}
    now = utcnow()
    today = local_today(now)
    zone = local_zone()
    rules = [r for r in list_rules() if r.active]
    awards = [r for r in rules if r.points > 0]
    deductions = [r for r in rules if r.points < 0]
    households = db.session.execute(select(Household.id, Household.status, Household.village_id)).all()
    village_of = {hid: village_id for hid, _, village_id in households}
    rates = {}
    for hid, status, _ in households:
        roll, acc = rng.random(), 0.0
        for share, rate in PROFILES:
            acc += share
            if roll <= acc:
                break
        rates[hid] = (rate * intensity, status)

    award_rules = [(r.id, r.code, r.points, r.cap_per_month) for r in awards]
    deduction_rules = [(r.id, r.code, r.points, r.cap_per_month) for r in deductions]
    unit_of = {r.code: r.unit for r in rules}
    given = set()   # (household, code, period) of rules counted per term, quarter or year
    rows, ends_on = [], {}
    # Patterns the fairness checks should find (with village staff of their own, as a
    # generated county has): one village's staff enter awards weeks late; another's
    # deductions fall on two households.
    late_village = sorted(staff_of)[1] if len(staff_of) > 1 else None
    for year, month in _months(today, months):
        last_day = monthrange(year, month)[1] if (year, month) != (today.year, today.month) else today.day
        weights = [SEASON.get(r.category, {}).get(month, 1.0) for r in awards]
        for hid, (rate, status) in rates.items():
            if rate == 0 or (status == "exited" and rng.random() < 0.7):
                continue
            used = defaultdict(int)
            slots = max(6, int(2 * rate) + 2)
            n = sum(1 for _ in range(slots) if rng.random() < rate / slots)
            picks = rng.choices(award_rules, weights=weights, k=n)
            if rng.random() < 0.004:   # deductions are rare: a few a village a year
                picks.append(rng.choice(deduction_rules))
            for rule_id, code, pts, cap in picks:
                if cap is not None and used[code] >= cap:
                    continue
                period = _period(unit_of[code], year, month)
                if period is not None:
                    if (hid, code, period) in given:
                        continue
                    given.add((hid, code, period))
                used[code] += 1
                occurred = date(year, month, rng.randint(1, last_day))
                late = (0, 0, 1, 2) if village_of[hid] != late_village else (0, 15, 20, 25)
                made_day = min(occurred + timedelta(days=rng.choice(late)), today)
                created = datetime.combine(made_day, time(rng.randint(8, 18), rng.randint(0, 59)),
                                           tzinfo=zone)
                created = min(created, now)
                if made_day not in ends_on:
                    ends_on[made_day] = notice_end(created)
                ends = ends_on[made_day]
                posted = ends <= now
                rows.append((
                    hid, "award" if pts > 0 else "deduction", pts, "posted" if posted else "pending",
                    rule_id, code, occurred, created, staff_of.get(village_of[hid], staff_id), ends,
                    ends, ends if posted else None,
                    False,
                ))
    if staff_of and deduction_rules:
        village = sorted(staff_of)[0]
        targets = [hid for hid, (rate, status) in rates.items()
                   if village_of[hid] == village and status == "active"][:2]
        for i, hid in enumerate(targets * 6):
            rule_id, code, pts, _ = deduction_rules[i % len(deduction_rules)]
            occurred = today - timedelta(days=10 + i)
            created = datetime.combine(occurred, time(10), tzinfo=zone)
            ends = notice_end(created)
            rows.append((hid, "deduction", pts, "posted" if ends <= now else "pending", rule_id, code,
                         occurred, created, staff_of[village], ends, ends,
                         ends if ends <= now else None, False))
    writer.add_many(rows, now, categories={r.id: r.category for r in rules})
    _one_dispute(now, cadre_id)
    db.session.add(AuditRecord(user_id=None, action="demo.points_history", object_type="system",
                               details={"entries": len(rows), "months": months}))
    return len(rows)


def _one_dispute(now: datetime, user_id: int) -> None:
    """A villager has objected to one award still on notice, with a reason
    that fits the award (who objected is kept apart from the reason)."""
    row = db.session.execute(
        select(LedgerEntry.id, Rule.category).join(Rule, Rule.id == LedgerEntry.rule_id)
        .where(LedgerEntry.status == "pending", LedgerEntry.kind == "award",
               Rule.category.in_(list(OBJECTIONS)))
        .order_by(LedgerEntry.id.desc()).limit(1)).first()
    if row is not None:
        entry = db.session.get(LedgerEntry, row.id)
        writer.dispute(entry, reason=OBJECTIONS[row.category], by_id=user_id, now=now)
        entry.objector = "同组村民"
