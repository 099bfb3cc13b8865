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


# -- generated from the schemas ------------------------------------------------------------

def schemas(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]


def test_limits_are_the_services_numbers(client):
    """The limits the document states are the services' named constants."""
    from app.services.checkout import checkouts
    from app.services.goods import products
    from app.services.people import households
    from app.services.points import rules
    from app.services.validate import PHONE_RE

    s = schemas(client)
    assert s["CartLine"]["properties"]["quantity"]["maximum"] == checkouts.MAX_QUANTITY
    assert s["CheckoutIn"]["properties"]["lines"]["maxItems"] == checkouts.MAX_LINES
    points = s["RuleIn"]["properties"]["points"]
    assert (points["minimum"], points["maximum"], points["not"]) == \
        (-rules.MAX_POINTS, rules.MAX_POINTS, {"const": 0})
    cap = s["RuleIn"]["properties"]["cap_per_month"]["anyOf"][0]
    assert (cap["minimum"], cap["maximum"]) == (1, rules.MAX_CAP_PER_MONTH)
    assert s["HouseholdIn"]["properties"]["head_name"]["maxLength"] == households.HEAD_NAME_MAX
    members = s["HouseholdIn"]["properties"]["members"]["anyOf"][0]
    assert (members["minimum"], members["maximum"]) == \
        (households.MEMBERS_MIN, households.MEMBERS_MAX)
    assert s["HouseholdIn"]["properties"]["phone"]["anyOf"][0]["pattern"] == "^1[3-9][0-9]{9}$"
    assert PHONE_RE.pattern == r"1[3-9]\d{9}"
    assert s["ProductIn"]["properties"]["points_price"]["maximum"] == products.MAX_PRICE
    assert s["HouseholdIn"]["required"] == ["village_id", "head_name"]


def test_configured_limits_follow_the_deployment(make_app):
    """Limits that are configuration are the running app's: password length, page size. The
    household tags are an admin's to change, so the document names no fixed set but says so."""
    app = make_app(PASSWORD_MIN_LENGTH=12, PER_PAGE_MAX=100)
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    s = doc["components"]["schemas"]
    assert s["UserIn"]["properties"]["password"]["minLength"] == 12
    tags = s["HouseholdIn"]["properties"]["tags"]
    assert "enum" not in tags["anyOf"][0]["items"]
    assert "admin manages" in tags["x-refused-when"]
    per_page = next(p for p in doc["paths"]["/households"]["get"]["parameters"]
                    if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == 100


def test_rules_of_state_and_dates_are_marked(client):
    """What a schema cannot state (the database's state, today's date) is said in words and
    marked x-refused-when on the field; nothing else carries the mark."""
    s = schemas(client)
    occurred = s["AwardIn"]["properties"]["occurred_on"]
    assert "x-refused-when" in occurred and "future" in occurred["description"]
    assert "more than 30 days ago" in occurred["description"]  # POINTS_MAX_AGE_DAYS
    for model, field in (("AwardIn", "rule_code"), ("CheckoutIn", "lines"),
                         ("DonationIn", "donor_id"), ("DonationLineIn", "product_id"),
                         ("WriteoffIn", "product_id"), ("SupermarketIn", "region_id"),
                         ("UserIn", "username")):
        assert s[model]["properties"][field]["x-refused-when"], (model, field)
    for model, field in (("CartLine", "quantity"), ("HouseholdIn", "head_name"),
                         ("RuleIn", "points")):
        assert "x-refused-when" not in s[model]["properties"][field], (model, field)


def test_problems_are_documented_as_problem_json(client):
    """Every documented 4xx and 5xx answer is application/problem+json with the Problem schema."""
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, status)


def test_every_operation_names_its_act(client):
    """Each operation says the act it performs (from the policy table) and who may attempt it;
    only logging in, logging out, this document and the public pages' data (the trace read
    from a receipt, a supermarket's needs) name none."""
    from app.services.people import policy

    doc = client.get("/api/v1/openapi.json").get_json()
    without = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            act = op["x-act"]
            if act is None:
                without.add((method, path))
                continue
            assert act in policy.ACTS
            assert ", ".join(sorted(policy.ACTS[act])) in op["description"]
    assert without == {("post", "/auth/token"), ("delete", "/auth/token"), ("get", "/openapi.json"),
                       ("get", "/public/trace/{public_code}"),
                       ("get", "/supermarkets/{supermarket_id}/needs")}


def test_no_documentation_page_is_served(app, client):
    """Only the JSON document: no Swagger, Redoc or Scalar page (they load scripts from a CDN)."""
    assert not [r.rule for r in app.url_map.iter_rules() if "apidoc" in r.rule]
    assert client.get("/api/v1/apidoc/swagger/").status_code == 404


def test_bodies_that_may_be_left_out(client):
    """A body whose fields may all be left out may be left out itself (it is read as {})."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert paths["/products/{product_id}"]["patch"]["requestBody"]["required"] is False
    assert paths["/households/{household_id}"]["patch"]["requestBody"]["required"] is False
    assert paths["/households"]["post"]["requestBody"]["required"] is True


def test_the_document_loads_as_openapi_3_1(client):
    """Schemathesis reads every operation of the document without a schema error."""
    import schemathesis

    doc = client.get("/api/v1/openapi.json").get_json()
    operations = list(schemathesis.openapi.from_dict(doc).get_all_operations())
    assert all(result.ok() for result in operations)
    assert len(operations) == sum(len(item) for item in doc["paths"].values())
