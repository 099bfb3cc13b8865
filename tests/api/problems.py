"""Assertions shared by the API tests."""
from app.models import AuditRecord, Household, Region, Supermarket, User
from tests.factories import count


def assert_problem(r, status: int, slug: str, field: str | None = None) -> dict:
    """The response is an RFC 9457 problem of this status and type (naming `field`, if given)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.content_type == "application/problem+json"
    body = r.get_json()
    assert body["type"].rsplit("/", 1)[-1] == slug
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(m, str) and m for m in body["errors"][field])
    return body


def snapshot() -> dict:
    """Row counts of everything a refused request might have written."""
    return {m.__name__: count(m) for m in (Household, AuditRecord, Region, Supermarket, User)}
