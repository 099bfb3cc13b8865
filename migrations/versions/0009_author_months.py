"""author_months: awards per author, household and local month of entry,
with how many were rejected, reversed or entered late, kept by the ledger's
writer so the fairness checks read a county's year in a few hundred thousand
rows; filled from the ledger as it stands. The ledger gets indexes by moment
of entry (and kind), and by author (the checks' entries behind a flag);
checkouts and their lines get covering indexes for the supermarket reports;
category_months is kept per rule too (the most used rules), refilled

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 01:00:00

"""
from datetime import datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

LATE_DAYS = 14
# What app/services/ledger/totals.py keeps, computed once from the ledger (a
# migration keeps its own copy).
BACKFILL = """
INSERT INTO author_months (user_id, household_id, month, village_id, awards, rejected, reversed, late)
SELECT e.created_by_id, e.household_id, {month}, h.village_id, COUNT(*),
       SUM(CASE WHEN e.status = 'cancelled' AND e.decided_by_id IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN EXISTS (SELECT 1 FROM ledger_entries x
                             WHERE x.reversal_of = e.id AND x.household_id = e.household_id)
                THEN 1 ELSE 0 END),
       SUM(CASE WHEN {late} >= {days} THEN 1 ELSE 0 END)
FROM ledger_entries e JOIN households h ON h.id = e.household_id
WHERE e.kind = 'award' AND e.created_by_id IS NOT NULL
GROUP BY e.created_by_id, e.household_id, {month}, h.village_id
"""


CATEGORY_COLUMNS = ("awarded", "awards", "deducted", "deductions")
CATEGORIES_BACKFILL = """
INSERT INTO category_months (village_id, month, category, {keys}awarded, awards, deducted, deductions)
SELECT h.village_id, {month}, COALESCE(r.category, ''), {rule}
       SUM(CASE WHEN e.kind = 'award' THEN e.points ELSE 0 END),
       SUM(CASE WHEN e.kind = 'award' THEN 1 ELSE 0 END),
       SUM(CASE WHEN e.kind = 'deduction' THEN -e.points ELSE 0 END),
       SUM(CASE WHEN e.kind = 'deduction' THEN 1 ELSE 0 END)
FROM ledger_entries e JOIN households h ON h.id = e.household_id
LEFT JOIN rules r ON r.id = e.rule_id
WHERE e.kind IN ('award', 'deduction') AND e.status IN ('pending', 'disputed', 'posted')
  AND NOT EXISTS (SELECT 1 FROM ledger_entries x
                  WHERE x.reversal_of = e.id AND x.household_id = e.household_id)
  AND COALESCE(r.category, '') <> ''
GROUP BY h.village_id, {month}, COALESCE(r.category, ''){group_rule}
"""


def _categories(with_rule: bool) -> None:
    """category_months made anew (per rule or not) and filled from the ledger."""
    with op.batch_alter_table('category_months', schema=None) as batch_op:
        batch_op.drop_index('ix_category_months_month')
    op.drop_table('category_months')
    keys = [sa.Column('village_id', sa.Integer(), nullable=False),
            sa.Column('month', sa.Date(), nullable=False),
            sa.Column('category', sa.String(length=50), nullable=False)]
    if with_rule:
        keys.append(sa.Column('rule_code', sa.String(length=32), nullable=False))
    op.create_table('category_months', *keys,
                    *[sa.Column(name, sa.Integer(), nullable=False) for name in CATEGORY_COLUMNS],
                    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_category_months_village_id_regions')),
                    sa.PrimaryKeyConstraint(*[c.name for c in keys], name=op.f('pk_category_months')))
    with op.batch_alter_table('category_months', schema=None) as batch_op:
        batch_op.create_index('ix_category_months_month', ['month'], unique=False)
    month = ("date(e.occurred_on, 'start of month')" if op.get_bind().dialect.name == 'sqlite'
             else "CAST(date_trunc('month', e.occurred_on) AS date)")
    op.execute(CATEGORIES_BACKFILL.format(
        month=month, keys="rule_code, " if with_rule else "",
        rule="COALESCE(e.rule_code, '')," if with_rule else "",
        group_rule=", COALESCE(e.rule_code, '')" if with_rule else ""))


def _zone() -> str:
    try:
        from flask import current_app
        return current_app.config["TIMEZONE"]
    except (ImportError, RuntimeError, KeyError):
        return "Asia/Shanghai"


def upgrade():
    op.create_table('author_months',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('awards', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('reversed', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_author_months_household_id_households')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_author_months_user_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_author_months_village_id_regions')),
    sa.PrimaryKeyConstraint('user_id', 'household_id', 'month', name=op.f('pk_author_months'))
    )
    with op.batch_alter_table('author_months', schema=None) as batch_op:
        batch_op.create_index('ix_author_months_cover', ['month', 'village_id', 'user_id', 'household_id', 'awards', 'rejected', 'reversed', 'late'], unique=False)

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_created_kind', ['created_at', 'kind'], unique=False)
        batch_op.create_index('ix_ledger_author_created', ['created_by_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_deductions_created', ['created_at'], unique=False,
                              sqlite_where=sa.text("kind = 'deduction'"),
                              postgresql_where=sa.text("kind = 'deduction'"))

    # The supermarket reports: a range of checkouts and their lines from indexes alone.
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.create_index('ix_checkouts_market_made', ['supermarket_id', 'created_at', 'voided_at', 'household_id', 'total_points'], unique=False)
    with op.batch_alter_table('checkout_lines', schema=None) as batch_op:
        batch_op.create_index('ix_checkout_lines_goods', ['checkout_id', 'product_id', 'quantity', 'points'], unique=False)

    zone = _zone()
    if op.get_bind().dialect.name == 'sqlite':
        # created_at is naive UTC text; the zone's offset now (no summer time in China).
        minutes = int(datetime.now(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
        local = f"date(e.created_at, '{minutes:+d} minutes')"
        month = f"date({local}, 'start of month')"
        late = f"julianday({local}) - julianday(e.occurred_on)"
    else:
        local = f"CAST(timezone('{zone}', e.created_at) AS date)"
        month = f"CAST(date_trunc('month', {local}) AS date)"
        late = f"({local} - e.occurred_on)"
    op.execute(BACKFILL.format(month=month, late=late, days=LATE_DAYS))
    _categories(with_rule=True)


def downgrade():
    _categories(with_rule=False)
    with op.batch_alter_table('checkout_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_checkout_lines_goods')
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_index('ix_checkouts_market_made')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_deductions_created')
        batch_op.drop_index('ix_ledger_author_created')
        batch_op.drop_index('ix_ledger_created_kind')
    with op.batch_alter_table('author_months', schema=None) as batch_op:
        batch_op.drop_index('ix_author_months_cover')
    op.drop_table('author_months')
