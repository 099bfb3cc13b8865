"""The backups page (admin only) lists the runs with their result, and every page an
admin sees warns while the last good backup is older than two days or missing."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import BackupRun, utcnow
from app.services.safekeeping import backups
from tests.factories import login


@pytest.fixture
def en_client(client):
    """A browser that chose English, so messages can be checked by their text."""
    client.set_cookie("lang", "en")
    return client


def page(r) -> str:
    return r.get_data(as_text=True)


def test_page_lists_backups_with_their_result(en_client, world):
    """A verified encrypted backup and a failed one are listed with file, size, encryption and
    what went wrong."""
    db.session.add(BackupRun(kind="backup", started_at=utcnow(), finished_at=utcnow(), ok=True,
                             path="/var/backups/aixin/aixin-20261129-023000.sqlite3.enc",
                             size_bytes=3_047_557, encrypted=True,
                             message="ledger check: ok, no violations (300 households)"))
    db.session.add(BackupRun(kind="backup", started_at=utcnow(), finished_at=utcnow(), ok=False,
                             path="/mnt/usb/aixin-20261128-023000.sqlite3.failed",
                             message="writing /mnt/usb: No space left on device"))
    db.session.commit()
    login(en_client, "admin")
    r = en_client.get("/admin/backups")
    assert r.status_code == 200
    html = page(r)
    assert "aixin-20261129-023000.sqlite3.enc" in html and "2.9 MB" in html and "Encrypted" in html
    assert "Verified" in html and "ledger check: ok" in html
    assert "aixin-20261128-023000.sqlite3.failed" in html and "Failed" in html
    assert "No space left on device" in html
    assert "flask backup --passphrase-file" in html and "card key" in html
    assert 'id="backup-warning"' not in html  # the good one is minutes old


@pytest.mark.parametrize("user", ["staff", "cadre", "volunteer", "donor"])
def test_page_is_for_admins_only(client, world, user):
    """Every other role is refused the page and never sees the warning or the menu entry."""
    login(client, user)
    assert client.get("/admin/backups").status_code == 403
    home = page(client.get("/", follow_redirects=True))
    assert 'id="backup-warning"' not in home and "/admin/backups" not in home


def test_anonymous_is_sent_to_log_in(client, world):
    """Without a login the page redirects to the login page."""
    r = client.get("/admin/backups")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_warning_on_admin_pages_until_a_recent_good_backup(en_client, world, tmp_path):
    """No backup: the warning is on every admin page; a good one three days old: still warned,
    with its time; a fresh good one: gone. A failed run never counts."""
    login(en_client, "admin")
    for path in ("/", "/admin/regions", "/admin/users", "/households/"):
        html = page(en_client.get(path, follow_redirects=True))
        assert 'id="backup-warning"' in html and "No good backup has been made yet" in html, path
    db.session.add(BackupRun(kind="backup", started_at=utcnow() - timedelta(days=3),
                             finished_at=utcnow() - timedelta(days=3), ok=True, path="/x/a.sqlite3"))
    db.session.add(BackupRun(kind="backup", started_at=utcnow(), finished_at=utcnow(), ok=False,
                             path="/x/b.sqlite3.failed", message="ledger check: 1 violation(s)"))
    db.session.commit()
    html = page(en_client.get("/admin/regions"))
    assert "The last good backup was made" in html and "more than 48 hours ago" in html
    backups.make_backup(None, tmp_path / "copies")  # a real one, as the command makes it
    db.session.commit()
    assert 'id="backup-warning"' not in page(en_client.get("/admin/regions"))
