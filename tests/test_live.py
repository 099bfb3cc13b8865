"""The live-server fixture serves the test's own database."""
import json
import urllib.request

from tests.factories import PASSWORD


def test_live_server_sees_test_data(world, live):
    """A token issued through a live server works against the world built in the test."""
    with live() as base:
        req = urllib.request.Request(base + "/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": "staff", "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201
            token = json.load(r)["token"]
        req = urllib.request.Request(base + "/api/v1/households", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            names = {h["head_name"] for h in json.load(r)["items"]}
    assert names == {"杜玉梅", "王喆"}
