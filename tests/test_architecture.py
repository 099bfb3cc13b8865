"""The layers stay layers: the domain knows nothing of the web, nothing imports
upward, and each domain package says what it owns (docs/architecture.md)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
SERVICES = APP / "services"
WEB = ("app.api", "app.admin", "app.auth", "app.counter", "app.goods", "app.households",
       "app.main", "app.points", "app.public", "app.boundary", "app.errors", "app.forms", "app.demo")


def imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every import in a file (name '' for `import x`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
    return out


def test_the_domain_does_not_know_the_web():
    """No service imports flask's request, g or session, a blueprint, the API or the request
    boundary: the web layer passes in what a service needs."""
    found = []
    for path in SERVICES.rglob("*.py"):
        for module, name in imports(path):
            if module == "flask" and name in ("request", "g", "session", "has_request_context"):
                found.append(f"{path.relative_to(ROOT)}: flask.{name}")
            if module.startswith(WEB):
                found.append(f"{path.relative_to(ROOT)}: {module}")
    assert found == []


def test_every_domain_package_says_what_it_owns():
    """app/services and each of its packages open with a docstring."""
    for init in [SERVICES / "__init__.py", *SERVICES.glob("*/__init__.py")]:
        assert ast.get_docstring(ast.parse(init.read_text())), init.relative_to(ROOT)


def test_the_check_modules_do_not_import_each_other():
    """The invariant checks of each domain stand alone; app.services.invariants runs them all."""
    checks = {"app.services.ledger.check", "app.services.goods.check", "app.services.checkout.check"}
    for module in checks:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert not {m for m, _ in imports(path)} & checks, module


def test_pages_and_api_handlers_leave_writing_to_services():
    """Views and API handlers never write a model themselves: no session.add or delete there."""
    found = []
    for package in ("api", "admin", "auth", "counter", "goods", "households", "main", "points", "public"):
        for path in (APP / package).rglob("*.py"):
            if path.name == "idempotency.py":  # the API's own store of answers, not a handler
                continue
            text = path.read_text()
            for word in ("session.add(", "session.add_all(", "session.delete(", "session.execute(insert",
                         "session.execute(update", "session.execute(delete"):
                if word in text:
                    found.append(f"{path.relative_to(ROOT)}: {word}")
    assert found == []
