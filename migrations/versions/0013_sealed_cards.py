"""Sealed cards: a card is found by the SHA-256 of its token, and the token
itself is kept sealed with the card key (instance/card.key or FLASK_CARD_KEY),
so a copied database or backup holds no token. Existing cards are moved: each
token hashed and sealed (the key file is made if there is none), then the
plain column dropped.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 07:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CHUNK = 5000
cards = sa.table('cards', sa.column('id', sa.Integer), sa.column('token', sa.String),
                 sa.column('token_hash', sa.String), sa.column('token_sealed', sa.String))


def _chunks(conn, *columns):
    """The cards, CHUNK at a time in id order (a province holds millions)."""
    last = 0
    while True:
        rows = conn.execute(sa.select(cards.c.id, *columns).where(cards.c.id > last)
                            .order_by(cards.c.id).limit(CHUNK)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade():
    # Flask-Migrate runs migrations inside the app: the key is the app's.
    from app.services.checkout import card_key

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_sealed', sa.String(length=255), nullable=True))
    conn = op.get_bind()
    key = None
    update = (sa.update(cards).where(cards.c.id == sa.bindparam('card_id'))
              .values(token_hash=sa.bindparam('h'), token_sealed=sa.bindparam('s')))
    for rows in _chunks(conn, cards.c.token):
        key = key or card_key.sealer()
        conn.execute(update, [{'card_id': cid, 'h': card_key.token_hash(token),
                               's': card_key.seal(token, key)} for cid, token in rows])
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('token_sealed', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_cards_token_hash'), ['token_hash'])
        batch_op.drop_constraint(batch_op.f('uq_cards_token'), type_='unique')
        batch_op.drop_column('token')


def downgrade():
    """The tokens back in clear: needs the card key that sealed them."""
    from app.services.checkout import card_key

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    update = (sa.update(cards).where(cards.c.id == sa.bindparam('card_id'))
              .values(token=sa.bindparam('t')))
    for rows in _chunks(conn, cards.c.token_sealed):
        key = card_key.sealer(create=False)
        conn.execute(update, [{'card_id': cid, 't': card_key.unseal(sealed, key)}
                              for cid, sealed in rows])
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.alter_column('token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_cards_token'), ['token'])
        batch_op.drop_constraint(batch_op.f('uq_cards_token_hash'), type_='unique')
        batch_op.drop_column('token_sealed')
        batch_op.drop_column('token_hash')
