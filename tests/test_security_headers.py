"""Security headers: a strict content policy, no framing, no sniffing."""


def test_pages_and_api_carry_security_headers(client):
    """Every answer forbids inline scripts, framing and MIME sniffing."""
    for path in ("/login", "/healthz", "/api/v1/openapi.json"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_hsts_only_when_served_over_https(make_app):
    """A village LAN on plain HTTP must not be told to use HTTPS; an HTTPS deployment is."""
    assert "Strict-Transport-Security" not in make_app().test_client().get("/login").headers
    secure = make_app(HTTPS=True)
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    assert "Strict-Transport-Security" in secure.test_client().get("/login").headers


def test_hsts_follows_the_flask_https_variable(make_app, monkeypatch):
    """FLASK_HTTPS=true in the environment (as the README's HTTPS set-ups do) turns HSTS on."""
    monkeypatch.setenv("FLASK_HTTPS", "true")
    r = make_app().test_client().get("/login")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_personal_pages_are_never_stored(client, world):
    """Every page of a logged-in user, the API, the login page and the household's passbook say
    no-store, so a shared tablet's back button or a proxy keeps no one's data."""
    from tests.factories import login

    assert client.get("/login").headers["Cache-Control"] == "no-store"
    assert client.get("/passbook").headers["Cache-Control"] == "no-store"
    r = client.get("/api/v1/households", headers=world.headers("staff"))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    login(client, "staff")
    for path in ("/", "/households/", f"/households/{world.households['v1a'].id}"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", path


def test_the_public_notice_may_be_kept_a_minute_by_anonymous_visitors(client, world):
    """The village notice (public, masked names) may be cached briefly, per language cookie; shown
    to a logged-in user (whose name is in the menu) it is not stored. Static files keep their own rules."""
    from tests.factories import login

    r = client.get(f"/notice/{world.v1.id}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=60"
    assert "Cookie" in r.headers["Vary"]
    login(client, "staff")
    assert client.get(f"/notice/{world.v1.id}").headers["Cache-Control"] == "no-store"
    static = client.get("/static/css/app.css")
    static.close()
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_the_server_banner_names_no_version(world, live):
    """Werkzeug's server (flask run, as a village may run it) would say `Werkzeug/3.1 Python/3.11`;
    the app lets it say `Werkzeug` only. (gunicorn says `gunicorn`, without a version, by itself.)"""
    import re
    import urllib.request

    with live() as base, urllib.request.urlopen(base + "/healthz") as r:
        server = r.headers["Server"]
    assert server == "Werkzeug" and not re.search(r"\d", server)
