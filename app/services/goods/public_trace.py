"""What anyone may see of donations without logging in: one donation's trace
read from the QR code on its receipt (/trace/<public_code>), and a
supermarket's donation board (捐赠公示, /market/<id>/board).

Both are built from the staff's trace (donations._trace) and cut down: the
donor is named only with their consent (otherwise 爱心企业 / 爱心人士), a
village where fewer than three households redeemed a line is summed into one
row "其他村" (so nobody can tell which family in a small village took what),
and nothing else is reachable from them: no donor or household ids, no
household names or codes, no contact, nothing of the supermarket but its
name."""
import re
from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.models import Donation, DonationLine, Donor, Lot, LotMovement, Product, Supermarket
from app.services.errors import NotFound
from app.services.goods.donations import _signed, _trace
from app.services.validate import as_id

# A village with fewer households than this on a line is summed into OTHER_VILLAGES.
MIN_HOUSEHOLDS = 3
OTHER_VILLAGES = "其他村"
ANONYMOUS = {"company": "爱心企业", "organisation": "爱心企业", "person": "爱心人士"}
CODE_RE = re.compile(r"[A-Z2-7]{16,24}")
# What a line of the public trace carries; anything else the staff's trace holds stays out.
LINE_FIELDS = ("product_id", "name", "unit", "quantity", "redeemed", "written_off", "remaining",
               "transferred", "households", "first_redeemed_on", "last_redeemed_on")


def public_name(donor: Donor) -> str:
    """The donor as the public sees them: their name if they agreed, else 爱心企业 / 爱心人士."""
    return donor.name if donor.named_in_public else ANONYMOUS.get(donor.kind, "爱心人士")


def donation_by_code(public_code: str) -> Donation:
    """The donation whose receipt carries this code (typed in lower case too); NotFound otherwise."""
    code = (public_code or "").strip().upper().rstrip("=")
    donation = None
    if CODE_RE.fullmatch(code):
        donation = db.session.scalars(select(Donation).where(Donation.public_code == code)).first()
    if donation is None:
        raise NotFound()
    return donation


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


def _village_households(key, line_filter) -> dict:
    """{(key, village_id): distinct households that kept at least one unit}."""
    per_household = (
        select(key.label("k"), LotMovement.household_id.label("household_id"),
               LotMovement.village_id.label("village_id"), func.sum(_signed()).label("n"))
        .join(Lot, Lot.id == LotMovement.lot_id)
        .join(DonationLine, DonationLine.id == Lot.donation_line_id)
        .join(Donation, Donation.id == DonationLine.donation_id)
        .where(line_filter, LotMovement.kind.in_(("redemption", "return")))
        .group_by(key, LotMovement.household_id, LotMovement.village_id)
        .subquery())
    rows = db.session.execute(
        select(per_household.c.k, per_household.c.village_id,
               func.count(func.distinct(per_household.c.household_id)))
        .where(per_household.c.n > 0)
        .group_by(per_household.c.k, per_household.c.village_id))
    return {(k, village_id): int(n) for k, village_id, n in rows}


def _sum_small_villages(villages: list[dict], households: dict, k) -> list[dict]:
    """Villages with MIN_HOUSEHOLDS households or more by name; the rest in one row."""
    shown, other = [], 0
    for v in villages:
        if households.get((k, v["id"]), 0) >= MIN_HOUSEHOLDS:
            shown.append({"id": v["id"], "name": v["name"], "quantity": v["quantity"]})
        else:
            other += v["quantity"]
    if other:
        shown.append({"id": None, "name": OTHER_VILLAGES, "quantity": other})
    return shown


def public_trace(public_code: str) -> dict:
    """The trace of the donation whose receipt carries `public_code`, as the public sees it."""
    donation = donation_by_code(public_code)
    line_filter = DonationLine.donation_id == donation.id
    sums = _trace(DonationLine.id, line_filter)
    per_line = _village_households(DonationLine.id, line_filter)
    overall = _trace(DonationLine.donation_id, line_filter).get(donation.id, {})
    per_donation = _village_households(DonationLine.donation_id, line_filter)
    lines = []
    for line in sorted(donation.lines, key=lambda item: item.id):
        s = sums.get(line.id, {})
        body = {"product_id": line.product_id, "name": line.product.name, "unit": line.product.unit,
                "quantity": line.quantity, "redeemed": 0, "written_off": 0, "transferred": 0,
                "remaining": line.quantity, "households": 0}
        body.update({k: _iso(s[k]) for k in LINE_FIELDS if k in s})
        body.setdefault("first_redeemed_on", None)
        body.setdefault("last_redeemed_on", None)
        body["bought_with_cash"] = line.purchase_id is not None
        body["villages"] = _sum_small_villages(s.get("villages", []), per_line, line.id)
        body["months"] = [{"month": m["month"], "redeemed": int(m["redeemed"])}
                          for m in s.get("months", [])]
        lines.append(body)
    keys = ("quantity", "redeemed", "written_off", "remaining", "transferred")
    totals = {k: sum(line[k] for line in lines) for k in keys}
    villages = _sum_small_villages(overall.get("villages", []), per_donation, donation.id)
    totals["households"] = int(overall.get("households", 0))
    totals["villages"] = len(overall.get("villages", []))
    body = {"id": donation.id, "public_code": donation.public_code, "receipt_no": donation.receipt_no,
            "kind": donation.kind, "received_on": donation.received_on.isoformat(),
            "donor": public_name(donation.donor), "donor_kind": donation.donor.kind,
            "supermarket": {"id": donation.supermarket.id, "name": donation.supermarket.name},
            "lines": lines, "totals": totals, "villages": villages}
    if donation.kind == "cash":
        from app.services.goods.donations import spent_fen
        body["amount"] = donation.amount_fen / 100
        body["spent"] = spent_fen(donation.id) / 100
    return body


# -- the donation board (捐赠公示) ----------------------------------------------

def board_years(supermarket_id: int) -> list[int]:
    rows = db.session.scalars(select(Donation.received_on).where(
        Donation.supermarket_id == supermarket_id))
    return sorted({day.year for day in rows}, reverse=True)


def donation_board(supermarket_id, year=None) -> dict:
    """A supermarket's donations of one year (default: this one) for its wall:
    per donor who agreed to be named, and one row each for the companies and
    the people who did not (爱心企业 / 爱心人士, summed: listed one by one,
    the size and date of each gift could still tell who gave it); what they
    gave (units by product, cash in yuan) and how many of the units households
    have taken home; and the same per month."""
    from app.services.clock import local_today
    sm = db.session.get(Supermarket, as_id(supermarket_id) or 0)
    if sm is None:
        raise NotFound()
    this_year = local_today().year
    year = as_id(year) if year not in (None, "") else this_year
    if year is None or not 2000 <= year <= this_year:
        year = this_year
    in_year = (Donation.supermarket_id == sm.id,
               Donation.received_on >= date(year, 1, 1), Donation.received_on <= date(year, 12, 31))
    donations = list(db.session.scalars(select(Donation).where(*in_year)
                                        .order_by(Donation.received_on, Donation.id)))
    ids = [d.id for d in donations]
    sums = _trace(Donation.id, Donation.id.in_(ids)) if ids else {}
    lines = db.session.execute(
        select(DonationLine.donation_id, DonationLine.product_id, DonationLine.purchase_id,
               DonationLine.quantity).where(DonationLine.donation_id.in_(ids))).all() if ids else []
    products = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.id.in_({row.product_id for row in lines})))} if lines else {}
    given: dict[int, dict[int, int]] = {}  # donation -> product -> units donated as goods
    bought: dict[int, int] = {}  # donation -> units bought with its cash
    for row in lines:
        if row.purchase_id is None:
            per = given.setdefault(row.donation_id, {})
            per[row.product_id] = per.get(row.product_id, 0) + row.quantity
        else:
            bought[row.donation_id] = bought.get(row.donation_id, 0) + row.quantity

    rows: dict[tuple, dict] = {}
    months: dict[str, dict] = {}

    def empty(name: str) -> dict:
        return {"donor": name, "donations": 0, "goods": {}, "cash": 0.0, "units": 0,
                "bought_units": 0, "redeemed": 0}

    for d in donations:
        donor = d.donor
        key = ("named", donor.id) if donor.named_in_public else \
            ("anonymous", ANONYMOUS.get(donor.kind, "爱心人士"))
        row = rows.setdefault(key, {**empty(public_name(donor)), "anonymous": key[0] == "anonymous"})
        month = months.setdefault(d.received_on.strftime("%Y-%m"), empty(""))
        s = sums.get(d.id, {})
        for target in (row, month):
            target["donations"] += 1
            for product_id, qty in given.get(d.id, {}).items():
                target["goods"][product_id] = target["goods"].get(product_id, 0) + qty
                target["units"] += qty
            target["bought_units"] += bought.get(d.id, 0)
            target["redeemed"] += int(s.get("redeemed", 0) or 0)
            if d.kind == "cash":
                target["cash"] += d.amount_fen / 100

    def finish(row: dict) -> dict:
        row["goods"] = [{"name": products[pid].name, "unit": products[pid].unit, "quantity": qty}
                        for pid, qty in sorted(row["goods"].items(),
                                               key=lambda item: (-item[1], products[item[0]].name))]
        all_units = row["units"] + row["bought_units"]
        row["redeemed_share"] = round(100 * row["redeemed"] / all_units) if all_units else None
        return row

    named = sorted((r for k, r in rows.items() if k[0] == "named"),
                   key=lambda r: (-(r["units"] + r["bought_units"]) - r["cash"], r["donor"]))
    anonymous = [rows[k] for k in sorted(k for k in rows if k[0] == "anonymous")]
    total = empty("")
    for r in rows.values():
        for k in ("donations", "cash", "units", "bought_units", "redeemed"):
            total[k] += r[k]
    households = 0
    if ids:
        whole = _trace(Donation.supermarket_id, Donation.id.in_(ids)).get(sm.id, {})
        households = int(whole.get("households", 0))
    finish(total)
    return {"supermarket": {"id": sm.id, "name": sm.name}, "year": year,
            "years": sorted(set(board_years(sm.id)) | {this_year}, reverse=True),
            "rows": [finish(r) for r in named] + [finish(r) for r in anonymous],
            "months": [{"month": m, **finish(r)} for m, r in sorted(months.items())],
            "total": total, "households": households}
