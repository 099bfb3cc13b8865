"""Migration 0012 fills older audit records' household and village where their
object or their details say, on SQLite and PostgreSQL; the rest stay blank."""
import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import base_config
from tests.freshdb import KINDS, fresh_database

NOW = "2026-01-05 08:00:00+00:00"

ROWS = """
INSERT INTO regions (id, name, level, path, household_seq, created_at) VALUES
  (1, '青山县', 'county', '/1/', 0, :now), (2, '东岭镇', 'township', '/1/2/', 0, :now),
  (3, '东坪村', 'village', '/1/2/3/', 2, :now), (4, '石门村', 'village', '/1/2/4/', 1, :now);
INSERT INTO supermarkets (id, name, region_id, created_at) VALUES (1, '东岭镇爱心超市', 2, :now);
INSERT INTO households (id, code, village_id, head_name, members, tags, status, balance, created_at, updated_at)
  VALUES (1, 'H3-0001', 3, '杜玉梅', 4, '[]', 'active', 0, :now, :now),
         (2, 'H3-0002', 3, '王喆', 2, '[]', 'active', 0, :now, :now),
         (3, 'H4-0001', 4, '钟秀英', 7, '[]', 'active', 0, :now, :now);
INSERT INTO ledger_entries (id, household_id, kind, points, status, occurred_on, created_at, needs_approval)
  VALUES (10, 2, 'award', 5, 'posted', '2026-01-05', :now, false);
INSERT INTO cards (id, household_id, token, number, status, issued_at)
  VALUES (20, 3, '123', '1234567890', 'active', :now);
INSERT INTO checkouts (id, supermarket_id, household_id, total_points, balance_after, created_at)
  VALUES (30, 1, 1, 5, 0, :now);
INSERT INTO visits (id, household_id, visited_on, created_at) VALUES (40, 2, '2026-01-05', :now);
INSERT INTO fairness_notes (id, kind, subject_type, subject_id, from_day, to_day, note, created_at)
  VALUES (50, 'k', 'household', 3, '2026-01-01', '2026-01-31', 'n', :now),
         (51, 'k', 'village', 4, '2026-01-01', '2026-01-31', 'n', :now);
INSERT INTO audit_records (id, at, action, object_type, object_id, details) VALUES
  (1, :now, 'household.update', 'households', 1, '{"fields": ["members"]}'),
  (2, :now, 'points.award', 'ledger_entries', 10, '{"household_id": 2}'),
  (3, :now, 'card.issue', 'cards', 20, '{}'),
  (4, :now, 'checkout.create', 'checkouts', 30, '{}'),
  (5, :now, 'household.visit', 'visits', 40, '{}'),
  (6, :now, 'points.post', 'ledger_entries', NULL, '{"household_id": 3, "entries": [1, 2]}'),
  (7, :now, 'region.update', 'regions', 4, '{}'),
  (8, :now, 'region.update', 'regions', 2, '{}'),
  (9, :now, 'product.update', 'products', 5, '{"household_id": "2"}'),
  (10, :now, 'points.objection', 'ledger_entries', 999, '{"household_id": 999}'),
  (11, :now, 'fairness.explain', 'fairness_notes', 50, '{}'),
  (12, :now, 'fairness.explain', 'fairness_notes', 51, '{}'),
  (13, :now, 'user.create', 'users', 1, '{}');
"""

EXPECTED = {  # id: (household_id, village_id)
    1: (1, 3), 2: (2, 3), 3: (3, 4), 4: (1, 3), 5: (2, 3), 6: (3, 4), 7: (None, 4), 8: (None, None),
    9: (None, None), 10: (None, None), 11: (3, 4), 12: (None, 4), 13: (None, None),
}


@pytest.fixture(params=KINDS)
def at_0011(request, tmp_path):
    """An app on a fresh database migrated to 0011, the revision before the audit columns."""
    with fresh_database(request.param, tmp_path) as url:
        app = create_app(base_config(url), instance_path=str(tmp_path / "instance"))
        result = app.test_cli_runner().invoke(args=["db", "upgrade", "0011"])
        assert result.exit_code == 0, result.output
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_older_records_get_their_household_and_village(at_0011):
    """Records naming a household by their object (a household, entry, card, checkout, visit, fairness note)
    or their details get it and its village; a village's own record gets the village; the others,
    and details naming no household that exists, stay blank; no address is made up."""
    app = at_0011
    with app.app_context():
        with db.engine.begin() as conn:
            for statement in ROWS.strip().split(";"):
                if statement.strip():
                    conn.execute(text(statement), {"now": NOW} if ":now" in statement else {})
        db.engine.dispose()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        got = {row.id: (row.household_id, row.village_id) for row in db.session.execute(
            text("SELECT id, household_id, village_id FROM audit_records"))}
        addresses = set(db.session.scalars(text("SELECT address FROM audit_records")))
    assert got == EXPECTED
    assert addresses == {None}
