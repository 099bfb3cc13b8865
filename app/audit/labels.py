"""What each recorded act and object is called on the trail's page and in its
files; an act not named here is shown by its code (a readable fallback)."""
import json

from flask_babel import lazy_gettext as _l

# Families of acts (the part of the code before the dot), for the kind filter.
FAMILIES = {
    "points": _l("Points"), "checkout": _l("Checkouts"), "card": _l("Cards"),
    "cards": _l("Cards for a village"), "household": _l("Household records"), "evidence": _l("Evidence photos"),
    "rule": _l("Rules"), "product": _l("Products"), "donation": _l("Donations"), "donor": _l("Donors"),
    "pledge": _l("Pledges"), "stock": _l("Stock"), "stocktake": _l("Stocktakes"),
    "user": _l("User accounts"), "token": _l("API tokens"), "region": _l("Regions"),
    "supermarket": _l("Supermarkets"), "tag": _l("Household tags"),
    "fairness": _l("Fairness notes"), "export": _l("Exports"), "backup": _l("Backups"),
}

ACTIONS = {
    "points.award": _l("Points awarded"), "points.deduction": _l("Points deducted"),
    "points.adjust": _l("Points adjusted"), "points.expire": _l("Points expired at year end"),
    "points.post": _l("Points counted after notice"), "points.objection": _l("Objection raised"),
    "points.approve": _l("Entry approved"), "points.uphold": _l("Entry upheld after objection"),
    "points.reject": _l("Entry rejected"), "points.withdraw": _l("Entry withdrawn"),
    "points.reverse": _l("Entry reversed"),
    "checkout.create": _l("Checkout"), "checkout.void": _l("Checkout voided"),
    "card.issue": _l("Card issued"), "cards.issue_village": _l("Cards issued for a village"),
    "cards.reseal": _l("Cards sealed again with a new card key"),
    "backup.make": _l("Backup made"), "backup.restore": _l("Backup restored"),
    "household.create": _l("Household added"), "household.update": _l("Household changed"),
    "household.visit": _l("Visit recorded"), "household.passbook_pin": _l("Passbook PIN set"),
    "household.passbook_pin_clear": _l("Passbook PIN cleared"),
    "household.anonymise": _l("Household anonymised"),
    "evidence.upload": _l("Evidence photo uploaded"),
    "rule.create": _l("Rule added"), "rule.version": _l("Rule changed (new version)"),
    "rule.retire": _l("Rule retired"), "rule.import": _l("Rules imported"),
    "product.create": _l("Product added"), "product.update": _l("Product changed"),
    "product.retire": _l("Product retired"), "product.reactivate": _l("Product back in use"),
    "product.import": _l("Products imported"),
    "donor.create": _l("Donor added"), "donor.update": _l("Donor changed"),
    "donation.receive": _l("Donated goods received"), "donation.cash": _l("Money donation received"),
    "donation.purchase": _l("Goods bought with donated money"),
    "pledge.create": _l("Pledge made"), "pledge.cancel": _l("Pledge cancelled"),
    "pledge.fill": _l("Pledge delivered"),
    "stock.writeoff": _l("Stock written off"), "stock.transfer": _l("Stock transferred"),
    "stocktake.start": _l("Stocktake started"), "stocktake.count": _l("Stocktake counted"),
    "stocktake.submit": _l("Stocktake submitted"), "stocktake.finalize": _l("Stocktake accepted"),
    "stocktake.reopen": _l("Stocktake reopened"), "stocktake.cancel": _l("Stocktake cancelled"),
    "user.create": _l("User added"), "user.update": _l("User changed"),
    "user.activate": _l("User reactivated"), "user.deactivate": _l("User deactivated"),
    "user.password_reset": _l("Password reset"), "user.password": _l("Own password changed"),
    "token.issue": _l("API token issued"), "token.revoke": _l("API token revoked"),
    "region.create": _l("Region added"), "region.update": _l("Region changed"),
    "region.retire": _l("Region retired"), "region.reactivate": _l("Region back in use"),
    "supermarket.create": _l("Supermarket added"), "supermarket.update": _l("Supermarket changed"),
    "supermarket.retire": _l("Supermarket closed"),
    "supermarket.reactivate": _l("Supermarket reopened"),
    "tag.create": _l("Household tag added"), "tag.retire": _l("Household tag retired"),
    "tag.reactivate": _l("Household tag back in use"),
    "fairness.explain": _l("Fairness flag explained"),
    "export": _l("Exported"),
    "demo.checkouts": _l("Demo data"), "demo.points_history": _l("Demo data"),
}

OBJECTS = {
    "households": _l("Household"), "ledger_entries": _l("Ledger entry"), "checkouts": _l("Checkout"),
    "cards": _l("Points card"), "visits": _l("Visit"), "evidence": _l("Evidence photo"),
    "rules": _l("Rule"), "products": _l("Product"), "donors": _l("Donor"), "donations": _l("Donation"),
    "purchases": _l("Purchase"), "pledges": _l("Pledge"), "stocktakes": _l("Stocktake"),
    "transfers": _l("Transfer"), "writeoffs": _l("Write-off"), "users": _l("User"),
    "api_tokens": _l("API token"), "regions": _l("Region"), "supermarkets": _l("Supermarket"),
    "household_tags": _l("Household tag"), "fairness_notes": _l("Fairness note"),
    "system": _l("System"), "audit": _l("Audit trail"),
}


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def object_label(object_type: str, object_id: int | None) -> str:
    """"Checkout #12"; an export names its list by code ("households")."""
    name = str(OBJECTS.get(object_type, object_type))
    return f"{name} #{object_id}" if object_id is not None else name


def details_text(details: dict) -> str:
    """Details as one line, key=value, for a file (the page lists them)."""
    return "; ".join(f"{k}={value_text(v)}" for k, v in details.items())


def value_text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
