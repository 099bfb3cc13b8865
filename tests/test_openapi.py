"""The OpenAPI document covers the whole API."""
import re

PREFIX = "/api/v1"
AUTO_METHODS = {"HEAD", "OPTIONS"}


def api_operations(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/v1, Flask converters written as {name}."""
    ops = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in rule.methods - AUTO_METHODS:
            ops.add((method.lower(), path))
    return ops


def test_openapi_is_3_1_and_public(client):
    """GET /api/v1/openapi.json answers without a login, an OpenAPI 3.1.x document."""
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.content_type.startswith("application/json")
    doc = r.get_json()
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_api_route_is_documented(app, client):
    """Every method and path served under /api/v1 appears in the OpenAPI document."""
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    served = api_operations(app)
    assert ("get", "/households/{household_id}") in served  # the converter mapping works
    assert served - documented == set()


def test_documented_paths_exist(app, client):
    """Nothing is documented that the API does not serve."""
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    assert documented - api_operations(app) == set()


def test_path_parameters_are_declared(client):
    """Each {name} in a documented path is declared as a path parameter of its operations."""
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = op.get("parameters", []) + item.get("parameters", [])
            declared = {p["name"] for p in params if p.get("in") == "path"}
            assert names <= declared, (method, path)
