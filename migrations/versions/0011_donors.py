"""Donors (issue 11): a donor's consent to be named in public, each donation's
public code for the trace anyone can read from its receipt (filled for the
donations already made), and pledges of goods a supermarket needs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 04:30:00

"""
import base64
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _code() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode()


def upgrade():
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('named_in_public', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_code', sa.String(length=24), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_donations_public_code'), ['public_code'])
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM donations"))]
    for i in range(0, len(ids), 1000):
        conn.execute(sa.text("UPDATE donations SET public_code = :code WHERE id = :id"),
                     [{"id": d, "code": _code()} for d in ids[i:i + 1000]])
    op.create_table('pledges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('supermarket_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'partial', 'fulfilled', 'cancelled')", name=op.f('ck_pledges_status_valid')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_pledges_created_by_id_users')),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_pledges_donor_id_donors')),
    sa.ForeignKeyConstraint(['supermarket_id'], ['supermarkets.id'], name=op.f('fk_pledges_supermarket_id_supermarkets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledges'))
    )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.create_index('ix_pledges_donor_market', ['donor_id', 'supermarket_id', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pledges_supermarket_id'), ['supermarket_id'], unique=False)
    op.create_table('pledge_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pledge_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_pledge_lines_quantity_positive')),
    sa.CheckConstraint('received >= 0 AND received <= quantity', name=op.f('ck_pledge_lines_received_within')),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledges.id'], name=op.f('fk_pledge_lines_pledge_id_pledges')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_pledge_lines_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledge_lines'))
    )
    with op.batch_alter_table('pledge_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledge_lines_pledge_id'), ['pledge_id'], unique=False)


def downgrade():
    with op.batch_alter_table('pledge_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_lines_pledge_id'))
    op.drop_table('pledge_lines')
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledges_supermarket_id'))
        batch_op.drop_index('ix_pledges_donor_market')
    op.drop_table('pledges')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_donations_public_code'), type_='unique')
        batch_op.drop_column('public_code')
    with op.batch_alter_table('donors', schema=None) as batch_op:
        batch_op.drop_column('named_in_public')
