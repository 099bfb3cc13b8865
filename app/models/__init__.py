"""All models, imported here so Alembic and the app see the whole schema."""
from app.models.audit import AuditRecord, BackupRun
from app.models.cards import CARD_STATUSES, Card
from app.models.checkouts import Checkout, CheckoutLine
from app.models.donors import DONOR_KINDS, Donor
from app.models.goods import (
    DONATION_KINDS, MOVEMENT_KINDS, STOCKTAKE_STATUSES, WRITEOFF_REASONS, Donation, DonationLine,
    Lot, LotMovement, Product, Purchase, Stocktake, StocktakeLine, Transfer, Writeoff,
)
from app.models.pledges import PLEDGE_STATUSES, Pledge, PledgeLine
from app.models.households import HOUSEHOLD_STATUSES, Household, HouseholdTag, Visit
from app.models.points import (
    ENTRY_KINDS, ENTRY_STATUSES, LIVE_STATUSES, AuthorMonth, CategoryMonth, Evidence, HouseholdMonth, IdempotencyKey,
    LedgerEntry, Rule,
)
from app.models.regions import LEVELS, Region, Supermarket
from app.models.reports import FAIRNESS_KINDS, SUBJECT_TYPES, FairnessNote
from app.models.types import utcnow
from app.models.users import ROLES, ApiToken, User, user_supermarkets

__all__ = [
    "CARD_STATUSES", "Card", "Checkout", "CheckoutLine",
    "ApiToken", "AuditRecord", "BackupRun", "DONOR_KINDS", "Donor", "HOUSEHOLD_STATUSES", "Household", "HouseholdTag",
    "LEVELS", "ROLES", "Region", "Supermarket", "User", "user_supermarkets", "utcnow",
    "AuthorMonth", "ENTRY_KINDS", "ENTRY_STATUSES", "LIVE_STATUSES", "Evidence", "HouseholdMonth", "IdempotencyKey",
    "LedgerEntry", "Rule",
    "DONATION_KINDS", "MOVEMENT_KINDS", "STOCKTAKE_STATUSES", "WRITEOFF_REASONS", "Donation",
    "DonationLine", "Lot", "LotMovement", "Product", "Purchase", "Stocktake", "StocktakeLine",
    "Transfer", "Writeoff", "Visit", "CategoryMonth", "FAIRNESS_KINDS", "SUBJECT_TYPES", "FairnessNote",
    "PLEDGE_STATUSES", "Pledge", "PledgeLine",
]
