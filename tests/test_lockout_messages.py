"""The household's passbook lockout (card number + PIN, throttled) says how
long to wait, in the user's language, with a Retry-After header."""
import re


def test_passbook_lockout_says_how_long_to_wait(make_app, world):
    """After the allowed wrong PINs for a card, the page answers 429 saying in Chinese (then English)
    how many minutes to wait, with Retry-After in seconds, and a way back to the passbook."""
    app = make_app(PASSBOOK_FAILURES_PER_CARD="2 per 15 minutes")
    c = app.test_client()
    for _ in range(2):
        assert c.post("/passbook", data={"card_number": "1234567890", "pin": "111222"}).status_code == 200
    r = c.post("/passbook", data={"card_number": "1234567890", "pin": "111222"})
    assert r.status_code == 429
    seconds = int(r.headers["Retry-After"])
    assert 60 < seconds <= 15 * 60
    page = r.get_data(as_text=True)
    minutes = -(-seconds // 60)
    assert "卡号或积分存折 PIN 输错次数太多" in page and f"请 {minutes} 分钟后再试" in page
    assert 'href="/passbook"' in page
    c.get("/lang/en")
    page = c.post("/passbook", data={"card_number": "1234567890", "pin": "111222"}).get_data(as_text=True)
    assert re.search(r"Please try again in 1[45] minutes\.", page)


def test_login_lockout_over_the_api_says_how_long_to_wait(make_app, world):
    """The API's 429 carries the wait in its detail and in Retry-After, in the caller's language."""
    app = make_app(LOGIN_FAILURES_PER_USERNAME="1 per 15 minutes")
    c = app.test_client()
    assert c.post("/api/v1/auth/token", json={"username": "staff", "password": "wrong-one"}).status_code == 401
    r = c.post("/api/v1/auth/token", json={"username": "staff", "password": "wrong-one"},
               headers={"Accept-Language": "en"})
    assert r.status_code == 429 and r.get_json()["type"] == "rate-limited"
    assert int(r.headers["Retry-After"]) > 60
    assert re.search(r"Please try again in 1[45] minutes\.", r.get_json()["detail"])
