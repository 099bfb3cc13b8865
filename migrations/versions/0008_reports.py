"""reports: the monthly totals reshaped for county scale (one row per
household and month, with its village; awards by village, month and rule
category beside them), a household's exit date, its last award, redemption
and visit (kept by the ledger's writer and the visits service), the visits
of helpers (帮扶走访), cadres' notes on fairness flags, and an index for the
ledger by day

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 22:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# What app/services/ledger/totals.py keeps, computed once from the ledger as it
# stands (a migration keeps its own copy).
LAST_AWARD = """
UPDATE households SET last_award_on = (
  SELECT MAX(e.occurred_on) FROM ledger_entries e
  WHERE e.household_id = households.id AND e.kind = 'award'
    AND e.status IN ('pending', 'disputed', 'posted')
    AND NOT EXISTS (SELECT 1 FROM ledger_entries x
                    WHERE x.reversal_of = e.id AND x.household_id = e.household_id))
"""
LAST_REDEEMED = """
UPDATE households SET last_redeemed_on = (
  SELECT MAX(e.occurred_on) FROM ledger_entries e JOIN checkouts c ON c.id = e.checkout_id
  WHERE e.household_id = households.id AND e.kind = 'redemption' AND c.voided_at IS NULL)
"""


FIGURES = "awarded, awards, deducted, deductions, redeemed, checkouts"
# What app/services/ledger/totals.py keeps, computed once from the ledger.
COUNTED = """
  SELECT e.household_id, h.village_id, {month} AS month, COALESCE(r.category, '') AS category,
         CASE WHEN e.kind = 'award' THEN e.points ELSE 0 END AS awarded,
         CASE WHEN e.kind = 'award' THEN 1 ELSE 0 END AS awards,
         CASE WHEN e.kind = 'deduction' THEN -e.points ELSE 0 END AS deducted,
         CASE WHEN e.kind = 'deduction' THEN 1 ELSE 0 END AS deductions,
         0 AS redeemed, 0 AS checkouts
  FROM ledger_entries e JOIN households h ON h.id = e.household_id
  LEFT JOIN rules r ON r.id = e.rule_id
  WHERE e.kind IN ('award', 'deduction') AND e.status IN ('pending', 'disputed', 'posted')
    AND NOT EXISTS (SELECT 1 FROM ledger_entries x
                    WHERE x.reversal_of = e.id AND x.household_id = e.household_id)
  UNION ALL
  SELECT e.household_id, h.village_id, {month}, '', 0, 0, 0, 0, -e.points, 1
  FROM ledger_entries e JOIN households h ON h.id = e.household_id
  JOIN checkouts c ON c.id = e.checkout_id
  WHERE e.kind = 'redemption' AND c.voided_at IS NULL
"""
MONTHS_BACKFILL = """
INSERT INTO household_months (household_id, month, village_id, {figures})
SELECT household_id, month, village_id, SUM(awarded), SUM(awards), SUM(deducted), SUM(deductions),
       SUM(redeemed), SUM(checkouts)
FROM ({counted}) t GROUP BY household_id, month, village_id
"""
CATEGORIES_BACKFILL = """
INSERT INTO category_months (village_id, month, category, awarded, awards, deducted, deductions)
SELECT village_id, month, category, SUM(awarded), SUM(awards), SUM(deducted), SUM(deductions)
FROM ({counted}) t WHERE category <> '' GROUP BY village_id, month, category
"""
FIGURE_COLUMNS = ("awarded", "awards", "deducted", "deductions", "redeemed", "checkouts")


def _month():
    if op.get_bind().dialect.name == 'sqlite':
        return "date(e.occurred_on, 'start of month')"
    return "CAST(date_trunc('month', e.occurred_on) AS date)"


def upgrade():
    # The monthly totals, reshaped: one row per household and month (the per-category
    # rows of 0007 made a county's year as many rows as the ledger has entries).
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.drop_index('ix_household_months_month')
    op.drop_table('household_months')
    op.create_table('household_months',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in FIGURE_COLUMNS],
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_months_household_id_households')),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_household_months_village_id_regions')),
    sa.PrimaryKeyConstraint('household_id', 'month', name=op.f('pk_household_months'))
    )
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.create_index('ix_household_months_cover', ['month', 'village_id', 'household_id', 'awards', 'awarded', 'deducted', 'deductions', 'redeemed', 'checkouts'], unique=False)
    op.create_table('category_months',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in FIGURE_COLUMNS[:4]],
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_category_months_village_id_regions')),
    sa.PrimaryKeyConstraint('village_id', 'month', 'category', name=op.f('pk_category_months'))
    )
    with op.batch_alter_table('category_months', schema=None) as batch_op:
        batch_op.create_index('ix_category_months_month', ['month'], unique=False)
    counted = COUNTED.format(month=_month())
    op.execute(MONTHS_BACKFILL.format(figures=FIGURES, counted=counted))
    op.execute(CATEGORIES_BACKFILL.format(counted=counted))

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exited_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_award_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_redeemed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_visit_on', sa.Date(), nullable=True))
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_visits_household_id_households')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_visits_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_household_day', ['household_id', 'visited_on'], unique=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_day_kind', ['occurred_on', 'kind'], unique=False)
    op.create_table('fairness_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('from_day', sa.Date(), nullable=False),
    sa.Column('to_day', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_fairness_notes_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fairness_notes'))
    )
    with op.batch_alter_table('fairness_notes', schema=None) as batch_op:
        batch_op.create_index('ix_fairness_notes_subject', ['kind', 'subject_type', 'subject_id'], unique=False)

    # Households that exited before exit dates were kept: the day of their last change.
    day = "date(updated_at)" if op.get_bind().dialect.name == 'sqlite' else "CAST(updated_at AS date)"
    op.execute(f"UPDATE households SET exited_on = {day} WHERE status = 'exited'")
    op.execute(LAST_AWARD)
    op.execute(LAST_REDEEMED)


def downgrade():
    with op.batch_alter_table('category_months', schema=None) as batch_op:
        batch_op.drop_index('ix_category_months_month')
    op.drop_table('category_months')
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.drop_index('ix_household_months_cover')
    op.drop_table('household_months')
    op.create_table('household_months',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in FIGURE_COLUMNS],
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_months_household_id_households')),
    sa.PrimaryKeyConstraint('household_id', 'month', 'category', name=op.f('pk_household_months'))
    )
    with op.batch_alter_table('household_months', schema=None) as batch_op:
        batch_op.create_index('ix_household_months_month', ['month'], unique=False)
    op.execute(f"""
INSERT INTO household_months (household_id, month, category, {FIGURES})
SELECT household_id, month, category, SUM(awarded), SUM(awards), SUM(deducted), SUM(deductions),
       SUM(redeemed), SUM(checkouts)
FROM ({COUNTED.format(month=_month())}) t GROUP BY household_id, month, category
""")
    with op.batch_alter_table('fairness_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_fairness_notes_subject')
    op.drop_table('fairness_notes')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_day_kind')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_household_day')
    op.drop_table('visits')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('last_visit_on')
        batch_op.drop_column('last_redeemed_on')
        batch_op.drop_column('last_award_on')
        batch_op.drop_column('exited_on')
