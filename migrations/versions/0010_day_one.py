"""Day one in a county (issue 10): withdrawn entries and the objector kept
apart from the reason; cards used or not at a checkout; best-before dates on
donation lines and lots; GTIN barcodes up to 14 digits; the national
register's household number; retired regions and supermarkets; a password
reset that asks for a new one; household tags an admin manages (filled with
the tags configured until now).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TAGS = ["建档立卡", "监测户", "边缘户", "低保", "五保", "残疾", "独居老人", "脱贫户"]


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('objector', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('withdrawn', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_used', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('no_card_reason', sa.String(length=200), nullable=True))
    # Checkouts made before this column existed: those without a card were
    # made by household id (the no-card fairness check reads card_used).
    op.execute("UPDATE checkouts SET card_used = false WHERE card_id IS NULL")
    with op.batch_alter_table('donation_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('best_before', sa.Date(), nullable=True))
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('best_before', sa.Date(), nullable=True))
        batch_op.create_index('ix_lots_supermarket_expiry', ['supermarket_id', 'best_before'], unique=False)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.alter_column('barcode', existing_type=sa.String(length=13), type_=sa.String(length=14),
                              existing_nullable=True)
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_no', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_households_register_no', ['register_no'], unique=False)
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('supermarkets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    tags = op.create_table('household_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_household_tags_name'))
    )
    op.bulk_insert(tags, [{"name": name, "active": True} for name in TAGS])


def downgrade():
    op.drop_table('household_tags')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
    with op.batch_alter_table('supermarkets', schema=None) as batch_op:
        batch_op.drop_column('active')
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_column('active')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_register_no')
        batch_op.drop_column('register_no')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.alter_column('barcode', existing_type=sa.String(length=14), type_=sa.String(length=13),
                              existing_nullable=True)
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.drop_index('ix_lots_supermarket_expiry')
        batch_op.drop_column('best_before')
    with op.batch_alter_table('donation_lines', schema=None) as batch_op:
        batch_op.drop_column('best_before')
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_column('no_card_reason')
        batch_op.drop_column('card_used')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('withdrawn')
        batch_op.drop_column('objector')
