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
