"""Who may do what: the one place that says which role may attempt which act,
and what an object must be like for the act (a checkout not yet voided, an
entry still on notice ...). Services call `require(user, act, obj)` before
they act; views and templates call `can(user, act, obj)` to show a link or a
button; nothing else compares role names. What a user *reaches* (their
villages, supermarkets, donor record) is the other half of the policy, in
scope.py: an object out of reach is 404, never 403.

`ACTS` is the table: act -> the roles that may attempt it. An act with an
object rule also checks the object: the rule returns None when the act is
allowed, or the domain error that refuses it (403 Forbidden, 409 Conflict,
422 HouseholdInactive ...), so the service raises exactly what `can` hides."""
from collections.abc import Callable
from datetime import datetime

from flask_babel import lazy_gettext as _l

from app.models import ROLES, Checkout, Household, LedgerEntry, Stocktake, User, utcnow
from app.services.clock import local_today
from app.services.errors import Conflict, DomainError, Forbidden, HouseholdInactive, ValidationError

EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})

# What a role reaches (scope.py draws it): everything; the region subtree the
# account is given; the regions its supermarkets serve; its own donor record.
REACH = {"admin": "all", "cadre": "region", "staff": "region", "volunteer": "supermarkets",
         "donor": "donor_record"}
# In the order the account form offers them: the most common first.
ROLE_LABELS = {"staff": _l("Village staff"), "volunteer": _l("Supermarket volunteer"),
               "cadre": _l("Cadre"), "donor": _l("Donor"), "admin": _l("Administrator")}

ACTS: dict[str, frozenset[str]] = {
    # places and people
    "regions.read": EVERYONE,
    "regions.manage": ADMIN,
    "supermarkets.read": EVERYONE,
    "supermarkets.manage": ADMIN,
    "users.manage": ADMIN,
    "households.read": frozenset({"admin", "cadre", "staff", "volunteer"}),
    # The register as staff and cadres keep it (phone, address, tags, the
    # ledger, cards, evidence); a volunteer sees only what the counter needs.
    "households.read_register": frozenset({"admin", "cadre", "staff"}),
    "households.write": frozenset({"admin", "staff"}),
    "households.import": frozenset({"admin", "staff"}),
    # Blanking an exited household's personal data once its retention period is over.
    "households.anonymise": ADMIN,
    # The set of household tags (户类型标签) a household may be given.
    "tags.manage": ADMIN,
    # Backups: their record and warning (the admin page); taking or restoring
    # one (the CLI acts as the system, with no user).
    "backups.read": ADMIN,
    "backups.manage": ADMIN,
    # points
    "points.read": frozenset({"admin", "cadre", "staff"}),
    "points.award": frozenset({"admin", "staff"}),
    "points.object": frozenset({"admin", "cadre", "staff", "volunteer"}),
    # Taking back a mistaken award still in notice: its author (staff), or a cadre.
    "points.withdraw": frozenset({"admin", "cadre", "staff"}),
    "points.decide": frozenset({"admin", "cadre"}),
    "points.reverse": frozenset({"admin", "cadre"}),
    "points.adjust": ADMIN,
    "passbook.pin": frozenset({"admin", "staff"}),
    "rules.read": EVERYONE,
    "rules.manage": ADMIN,
    # cards
    "cards.issue": frozenset({"admin", "staff"}),
    "cards.print": frozenset({"admin", "cadre", "staff"}),
    "cards.resolve": frozenset({"admin", "cadre", "staff", "volunteer"}),
    # goods
    "goods.read": frozenset({"admin", "cadre", "volunteer", "donor"}),
    "products.read": EVERYONE,
    "products.list": frozenset({"admin", "cadre", "volunteer"}),
    "products.manage": ADMIN,
    "products.export": frozenset({"admin", "cadre"}),
    "stock.read": frozenset({"admin", "cadre", "volunteer"}),
    "stock.keep": frozenset({"admin", "volunteer"}),
    "stocktake.count": frozenset({"admin", "volunteer"}),
    "stocktake.decide": frozenset({"admin", "cadre"}),
    "stocktake.cancel": frozenset({"admin", "cadre", "volunteer"}),
    # Once submitted for review, only those who decide may drop it.
    "stocktake.cancel_submitted": frozenset({"admin", "cadre"}),
    "donors.read": frozenset({"admin", "cadre", "volunteer", "donor"}),
    "donors.list": frozenset({"admin", "cadre", "volunteer"}),
    "donors.manage": frozenset({"admin", "volunteer"}),
    "donations.read": frozenset({"admin", "cadre", "volunteer", "donor"}),
    # Where a donation's goods went (households only counted): the contract's
    # readers add village staff, for the donations their region's supermarkets received.
    "donations.trace": frozenset({"admin", "cadre", "volunteer", "donor", "staff"}),
    "donations.receive": frozenset({"admin", "volunteer"}),
    # A donor's own portal: their giving, its trace and the thank-you cards.
    "giving.own": frozenset({"donor"}),
    # Pledges (认捐): a donor promises goods; the supermarket's keepers see them.
    "pledges.make": frozenset({"donor"}),
    "pledges.read": frozenset({"admin", "cadre", "volunteer", "donor"}),
    # reports (figures by household, village and month; needs a visit)
    "reports.read": frozenset({"admin", "cadre", "staff"}),
    # Patterns worth a question (never a sanction): for those who review staff.
    "reports.fairness": frozenset({"admin", "cadre"}),
    "visits.record": frozenset({"admin", "cadre", "staff"}),
    # The audit trail (全程留痕), read-only: cadres their region's records and
    # their own acts, admins all.
    "audit.read": frozenset({"admin", "cadre"}),
    # the counter
    "checkout.sell": frozenset({"admin", "volunteer"}),
    "checkout.read": frozenset({"admin", "cadre", "volunteer"}),
    "checkout.void": frozenset({"admin", "cadre", "volunteer"}),
    # Later than the day it was made, only a cadre or an admin voids a checkout.
    "checkout.void_earlier_day": frozenset({"admin", "cadre"}),
}

Rule = Callable[..., DomainError | None]
RULES: dict[str, Rule] = {}


def object_rule(act: str):
    def register(fn: Rule) -> Rule:
        if act not in ACTS:
            raise KeyError(act)
        RULES[act] = fn
        return fn
    return register


def _refusal(user: User | None, act: str, obj=None, **context) -> DomainError | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return Forbidden()
    if user.role not in ACTS[act]:
        return Forbidden()
    rule = RULES.get(act)
    if rule is not None and obj is not None:
        return rule(user, obj, **context)
    return None


def reach(user: User | None) -> str | None:
    """What the user reaches: "all", "region", "supermarkets", "donor_record" (None: nobody)."""
    return REACH.get(getattr(user, "role", None))


def can(user: User | None, act: str, obj=None, **context) -> bool:
    """Whether `user` may do `act` (to `obj`, when given): for links and buttons."""
    return _refusal(user, act, obj, **context) is None


def require(user: User | None, act: str, obj=None, **context) -> None:
    """Refuse with the rule's own error (403, 409 ...) unless `user` may do `act`."""
    refusal = _refusal(user, act, obj, **context)
    if refusal is not None:
        raise refusal


# -- object rules ---------------------------------------------------------------------

@object_rule("points.award")
def _award(user: User, household: Household, **_):
    if household.status != "active":
        return HouseholdInactive(_l("This household has exited the programme."))
    return None


@object_rule("households.anonymise")
def _anonymise(user: User, household: Household, today=None, **_):
    from app.services.people.privacy import kept_until, retention_years

    if household.anonymised_at is not None:
        return Conflict(_l("This household's personal data has already been anonymised."))
    if household.status != "exited" or household.exited_on is None:
        message = _l("Only a household that has exited the programme can be anonymised.")
        return ValidationError({"household_id": [message]}, message)
    until = kept_until(household.exited_on)
    if until > (today or local_today()):
        message = _l("This household exited on %(exited)s: its data is kept for %(n)d years, "
                     "until %(until)s.", exited=household.exited_on.isoformat(),
                     n=retention_years(), until=until.isoformat())
        return ValidationError({"household_id": [message]}, message)
    return None


def on_notice(entry: LedgerEntry, now: datetime | None = None) -> bool:
    return (entry.status == "pending" and entry.notice_ends_at is not None
            and entry.notice_ends_at > (now or utcnow()))


def awaiting_approval(entry: LedgerEntry) -> bool:
    return entry.status == "pending" and entry.needs_approval and entry.approved_at is None


@object_rule("points.object")
def _object(user: User, entry: LedgerEntry, now: datetime | None = None, **_):
    if not on_notice(entry, now):
        return Conflict(_l("Objections can only be raised while the entry is on public notice."))
    return None


@object_rule("points.withdraw")
def _withdraw(user: User, entry: LedgerEntry, **_):
    if user.role == "staff" and entry.created_by_id != user.id:
        return Forbidden(_l("Only the person who made an entry, or a cadre, can withdraw it."))
    if entry.kind not in ("award", "deduction"):
        return Conflict(_l("Only an award or a deduction can be withdrawn."))
    if entry.status == "posted":
        return Conflict(_l("This entry already counts: a cadre reverses it instead."))
    if entry.status not in ("pending", "disputed"):
        return Conflict(_l("This entry is no longer open: it was already cancelled."))
    return None


@object_rule("points.decide")
def _decide(user: User, entry: LedgerEntry, **_):
    if entry.created_by_id == user.id:
        return Forbidden(_l("Nobody decides on an entry they made themselves."))
    if entry.status != "disputed" and not awaiting_approval(entry):
        return Conflict(_l("This entry is neither disputed nor awaiting approval."))
    return None


@object_rule("points.reverse")
def _reverse(user: User, entry: LedgerEntry, reversed: bool = False, **_):
    if entry.kind == "reversal":
        return Conflict(_l("A reversal cannot itself be reversed."))
    if entry.kind == "redemption":
        return Conflict(_l("A redemption is undone by voiding its checkout."))
    if entry.status != "posted":
        return Conflict(_l("Only posted entries can be reversed; an entry on notice is rejected instead."))
    if reversed:
        return Conflict(_l("This entry has already been reversed."))
    return None


@object_rule("checkout.void")
def _void(user: User, checkout: Checkout, now: datetime | None = None, **_):
    if checkout.voided_at is not None:
        return Conflict(_l("This checkout has already been voided."))
    if local_today(checkout.created_at) != local_today(now) and not can(user, "checkout.void_earlier_day"):
        return Forbidden(_l("Only a cadre can void a checkout of an earlier day."))
    return None


@object_rule("stocktake.count")
def _count(user: User, stocktake: Stocktake, **_):
    if stocktake.status != "counting":
        return Conflict(_l("This stocktake is no longer open for that."))
    return None


@object_rule("stocktake.decide")
def _decide_stocktake(user: User, stocktake: Stocktake, **_):
    if stocktake.status != "submitted":
        return Conflict(_l("Only a submitted stocktake can be decided."))
    return None


@object_rule("stocktake.cancel")
def _cancel_stocktake(user: User, stocktake: Stocktake, **_):
    """The volunteer while counting; a cadre or admin also once submitted."""
    allowed = ("counting", "submitted") if can(user, "stocktake.cancel_submitted") else ("counting",)
    if stocktake.status not in allowed:
        return Conflict(_l("This stocktake is no longer open for that."))
    return None
