"""household_months: the per-household monthly totals the reports read, kept
by the ledger's writer; filled from the ledger as it stands

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 18:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The same figures app/services/ledger/totals.py keeps, computed once from the
# ledger as it stands (a migration keeps its own copy: it must not change when
# the app does).
BACKFILL = """
INSERT INTO household_months
  (household_id, month, category, awarded, awards, deducted, deductions, redeemed, checkouts)
SELECT household_id, month, category, SUM(awarded), SUM(awards), SUM(deducted),
       SUM(deductions), SUM(redeemed), SUM(checkouts)
FROM (
  SELECT e.household_id, {month} AS month, COALESCE(r.category, '') AS category,
         CASE WHEN e.kind = 'award' THEN e.points ELSE 0 END AS awarded,
         CASE WHEN e.kind = 'award' THEN 1 ELSE 0 END AS awards,
         CASE WHEN e.kind = 'deduction' THEN -e.points ELSE 0 END AS deducted,
         CASE WHEN e.kind = 'deduction' THEN 1 ELSE 0 END AS deductions,
         0 AS redeemed, 0 AS checkouts
  FROM ledger_entries e LEFT JOIN rules r ON r.id = e.rule_id
  WHERE e.kind IN ('award', 'deduction') AND e.status IN ('pending', 'disputed', 'posted')
    AND NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.reversal_of = e.id)
  UNION ALL
  SELECT e.household_id, {month}, '', 0, 0, 0, 0, -e.points, 1
  FROM ledger_entries e JOIN checkouts c ON c.id = e.checkout_id
  WHERE e.kind = 'redemption' AND c.voided_at IS NULL
) t
GROUP BY household_id, month, category
"""


def upgrade():
    op.create_table('household_months',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('awarded', sa.Integer(), nullable=False),
    sa.Column('awards', sa.Integer(), nullable=False),
    sa.Column('deducted', sa.Integer(), nullable=False),
    sa.Column('deductions', sa.Integer(), nullable=False),
    sa.Column('redeemed', sa.Integer(), nullable=False),
    sa.Column('checkouts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_months_household_id_households')),
    sa.PrimaryKeyConstraint('household_id', 'month', 'category', name=op.f('pk_household_months'))
    )
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.create_index('ix_household_months_month', ['month'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        month = "date(e.occurred_on, 'start of month')"
    else:
        month = "CAST(date_trunc('month', e.occurred_on) AS date)"
    op.execute(BACKFILL.format(month=month))


def downgrade():
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.drop_index('ix_household_months_month')
    op.drop_table('household_months')
