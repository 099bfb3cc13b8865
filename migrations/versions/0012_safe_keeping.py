"""Safe keeping (issue 12): the audit trail learns where a write came from
and which household and village it concerns (filled for older records where
their details or their object say), a record of every backup and restore, and
the date a household's personal data was anonymised.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column('household_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('village_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_household', ['household_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_village', ['village_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_action_at', ['action', 'at'], unique=False)
    _backfill_audit()
    op.create_table('backup_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_runs'))
    )
    with op.batch_alter_table('backup_runs', schema=None) as batch_op:
        batch_op.create_index('ix_backup_runs_kind_started', ['kind', 'started_at'], unique=False)
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))


# Objects that belong to one household: the audit row's object names it.
_HOUSEHOLD_OBJECTS = ("ledger_entries", "checkouts", "cards", "visits")


def _backfill_audit():
    """Older records: the household and village where the object or the
    details name them; their address stays blank (it was never recorded).
    Set-based: one UPDATE per source, whatever the number of rows."""
    conn = op.get_bind()
    run = lambda sql: conn.execute(sa.text(sql))  # noqa: E731
    run("UPDATE audit_records SET household_id = object_id "
        "WHERE household_id IS NULL AND object_type = 'households' AND object_id IS NOT NULL")
    for table in _HOUSEHOLD_OBJECTS:
        run(f"UPDATE audit_records SET household_id = "
            f"(SELECT t.household_id FROM {table} t WHERE t.id = audit_records.object_id) "
            f"WHERE household_id IS NULL AND object_type = '{table}' AND object_id IS NOT NULL")
    run("UPDATE audit_records SET household_id = "
        "(SELECT f.subject_id FROM fairness_notes f WHERE f.id = audit_records.object_id "
        "AND f.subject_type = 'household') "
        "WHERE household_id IS NULL AND object_type = 'fairness_notes' "
        "AND object_id IN (SELECT id FROM fairness_notes WHERE subject_type = 'household')")
    # Details that name a household (points.*, card.issue, checkout.create):
    # only a whole number that is a household's id.
    if conn.dialect.name == "postgresql":
        named = ("CASE WHEN json_typeof(audit_records.details -> 'household_id') = 'number' "
                 "THEN (audit_records.details ->> 'household_id')::numeric END")
    else:
        named = ("CASE WHEN json_type(audit_records.details, '$.household_id') = 'integer' "
                 "THEN json_extract(audit_records.details, '$.household_id') END")
    run(f"UPDATE audit_records SET household_id = CAST({named} AS INTEGER) "
        f"WHERE household_id IS NULL AND {named} IN (SELECT id FROM households)")
    run("UPDATE audit_records SET village_id = "
        "(SELECT h.village_id FROM households h WHERE h.id = audit_records.household_id) "
        "WHERE village_id IS NULL AND household_id IS NOT NULL")
    run("UPDATE audit_records SET village_id = object_id "
        "WHERE village_id IS NULL AND object_type = 'regions' "
        "AND object_id IN (SELECT id FROM regions WHERE level = 'village')")
    run("UPDATE audit_records SET village_id = "
        "(SELECT f.subject_id FROM fairness_notes f WHERE f.id = audit_records.object_id "
        "AND f.subject_type = 'village' "
        "AND f.subject_id IN (SELECT id FROM regions WHERE level = 'village')) "
        "WHERE village_id IS NULL AND object_type = 'fairness_notes' "
        "AND object_id IN (SELECT id FROM fairness_notes WHERE subject_type = 'village')")


def downgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
    with op.batch_alter_table('backup_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_backup_runs_kind_started')
    op.drop_table('backup_runs')
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_action_at')
        batch_op.drop_index('ix_audit_village')
        batch_op.drop_index('ix_audit_household')
        batch_op.drop_column('village_id')
        batch_op.drop_column('household_id')
        batch_op.drop_column('address')
