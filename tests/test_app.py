"""The application shell: health check, secret key, SQLite settings and what the logs may hold."""
import json
import logging
import stat
import threading
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.logs import _NoQuery
from app.models import Household
from tests.conftest import base_config
from tests.factories import PASSWORD, login

PHONE = "13812345678"
SEARCH = "王喆"


def test_healthz_without_login(client):
    """/healthz answers 200 {"status": "ok"} to anyone while the database answers."""
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_healthz_503_when_database_is_down(tmp_path):
    """/healthz answers 503 when the database cannot be reached."""
    app = create_app(base_config(f"sqlite:///{tmp_path}/missing/dir/aixin.db"), instance_path=str(tmp_path / "i"))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["status"] != "ok"
    with app.app_context():
        db.engine.dispose()


def no_secret_config(tmp_path) -> dict:
    config = base_config(f"sqlite:///{tmp_path}/aixin.db")
    del config["SECRET_KEY"]
    return config


def test_secret_key_generated_once_and_reused(tmp_path, monkeypatch):
    """Without SECRET_KEY a key is generated once in the instance folder (owner-only) and reused by later starts."""
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = create_app(no_secret_config(tmp_path), instance_path=str(instance))
    key_file = instance / "secret_key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 64
    second = create_app(no_secret_config(tmp_path), instance_path=str(instance))
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert [p.name for p in instance.iterdir() if p.name.startswith("secret_key")] == ["secret_key"]
    other = create_app(no_secret_config(tmp_path), instance_path=str(tmp_path / "elsewhere"))
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_session_survives_a_restart(make_app, world, tmp_path, monkeypatch):
    """A login made before a restart is still valid after it, because the generated key is kept."""
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    before = make_app(SECRET_KEY=None)
    client = before.test_client()
    assert login(client, "staff").status_code == 302
    after = make_app(SECRET_KEY=None)
    assert after.config["SECRET_KEY"] == before.config["SECRET_KEY"]
    cookie = client.get_cookie("session")
    restarted = after.test_client()
    restarted.set_cookie("session", cookie.value)
    assert restarted.get("/").status_code == 200


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path}/pragmas.db"), instance_path=str(tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_sqlite_pragmas(sqlite_app):
    """SQLite runs in WAL mode with foreign keys enforced and a busy timeout."""
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_enforced(app, world):
    """A household pointing at a village that does not exist is refused by the database itself."""
    db.session.add(Household(code="X1", village_id=987654, head_name="甲", members=1, tags=[], status="active",
                             balance=0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.fixture
def logs(caplog, monkeypatch):
    """Capture every log record. Running migrations in this process (alembic's fileConfig)
    disables loggers that existed before; switch ours back on so nothing escapes the check."""
    for name in ("werkzeug", "app"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    caplog.set_level(logging.DEBUG)
    return caplog


def all_logged(caplog) -> str:
    return "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text


def test_access_log_filter_drops_query_string():
    """The access-log filter removes the query string from werkzeug's request line, styled or not."""
    target = "/api/v1/households?q=%E7%8E%8B%E5%96%86&phone=" + PHONE
    for line in (f"GET {target} HTTP/1.1", f"\x1b[33mGET {target} HTTP/1.1\x1b[0m"):
        record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '127.0.0.1 - - "%s" %s %s',
                                   (line, "200", "-"), None)
        assert _NoQuery().filter(record) is True
        message = record.getMessage()
        assert "/api/v1/households" in message and "HTTP/1.1" in message and '" 200 -' in message
        assert "?" not in message and PHONE not in message and "%E7" not in message
    plain = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s %s", ("GET / HTTP/1.1", 200), None)
    assert _NoQuery().filter(plain) and plain.getMessage() == "GET / HTTP/1.1 200"


def test_served_requests_never_log_search_terms_or_phones(app, world, logs):
    """Serving real HTTP requests, the logs show the paths but never the `q` search term or a phone number."""
    token = world.token("staff")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        body = json.dumps({"village_id": world.v1.id, "head_name": "赵犇", "phone": PHONE}).encode()
        with urllib.request.urlopen(urllib.request.Request(base + "/api/v1/households", data=body,
                                                           headers=headers)) as r:
            assert r.status == 201
        query = urllib.parse.urlencode({"q": SEARCH, "phone": PHONE})
        for path in (f"/api/v1/households?{query}", f"/households/?{query}", f"/healthz?{query}"):
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as r:
                assert r.status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    logged = all_logged(logs)
    assert "/api/v1/households" in logged and "/healthz" in logged  # the access log was captured
    for secret in (PHONE, SEARCH, urllib.parse.quote(SEARCH), "赵犇"):
        assert secret not in logged, secret


def test_database_errors_are_logged_without_values(make_app, logs):
    """An unexpected database error answers 500 and is logged without the statement's values (no phones)."""
    app = make_app()

    @app.get("/boom")
    def boom():
        db.session.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": PHONE})

    r = app.test_client().get("/boom")
    assert r.status_code == 500
    logged = all_logged(logs)
    assert "no_such_table" in logged  # the error itself was logged
    assert PHONE not in logged


def test_login_page_logs_no_password(client, world, logs):
    """A failed and a good login leave neither password in the logs."""
    login(client, "staff", "wrong password!")
    login(client, "staff")
    logged = all_logged(logs)
    assert "POST /login" in logged  # the requests were logged
    assert "wrong password!" not in logged and PASSWORD not in logged
