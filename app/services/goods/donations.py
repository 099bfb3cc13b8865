"""Donors and donations: receiving goods (each line a lot), cash donations
and the goods bought with them, and the trace that shows a donor where the
goods went without ever naming a household."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from app.extensions import db
from app.models import (
    DONOR_KINDS, Donation, DonationLine, Donor, Lot, LotMovement, Product, Purchase, Region,
    Supermarket, User, utcnow,
)
from app.services import audit
from app.services.errors import Errors, NotFound, ValidationError
from app.services.goods.products import money_fen, quantity as quantity_field
from app.services.clock import local_today
from app.services.goods.products import product_ref
from app.services.people import policy
from app.services.people.regions import active_flag, require_open
from app.services.people.scope import (one_in_reach, supermarket_for, visible_donations,
                                       visible_donors)
from app.services import validate
from app.services.validate import as_id, choice, contains, text

MAX_LINES = 500
DONOR_NAME_MAX = 100
CONTACT_MAX = 200
NOTE_MAX = 500
SUPPLIER_MAX = 100
EARLIEST = date(2000, 1, 1)
# A best-before date further ahead than this is a typing slip (2206 for 2026).
BEST_BEFORE_YEARS = 30


# -- donors --------------------------------------------------------------------

def validate_donor(data: dict) -> tuple[dict, Errors]:
    errors = Errors()
    name = text(errors, data, "name", required=True, max_len=DONOR_NAME_MAX)
    kind = choice(errors, data, "kind", DONOR_KINDS)
    contact = text(errors, data, "contact", required=False, max_len=CONTACT_MAX)
    fields = {"name": name.strip() if name else name, "kind": kind,
              "contact": contact.strip() if contact else None}
    # Consent to be named on public pages (the board, the public trace): off unless given.
    fields["named_in_public"] = (False if data.get("named_in_public") is None
                                 else active_flag(errors, data, "named_in_public"))
    return fields, errors


def create_donor(actor: User | None, data: dict) -> Donor:
    """Add a donor (爱心企业, 爱心人士, 帮扶单位): volunteers and admins."""
    if actor is not None:
        policy.require(actor, "donors.manage")
    fields, errors = validate_donor(data)
    errors.raise_if_any()
    return _add_donor(actor, fields)


def _add_donor(actor: User | None, fields: dict) -> Donor:
    donor = Donor(**fields, created_at=utcnow())
    db.session.add(donor)
    audit.record(actor, "donor.create", donor, kind=donor.kind,
                 named_in_public=donor.named_in_public)
    return donor


def update_donor(actor: User | None, donor_id, data: dict) -> Donor:
    """Correct a donor's name, kind or contact, or record their consent to be
    named in public (or its withdrawal): volunteers and admins."""
    if actor is not None:
        policy.require(actor, "donors.manage")
        donor = get_donor(actor, donor_id)
    else:
        donor = db.session.get(Donor, as_id(donor_id) or 0)
        if donor is None:
            raise NotFound()
    fields, errors = validate_donor(data)
    errors.raise_if_any()
    changed = {k: v for k, v in fields.items() if getattr(donor, k) != v}
    for k, v in changed.items():
        setattr(donor, k, v)
    if changed:
        audit.record(actor, "donor.update", donor, fields=sorted(changed),
                     named_in_public=donor.named_in_public)
    return donor


def get_donor(actor: User, donor_id) -> Donor:
    """A donor record: a donor account sees only its own."""
    return one_in_reach(visible_donors(actor), Donor.id, donor_id)


def search_donors(actor: User, *, q: str | None = None, kind: str | None = None,
                  page: int = 1, per_page: int = 50) -> tuple[list[Donor], int]:
    query = visible_donors(actor)
    q = (q or "").replace("\x00", "").strip()[:100]
    if q:
        query = query.where(contains(q, Donor.name, Donor.contact))
    if kind in DONOR_KINDS:
        query = query.where(Donor.kind == kind)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return [], total
    items = db.session.scalars(query.order_by(Donor.name, Donor.id).limit(per_page).offset(offset))
    return list(items), total


def all_donors() -> list[Donor]:
    return list(db.session.scalars(select(Donor).order_by(Donor.name)))


# -- input ---------------------------------------------------------------------

def _date(errors: Errors, data: dict, field: str) -> date | None:
    """A local date, today when absent; never in the future."""
    if data.get(field) in (None, ""):
        return local_today()
    day = validate.day(errors, data, field)
    if day is None:
        return None
    if day > local_today():
        errors.add(field, _l("The date is in the future."))
        return None
    if day < EARLIEST:
        errors.add(field, _l("The date is too long ago."))
        return None
    return day


def _donor_from(errors: Errors, data: dict) -> Donor | dict | None:
    """The donor named by donor_id, or the fields of a new one under `donor`."""
    if data.get("donor_id") not in (None, ""):
        donor_id = as_id(data.get("donor_id"))
        donor = db.session.get(Donor, donor_id) if donor_id is not None else None
        if donor is None:
            errors.add("donor_id", _l("Unknown donor."))
        return donor
    new = data.get("donor")
    if isinstance(new, dict):
        fields, donor_errors = validate_donor(new)
        for field, messages in donor_errors.errors.items():
            for message in messages:
                errors.add(f"donor.{field}", message)
        return fields
    errors.add("donor_id", _l("Choose the donor."))
    return None


def _supermarket_id(errors: Errors, data: dict, field: str = "supermarket_id",
                    default: int | None = None) -> int | None:
    raw = data.get(field)
    if raw is None or raw == "":
        if default is None:
            errors.add(field, _l("This field is required."))
        return default
    value = as_id(raw)
    if value is None:
        errors.add(field, _l("Must be a whole number."))
    return value


def best_before(errors: Errors, data: dict, field: str = "best_before") -> date | None:
    """A line's optional best-before date (保质期至). One already past is
    taken (goods past their best-before date may still be good); one before
    2000 or decades ahead is a slip."""
    day = validate.day(errors, data, field)
    if day is None:
        return None
    if day < EARLIEST or day.year > local_today().year + BEST_BEFORE_YEARS:
        errors.add(field, _l("Check the best-before date: %(day)s.", day=day.isoformat()))
        return None
    return day


def _lines(errors: Errors, data: dict, *, value_required: bool
           ) -> list[tuple[Product, int, int | None, date | None]]:
    """The lines of a donation or purchase. Field errors name the line
    (lines.0.quantity); `lines` also gets a summary."""
    raw = data.get("lines")
    if not isinstance(raw, list) or not raw:
        errors.add("lines", _l("Add at least one line."))
        return []
    if len(raw) > MAX_LINES:
        errors.add("lines", _l("At most %(n)d lines at once.", n=MAX_LINES))
        return []
    out = []
    for i, item in enumerate(raw):
        line_errors = Errors()
        if not isinstance(item, dict):
            line_errors.add("product_id", _l("Each line is an object with product_id and quantity."))
            item = {}
        product = product_ref(line_errors, item, active_only=True) if item else None
        qty = quantity_field(line_errors, item.get("quantity"), "quantity") if item else None
        value = money_fen(line_errors, item.get("unit_value"), "unit_value",
                          required=value_required, allow_zero=not value_required) if item else None
        expires = best_before(line_errors, item) if item else None
        for field, messages in line_errors.errors.items():
            for message in messages:
                errors.add(f"lines.{i}.{field}", message)
                errors.add("lines", _l("Line %(n)d: %(message)s", n=i + 1, message=message))
        if not line_errors:
            out.append((product, qty, value, expires))
    return out


def _receipt_no(donation: Donation) -> str:
    return f"JZ{donation.received_on.year}-{donation.id:06d}"


def _new_donation(actor: User | None, donor, supermarket: Supermarket, *, kind: str,
                  received_on: date, note: str | None, amount_fen: int | None = None) -> Donation:
    if isinstance(donor, dict):
        donor = _add_donor(actor, donor)
        db.session.flush()
    donation = Donation(kind=kind, donor_id=donor.id, supermarket_id=supermarket.id,
                        received_on=received_on, amount_fen=amount_fen,
                        note=note.strip() if note else None,
                        created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(donation)
    db.session.flush()
    donation.receipt_no = _receipt_no(donation)
    return donation


def _add_lots(donation: Donation, lines, *, supermarket_id: int, received_on: date,
              purchase: Purchase | None = None) -> list[DonationLine]:
    made = []
    for product, qty, value, expires in lines:
        line = DonationLine(donation_id=donation.id, product_id=product.id, quantity=qty,
                            unit_value_fen=value, best_before=expires,
                            purchase_id=purchase.id if purchase else None)
        db.session.add(line)
        made.append(line)
    db.session.flush()
    now = utcnow()
    db.session.add_all([
        Lot(supermarket_id=supermarket_id, product_id=line.product_id, donor_id=donation.donor_id,
            donation_line_id=line.id, quantity=line.quantity, remaining=line.quantity,
            redeemed=0, written_off=0, transferred_out=0, received_on=received_on,
            best_before=line.best_before, created_at=now)
        for line in made])
    db.session.flush()
    return made


# -- receiving -----------------------------------------------------------------

def _received(actor: User | None, data: dict, errors: Errors):
    """What every donation names: who gave (`donor_id`, or a new donor under
    `donor`), the supermarket, the day, a note."""
    if actor is not None:
        policy.require(actor, "donations.receive")
    return (_donor_from(errors, data), _supermarket_id(errors, data),
            _date(errors, data, "received_on"),
            text(errors, data, "note", required=False, max_len=NOTE_MAX))


def receive_donation(actor: User | None, data: dict) -> Donation:
    """Receive donated goods at a supermarket: each line becomes a stock lot."""
    errors = Errors()
    donor, sm_id, received_on, note = _received(actor, data, errors)
    lines = _lines(errors, data, value_required=False)
    errors.raise_if_any()
    sm = supermarket_for(actor, "donations.receive", sm_id)
    require_open(sm)  # a retired supermarket takes no donations (409)
    donation = _new_donation(actor, donor, sm, kind="goods", received_on=received_on, note=note)
    made = _add_lots(donation, lines, supermarket_id=sm.id, received_on=received_on)
    audit.record(actor, "donation.receive", donation, lines=len(made),
                 units=sum(line.quantity for line in made), supermarket_id=sm.id)
    from app.services.goods.pledges import fill_pledges  # the donor's pledges here, same transaction
    fill_pledges(actor, donation, made)
    return donation


def record_cash_donation(actor: User | None, data: dict) -> Donation:
    """Money given to a supermarket; goods bought with it are recorded as purchases."""
    errors = Errors()
    donor, sm_id, received_on, note = _received(actor, data, errors)
    amount = money_fen(errors, data.get("amount"), "amount", required=True, allow_zero=False)
    errors.raise_if_any()
    sm = supermarket_for(actor, "donations.receive", sm_id)
    require_open(sm)  # a retired supermarket takes no donations (409)
    donation = _new_donation(actor, donor, sm, kind="cash", received_on=received_on, note=note,
                             amount_fen=amount)
    audit.record(actor, "donation.cash", donation, amount_fen=amount, supermarket_id=sm.id)
    return donation


def spent_fen(donation_id: int) -> int:
    """What the purchases paid with a cash donation have cost so far."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(DonationLine.quantity * DonationLine.unit_value_fen), 0))
        .where(DonationLine.donation_id == donation_id, DonationLine.purchase_id.is_not(None))) or 0)


def record_purchase(actor: User | None, donation_id, data: dict) -> Purchase:
    """Goods bought with a cash donation: each line becomes a lot of that
    donor, so the money is traced like goods. Never more than the money left."""
    if actor is not None:
        policy.require(actor, "donations.receive")
    donation = get_donation(actor, donation_id) if actor is not None else \
        db.session.get(Donation, as_id(donation_id) or 0)
    if donation is None:
        raise NotFound()
    errors = Errors()
    if donation.kind != "cash":
        raise ValidationError({"donation_id": [_l("Only a cash donation pays for purchases.")]})
    sm_id = _supermarket_id(errors, data, default=donation.supermarket_id)
    purchased_on = _date(errors, data, "purchased_on")
    supplier = text(errors, data, "supplier", required=False, max_len=SUPPLIER_MAX)
    note = text(errors, data, "note", required=False, max_len=NOTE_MAX)
    lines = _lines(errors, data, value_required=True)
    if purchased_on is not None and purchased_on < donation.received_on:
        errors.add("purchased_on", _l("The purchase is dated before the donation."))
    errors.raise_if_any()
    sm = supermarket_for(actor, "donations.receive", sm_id)
    require_open(sm)  # a retired supermarket takes no donations (409)
    # Lock the donation: two purchases at once must not spend the same money.
    db.session.execute(select(Donation.id).where(Donation.id == donation.id).with_for_update())
    cost = sum(qty * value for _, qty, value, _expires in lines)
    left = donation.amount_fen - spent_fen(donation.id)
    if cost > left:
        raise ValidationError({"lines": [_l(
            "These goods cost %(cost)s yuan; %(left)s yuan of this donation is left.",
            cost=f"{cost / 100:.2f}", left=f"{left / 100:.2f}")]})
    purchase = Purchase(donation_id=donation.id, supermarket_id=sm.id, purchased_on=purchased_on,
                        supplier=supplier.strip() if supplier else None,
                        note=note.strip() if note else None,
                        created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    db.session.add(purchase)
    db.session.flush()
    made = _add_lots(donation, lines, supermarket_id=sm.id, received_on=purchased_on,
                     purchase=purchase)
    audit.record(actor, "donation.purchase", purchase, donation_id=donation.id, cost_fen=cost,
                 lines=len(made))
    return purchase


# -- reading -------------------------------------------------------------------

def get_donation(actor: User, donation_id, act: str = "donations.read") -> Donation:
    return one_in_reach(visible_donations(actor, act), Donation.id, donation_id)


def search_donations(actor: User, *, supermarket_id=None, donor_id=None, kind=None,
                     page: int = 1, per_page: int = 50) -> tuple[list[Donation], int]:
    query = visible_donations(actor)
    for field, value in (("supermarket_id", supermarket_id), ("donor_id", donor_id)):
        if value in (None, ""):
            continue
        if as_id(value) is None:
            raise ValidationError({field: [_l("Must be a whole number.")]})
        query = query.where(getattr(Donation, field) == as_id(value))
    if kind in ("goods", "cash"):
        query = query.where(Donation.kind == kind)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    offset = (page - 1) * per_page
    if offset >= total:
        return [], total
    items = db.session.scalars(query.order_by(Donation.received_on.desc(), Donation.id.desc())
                               .limit(per_page).offset(offset))
    return list(items), total


def purchases_of(donation: Donation) -> list[Purchase]:
    return list(db.session.scalars(select(Purchase).where(Purchase.donation_id == donation.id)
                                   .order_by(Purchase.id)))


# -- trace ---------------------------------------------------------------------

def _signed():
    """A redemption counts, a return (void) takes it back."""
    return case((LotMovement.kind == "return", -LotMovement.quantity), else_=LotMovement.quantity)


def _trace(key, line_filter) -> dict:
    """Sums per `key` (a DonationLine column) over the lots descended from the
    selected donation lines: redeemed, written off, remaining, transferred,
    distinct households and the villages the units went to."""
    lots = (select(key.label("k"),
                   func.sum(Lot.remaining).label("remaining"),
                   func.sum(Lot.redeemed).label("redeemed"),
                   func.sum(Lot.written_off).label("written_off"),
                   func.sum(case((Lot.source_lot_id.is_(None), Lot.transferred_out), else_=0))
                   .label("transferred"))
            .join(DonationLine, DonationLine.id == Lot.donation_line_id)
            .join(Donation, Donation.id == DonationLine.donation_id)
            .where(line_filter).group_by(key))
    out = {row.k: {"remaining": int(row.remaining or 0), "redeemed": int(row.redeemed or 0),
                   "written_off": int(row.written_off or 0),
                   "transferred": int(row.transferred or 0), "households": 0, "villages": []}
           for row in db.session.execute(lots)}
    redeemed = (select(key.label("k"), LotMovement.household_id.label("household_id"),
                       LotMovement.village_id.label("village_id"), func.sum(_signed()).label("n"))
                .join(Lot, Lot.id == LotMovement.lot_id)
                .join(DonationLine, DonationLine.id == Lot.donation_line_id)
                .join(Donation, Donation.id == DonationLine.donation_id)
                .where(line_filter, LotMovement.kind.in_(("redemption", "return")))
                .group_by(key, LotMovement.household_id, LotMovement.village_id)
                .subquery())
    households = db.session.execute(
        select(redeemed.c.k, func.count(func.distinct(redeemed.c.household_id)))
        .where(redeemed.c.n > 0).group_by(redeemed.c.k))
    for k, n in households:
        out.setdefault(k, {}).update(households=int(n))
    villages = db.session.execute(
        select(redeemed.c.k, Region.id, Region.name, func.sum(redeemed.c.n))
        .join(Region, Region.id == redeemed.c.village_id)
        .group_by(redeemed.c.k, Region.id, Region.name)
        .having(func.sum(redeemed.c.n) > 0)
        .order_by(redeemed.c.k, func.sum(redeemed.c.n).desc(), Region.name))
    for k, village_id, name, n in villages:
        out[k]["villages"].append({"id": village_id, "name": name, "quantity": int(n)})
    for k, dates in _redemption_days(key, line_filter).items():
        out.setdefault(k, {}).update(dates)
    return out


def _redemption_days(key, line_filter) -> dict:
    """Per `key`: the local days of the first and last redemption still
    standing (a voided checkout's units count no more) and the units redeemed
    per local month, oldest first."""
    given_back = select(LotMovement.returns_id).where(LotMovement.returns_id.is_not(None))
    rows = db.session.execute(
        select(key.label("k"), LotMovement.created_at, LotMovement.quantity)
        .join(Lot, Lot.id == LotMovement.lot_id)
        .join(DonationLine, DonationLine.id == Lot.donation_line_id)
        .join(Donation, Donation.id == DonationLine.donation_id)
        .where(line_filter, LotMovement.kind == "redemption",
               LotMovement.id.not_in(given_back)))
    days: dict = {}
    for k, at, n in rows:
        day = local_today(at)
        first, last, months = days.get(k, (day, day, {}))
        month = day.strftime("%Y-%m")
        months[month] = months.get(month, 0) + int(n)
        days[k] = (min(first, day), max(last, day), months)
    return {k: {"first_redeemed_on": first.isoformat(), "last_redeemed_on": last.isoformat(),
                "months": [{"month": m, "redeemed": n} for m, n in sorted(months.items())]}
            for k, (first, last, months) in days.items()}


def _donor_body(donor: Donor) -> dict:
    return {"id": donor.id, "name": donor.name, "kind": donor.kind}


def _empty_sums() -> dict:
    return {"remaining": 0, "redeemed": 0, "written_off": 0, "transferred": 0, "households": 0,
            "villages": [], "first_redeemed_on": None, "last_redeemed_on": None, "months": []}


def trace_donation(actor: User, donation_id) -> dict:
    """Where a donation's goods went, line by line; households only counted.
    Village staff may read it too (the donations of their region's supermarkets)."""
    donation = get_donation(actor, donation_id, "donations.trace")
    sums = _trace(DonationLine.id, DonationLine.donation_id == donation.id)
    lines = []
    for line in donation.lines:
        lines.append({"id": line.id, "product_id": line.product_id, "name": line.product.name,
                      "unit": line.product.unit, "quantity": line.quantity,
                      "purchase_id": line.purchase_id,
                      **{**_empty_sums(), **sums.get(line.id, {})}})
    body = {"id": donation.id, "receipt_no": donation.receipt_no, "kind": donation.kind,
            "public_code": donation.public_code,
            "received_on": donation.received_on.isoformat(), "donor": _donor_body(donation.donor),
            "supermarket": {"id": donation.supermarket.id, "name": donation.supermarket.name},
            "lines": lines, **_overall(DonationLine.donation_id, donation.id,
                                      DonationLine.donation_id == donation.id, lines)}
    if donation.kind == "cash":
        body["amount"] = donation.amount_fen / 100
        body["spent"] = spent_fen(donation.id) / 100
    return body


def trace_donor(actor: User, donor_id) -> dict:
    """The same, summed per product over all the donor's donations that the
    user may see (a donor sees all of its own)."""
    donor = get_donor(actor, donor_id)
    visible = visible_donations(actor).where(Donation.donor_id == donor.id)
    ids = visible.with_only_columns(Donation.id).order_by(None)
    line_filter = DonationLine.donation_id.in_(ids)
    sums = _trace(DonationLine.product_id, line_filter)
    given = db.session.execute(
        select(DonationLine.product_id, func.sum(DonationLine.quantity))
        .join(Donation, Donation.id == DonationLine.donation_id)
        .where(line_filter).group_by(DonationLine.product_id)).all()
    products = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.id.in_([pid for pid, _ in given])))} if given else {}
    lines = []
    for product_id, qty in sorted(given, key=lambda r: (products[r[0]].category or "",
                                                         products[r[0]].name)):
        p = products[product_id]
        lines.append({"product_id": product_id, "name": p.name, "unit": p.unit,
                      "quantity": int(qty), **{**_empty_sums(), **sums.get(product_id, {})}})
    counts = db.session.execute(
        select(Donation.kind, func.count(), func.coalesce(func.sum(Donation.amount_fen), 0))
        .where(Donation.id.in_(ids)).group_by(Donation.kind)).all()
    by_kind = {kind: (int(n), int(amount)) for kind, n, amount in counts}
    cash_ids = select(Donation.id).where(Donation.id.in_(ids), Donation.kind == "cash")
    spent = db.session.scalar(
        select(func.coalesce(func.sum(DonationLine.quantity * DonationLine.unit_value_fen), 0))
        .where(DonationLine.donation_id.in_(cash_ids), DonationLine.purchase_id.is_not(None)))
    return {"id": donor.id, "donor": _donor_body(donor),
            "donations": sum(n for n, _ in by_kind.values()),
            "cash": {"donations": by_kind.get("cash", (0, 0))[0],
                     "amount": by_kind.get("cash", (0, 0))[1] / 100,
                     "spent": int(spent or 0) / 100},
            "lines": lines, **_overall(Donation.donor_id, donor.id, line_filter, lines)}


def donation_sums(actor: User, donor_id) -> dict[int, dict]:
    """Per donation of the donor that the user may see: units given, and the
    trace's sums (redeemed, written off, remaining, households, villages,
    first and last redemption), for a list of donations without a query each."""
    donor = get_donor(actor, donor_id)
    ids = visible_donations(actor).where(Donation.donor_id == donor.id) \
        .with_only_columns(Donation.id).order_by(None)
    line_filter = DonationLine.donation_id.in_(ids)
    sums = _trace(DonationLine.donation_id, line_filter)
    given = db.session.execute(
        select(DonationLine.donation_id, func.sum(DonationLine.quantity))
        .where(line_filter).group_by(DonationLine.donation_id))
    return {donation_id: {**_empty_sums(), **sums.get(donation_id, {}), "quantity": int(qty)}
            for donation_id, qty in given}


def supermarkets_of(actor: User, donor_id) -> list[str]:
    """The names of the supermarkets the donor's visible donations went to."""
    donor = get_donor(actor, donor_id)
    ids = visible_donations(actor).where(Donation.donor_id == donor.id) \
        .with_only_columns(Donation.supermarket_id).order_by(None)
    return list(db.session.scalars(select(Supermarket.name).where(Supermarket.id.in_(ids))
                                   .order_by(Supermarket.name)))


def _overall(key, value, line_filter, lines: list[dict]) -> dict:
    """Totals over all lines, with households and villages counted once each."""
    overall = {**_empty_sums(), **_trace(key, line_filter).get(value, {})}
    keys = ("quantity", "redeemed", "written_off", "remaining", "transferred")
    totals = {k: sum(line[k] for line in lines) for k in keys}
    totals["households"] = overall["households"]
    totals["villages"] = len(overall["villages"])
    totals["first_redeemed_on"] = overall["first_redeemed_on"]
    totals["last_redeemed_on"] = overall["last_redeemed_on"]
    return {"totals": totals, "villages": overall["villages"], "months": overall["months"],
            "first_redeemed_on": overall["first_redeemed_on"],
            "last_redeemed_on": overall["last_redeemed_on"]}
