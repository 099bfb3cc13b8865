"""The request boundary: one unit of work per request (commit on success, roll back
otherwise) and one error negotiation (problem+json or a page), for pages and API alike."""
import re
from pathlib import Path

import pytest
from flask import Blueprint
from sqlalchemy import func, select

from app.boundary import attempt
from app.errors import json_view
from app.extensions import db
from app.models import AuditRecord
from app.services import audit
from app.services.errors import Conflict, ValidationError

ROOT = Path(__file__).resolve().parents[2]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def written() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "test.write"))


@pytest.fixture
def probe(make_app):
    """An app with a few routes that write an audit record, then answer in different ways."""
    app = make_app()
    bp = Blueprint("probe", __name__)

    def write():
        audit.record_ref(None, "test.write", "system", None)

    @bp.post("/ok")
    def ok():
        write()
        return "done"

    @bp.post("/refused")
    def refused():
        write()
        raise Conflict("no")

    @bp.post("/crash")
    def crash():
        write()
        raise RuntimeError("boom")

    @bp.post("/unprocessable")
    def unprocessable():
        write()
        return "bad", 422

    @bp.post("/shown")
    def shown():
        with attempt(ValidationError) as refusal:
            write()
            raise ValidationError({"name": ["required"]})
        return f"shown: {refusal.error.errors['name'][0]}"

    @bp.post("/fetch")
    @json_view
    def fetch():
        raise Conflict("taken")

    app.register_blueprint(bp, url_prefix="/probe")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        yield app


def test_a_successful_request_commits_once_at_its_end(probe):
    """A view that writes and answers 200 has its write committed without committing itself."""
    assert probe.test_client().post("/probe/ok").status_code == 200
    assert written() == 1


@pytest.mark.parametrize("path,status", [("/probe/refused", 409), ("/probe/crash", 500),
                                         ("/probe/unprocessable", 422)])
def test_a_refused_or_failed_request_writes_nothing(probe, path, status):
    """A refusal, an unexpected error or a 4xx answer rolls back what the request wrote."""
    assert probe.test_client().post(path, headers=BROWSER).status_code == status
    assert written() == 0


def test_a_refusal_shown_on_the_page_is_rolled_back(probe):
    """attempt(): the page shows the refusal with 200, and what the act wrote is undone."""
    r = probe.test_client().post("/probe/shown")
    assert r.status_code == 200 and r.get_data(as_text=True) == "shown: required"
    assert written() == 0


def test_browsers_get_a_page_json_clients_a_problem(probe):
    """The same refusal is a page in Chinese for a browser and problem+json for a JSON client."""
    client = probe.test_client()
    page = client.post("/probe/refused", headers=BROWSER)
    assert page.status_code == 409 and page.content_type.startswith("text/html")
    assert "no" in page.get_data(as_text=True)
    api = client.post("/probe/refused", headers={"Accept": "application/json"})
    assert api.status_code == 409 and api.content_type == "application/problem+json"
    assert api.get_json() | {} == {"type": "conflict", "title": api.get_json()["title"], "status": 409,
                                   "detail": "no"}


def test_a_json_view_and_the_api_always_answer_json(probe):
    """A page's fetch endpoint (json_view) and /api/v1 answer problem+json even to a browser's Accept."""
    client = probe.test_client()
    r = client.post("/probe/fetch", headers=BROWSER)
    assert r.status_code == 409 and r.get_json()["type"] == "conflict"
    r = client.get("/api/v1/households/1", headers=BROWSER)
    assert r.status_code == 401 and r.get_json()["type"] == "unauthorized"
    r = client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert r.status_code == 404 and r.get_json()["type"] == "not-found"


def test_a_guest_is_sent_to_log_in_or_told_401(probe):
    """A page needs a login: a browser is sent to the login page, a JSON client gets 401."""
    client = probe.test_client()
    r = client.get("/households/", headers=BROWSER)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.get("/households/", headers={"Accept": "application/json"})
    assert r.status_code == 401 and r.get_json()["type"] == "unauthorized"


def test_an_unexpected_error_is_a_500_problem_without_details(probe):
    """An unexpected error tells a JSON client only that it happened (type internal-error)."""
    r = probe.test_client().post("/probe/crash", headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.get_json()["type"] == "internal-error"
    assert "boom" not in r.get_data(as_text=True)


CALL = re.compile(r"\bsession\.(commit|rollback)\(\)")
# Where a transaction may end: the request boundary, the error handlers, the
# command-line commands (app/cli.py and app/*_cli.py: each command commits once,
# or once a batch), and the SQLite engine set-up. Backups and restores work on
# the whole database from the command line only, never inside a request: they
# end their own reads so that no transaction of theirs is open while the copy
# is taken or put back.
ENDS_HERE = {"app/boundary.py", "app/errors.py", "app/cli.py", "app/demo/__init__.py",
             "app/api/idempotency.py", "app/services/safekeeping/backups.py"}


def test_views_services_and_api_handlers_never_commit():
    """No page, API handler or service commits or rolls back: the request boundary does."""
    found = []
    for path in (ROOT / "app").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ENDS_HERE or (rel.startswith("app/") and rel.count("/") == 1 and rel.endswith("_cli.py")):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if CALL.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []
