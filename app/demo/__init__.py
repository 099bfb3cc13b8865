"""The demo county: regions, supermarkets, households and one login per role."""
import hashlib
import json
import os
import random
import secrets
import time
from datetime import timedelta
from pathlib import Path

from faker import Faker
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text, update

from app.demo.points import build_points_demo
from app.demo.goods import build_goods_demo
from app.extensions import db
from app.models import Checkout, Donor, Household, LedgerEntry, Region, User, utcnow
from app.services.clock import local_today
from app.services.people.accounts import create_user
from app.services.people.households import household_code
from app.services.people.regions import create_region, create_supermarket

COUNTY = "青山县"
TOWNSHIPS = {
    "城关镇": ["东坪村", "石门村", "南岭村"],
    "柳河乡": ["西沟村", "北塬村", "柳树湾村"],
}
TAG_CHOICES = [[], [], ["建档立卡"], ["建档立卡", "低保"], ["监测户"], ["建档立卡", "五保"], ["边缘户"]]
DONORS = [("青山县供销合作社", "organisation"), ("爱心人士 王建华", "person"),
          ("青山农商银行", "company")]


def _logins_path() -> Path:
    """The demo's logins (roles, usernames, what each may see; passwords only
    when asked), one file per database: a demo built into another database
    (FLASK_SQLALCHEMY_DATABASE_URI) never shows the default's."""
    folder = Path(current_app.instance_path)
    url = db.engine.url.render_as_string(hide_password=True)
    if url == "sqlite:///" + str(folder / "aixin.db"):
        return folder / "demo-logins.json"
    return folder / f"demo-logins-{hashlib.sha256(url.encode()).hexdigest()[:10]}.json"


def _save_logins(logins: list[dict], *, with_passwords: bool) -> Path:
    path = _logins_path()
    rows = logins if with_passwords else [{k: v for k, v in row.items() if k != "password"}
                                          for row in logins]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    os.chmod(path, 0o600)
    return path


def _print_logins(echo, logins: list[dict] | None = None, *, saved: bool = False) -> None:
    """Right after the build, the logins with their passwords (`logins`;
    `saved` if the file keeps them too); later runs, what the file kept: the
    passwords only if the demo was built with --save-logins."""
    fresh = logins is not None
    path = _logins_path()
    if not fresh:
        if not path.exists():
            echo("The database is not empty and holds no demo: nothing done.")
            return
        logins = json.loads(path.read_text())
        saved = all(row.get("password") for row in logins)
    echo("")
    if saved:
        echo(f"演示账号 Demo logins (also kept in {path}):")
    elif fresh:
        echo("演示账号 Demo logins:")
    else:
        echo("演示账号 Demo logins (their passwords were printed once, when the demo was built, "
             "and are not kept):")
    for row in logins:
        password = f"{row['password']}   " if fresh or saved else ""
        echo(f"  {row['role']:<10} {row['username']:<12} {password}{row['label']}")
    echo("")
    echo("Start the server with `flask run`, then open http://127.0.0.1:5000/")
    if fresh and not saved:
        echo("Note the passwords now: they are not kept anywhere (`flask demo --reset --save-logins` "
             "builds the demo again and keeps them in a file).")
    if not fresh:
        echo("This database already holds the demo. To start over (everything in it is dropped, new "
             "passwords): flask demo --reset")


def _drop_everything() -> None:
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    _logins_path().unlink(missing_ok=True)


def _township_plan(villages: int | None, rng: random.Random) -> dict[str, list[str]]:
    """The fixed small county, or `villages` villages in townships of about 15."""
    if not villages:
        return TOWNSHIPS
    first, second = "东西南北上下大小新老石柳杨李王张马黄青白", "坪沟岭塬湾河坝庄岗峪台寨洼川桥"
    names = [a + b + "村" for a in first for b in second]
    rng.shuffle(names)
    while len(names) < villages:
        names += [f"{n[:-1]}{len(names) // 300 + 2}村" for n in names[:villages - len(names)]]
    plan: dict[str, list[str]] = {}
    towns = "城关 柳河 青龙 白水 石门 红星 金山 双河 平安 清泉 长岭 凤凰 龙潭 桃园 永兴 太平 三星 新华 和平 兴隆 " \
            "古城 马鞍 杨柳 福田".split()
    for i in range(0, villages, 15):
        town = towns[(i // 15) % len(towns)] + ("镇" if (i // 15) % 3 else "乡")
        if town in plan:
            town = f"{town[:-1]}{i // 15}{town[-1]}"
        plan[town] = names[i:i + 15]
    return plan


def _history_in_trail() -> None:
    """The history written in bulk gets the audit records the services would
    have written (who, when, which household and village), one INSERT ...
    SELECT a kind, so the audit trail reads like a county's real year."""
    pg = db.engine.dialect.name == "postgresql"
    points = "json_build_object('points', e.points)" if pg else "json_object('points', e.points)"
    total = "json_build_object('total', c.total_points)" if pg else "json_object('total', c.total_points)"
    empty = "'{}'::json" if pg else "'{}'"
    conn = db.session.connection()
    conn.exec_driver_sql(f"""
        INSERT INTO audit_records (at, user_id, action, object_type, object_id, details,
                                   household_id, village_id)
        SELECT h.created_at, NULL, 'household.create', 'households', h.id, {empty}, h.id, h.village_id
        FROM households h""")
    conn.exec_driver_sql(f"""
        INSERT INTO audit_records (at, user_id, action, object_type, object_id, details,
                                   household_id, village_id)
        SELECT e.created_at, e.created_by_id, 'points.' || e.kind, 'ledger_entries', e.id, {points},
               e.household_id, h.village_id
        FROM ledger_entries e JOIN households h ON h.id = e.household_id
        WHERE e.kind IN ('award', 'deduction')""")
    conn.exec_driver_sql(f"""
        INSERT INTO audit_records (at, user_id, action, object_type, object_id, details,
                                   household_id, village_id)
        SELECT c.created_at, c.created_by_id, 'checkout.create', 'checkouts', c.id, {total},
               c.household_id, h.village_id
        FROM checkouts c JOIN households h ON h.id = c.household_id""")


def build_demo(*, households: int = 300, months: int = 12, reset: bool = False,
               seed: int = 2026, villages: int | None = None, save_logins: bool = False,
               echo=print) -> None:
    """The demo county; with `villages`, a generated county of that many
    villages (townships of about 15 with a supermarket each, a staff account per
    village), at the density of a programme in full swing: about three
    awards a household a month. The logins' passwords are printed once and
    kept in the instance folder only with `save_logins`."""
    started = time.perf_counter()
    village_count = villages
    if reset:
        _drop_everything()
    upgrade()
    if db.session.scalar(select(func.count()).select_from(Region)):
        _print_logins(echo)
        return
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)

    county = create_region(None, {"name": COUNTY, "level": "county"})
    villages = []
    townships = []
    for township_name, village_names in _township_plan(village_count, rng).items():
        township = create_region(None, {"name": township_name, "level": "township", "parent_id": county.id})
        townships.append(township)
        for name in village_names:
            villages.append(create_region(None, {"name": name, "level": "village", "parent_id": township.id}))
    markets = [
        create_supermarket(None, {"name": f"{t.name}爱心超市", "region_id": t.id}) for t in townships
    ]
    donors = [Donor(name=name, kind=kind) for name, kind in DONORS]
    db.session.add_all(donors)
    db.session.flush()

    _add_households(villages, households, rng, fake, months=months)

    logins = []
    for username, role, extra, label in _login_specs(county, townships[0], villages, markets, donors,
                                                     generated=bool(village_count)):
        password = secrets.token_urlsafe(9)
        create_user(None, {"username": username, "password": password, "role": role, **extra})
        logins.append({"role": role, "username": username, "password": password, "label": label})
    if village_count:
        _village_staff(villages[1:])
    build_points_demo(months=months, rng=rng, intensity=3.5 if village_count else 1.0)
    build_goods_demo(months=months, rng=rng)
    _history_in_trail()
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # A bulk load: the planner should know the tables' sizes now, not when autovacuum
        # gets round to them (a county's engagement report took 1.4 s instead of 0.5 s).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")

    _save_logins(logins, with_passwords=save_logins)
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    checkouts = db.session.scalar(select(func.count()).select_from(Checkout))
    echo(f"Demo county {COUNTY}: {len(villages)} villages, {len(markets)} supermarkets, "
         f"{households} households, {entries} ledger entries, {checkouts} checkouts "
         f"({time.perf_counter() - started:.1f} s).")
    _print_logins(echo, logins, saved=save_logins)


def _login_specs(county: Region, township: Region, villages: list[Region], markets: list, donors: list[Donor],
                 *, generated: bool) -> list[tuple[str, str, dict, str]]:
    """One login for each kind of user, each scoped as in a real county: what
    they can see is printed beside them. The small demo gives every village its
    own staff; a generated county prints the first village's (the others get
    accounts without a password, see _village_staff)."""
    specs = [
        ("admin", "admin", {}, "县级管理员 administrator: users, regions, rules, products"),
        ("cadre", "cadre", {"region_id": county.id},
         f"县级干部 county cadre: all of {county.name}, reports, approvals"),
        ("town", "cadre", {"region_id": township.id},
         f"乡镇干部 township cadre: the villages of {township.name}"),
    ]
    for i, village in enumerate(villages[:1] if generated else villages):
        specs.append(("staff" if i == 0 else f"staff{i + 1}", "staff", {"region_id": village.id},
                      f"村级管理员 village staff: {village.name} (households, awards, cards)"))
    for i, market in enumerate(markets[:2] if generated else markets):
        specs.append(("volunteer" if i == 0 else f"volunteer{i + 1}", "volunteer", {"supermarket_ids": [market.id]},
                      f"超市管理员 volunteer: {market.name} (counter, stock)"))
    for i, donor in enumerate(donors[:2]):
        specs.append(("donor" if i == 0 else f"donor{i + 1}", "donor", {"donor_id": donor.id},
                      f"捐赠方 donor: {donor.name} (its own donations only)"))
    return specs


def _village_staff(villages: list[Region]) -> None:
    """A staff account per village, to award its households (no password: an
    administrator sets one before anyone logs in with it)."""
    now = utcnow()
    rows = [{"username": f"staff{v.id}", "password_hash": "!", "role": "staff", "region_id": v.id,
             "display_name": f"{v.name}干部"[:100], "active": True, "created_at": now}
            for v in villages]
    db.session.execute(insert(User), rows)


def _add_households(villages: list[Region], count: int, rng: random.Random, fake: Faker, *,
                    months: int) -> None:
    """Bulk insert: 20,000 households take seconds, not minutes."""
    # Registered before the history the demo writes, so every report's range counts them.
    registered = utcnow() - timedelta(days=31 * months + 30)
    today = local_today()
    seqs = {v.id: 0 for v in villages}
    rows = []
    for i in range(count):
        village = villages[i % len(villages)] if i < len(villages) else rng.choice(villages)
        seqs[village.id] += 1
        rows.append({
            "code": household_code(village.id, seqs[village.id]),
            "village_id": village.id,
            "head_name": fake.name(),
            "members": rng.choice([1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 7]),
            "phone": "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9)),
            "address": f"{rng.randint(1, 12)}组{rng.randint(1, 60)}号",
            "tags": rng.choice(TAG_CHOICES),
            "status": "active",
            "exited_on": None,
            "balance": 0,
            "created_at": registered,
            "updated_at": registered,
        })
        if rng.random() < 0.02:
            rows[-1].update(status="exited", exited_on=today - timedelta(days=rng.randint(10, 120)))
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Household), rows[start:start + 5000])
    for village_id, seq in seqs.items():
        db.session.execute(update(Region).where(Region.id == village_id).values(household_seq=seq))
