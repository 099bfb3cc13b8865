"""`flask points ...`: post-due, expire and the rule catalogue from the command line."""
from datetime import date, datetime, timezone

from app.extensions import db
from app.services.points.rules import current_rule
from tests.points_helpers import award, balance, make_rule


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_catalogue_commands(app, world, tmp_path):
    """load-rules adds the shipped catalogue once; export-rules writes xlsx or csv; import-rules
    reads it back, refusing a bad file with exit 1."""
    assert "added 25 rules" in run(app, "points", "load-rules").output
    assert "added 0 rules" in run(app, "points", "load-rules").output
    for name in ("rules.xlsx", "rules.csv"):
        assert run(app, "points", "export-rules", str(tmp_path / name)).exit_code == 0
        result = run(app, "points", "import-rules", str(tmp_path / name))
        assert result.exit_code == 0 and "unchanged 25" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("code,category,name,points\nX-1,c,n,0\n", encoding="utf-8")
    result = run(app, "points", "import-rules", str(bad))
    assert result.exit_code == 1 and "rows.2.points" in result.output
    assert current_rule("X-1") is None


def test_expire_command(app, world):
    """`flask points expire --year Y` refuses while the policy is off, then clears last year's points."""
    year = date.today().year - 1
    result = run(app, "points", "expire", "--year", str(year))
    assert result.exit_code == 1 and "POINTS_YEAR_END_EXPIRY" in result.output
    app.config.update(POINTS_YEAR_END_EXPIRY=True, POINTS_NOTICE_DAYS=0)
    make_rule("T-A", 10)
    award(world, "staff", ["v1a"], "T-A", now=datetime(year, 12, 20, 4, tzinfo=timezone.utc),
          occurred_on=f"{year}-12-20")
    result = run(app, "points", "expire", "--year", str(year))
    assert result.exit_code == 0 and f"expired 10 points of {year} in 1 households" in result.output
    db.session.rollback()
    assert balance(world, "v1a") == 0
    assert "expired 0 points" in run(app, "points", "expire", "--year", str(year)).output
