"""The API tests run with API_CHECK_RESPONSES on: every answer that has a
schema is validated against it, so each test also proves the document
describes what it got."""
import pytest


@pytest.fixture
def make_app(make_app):
    def factory(**overrides):
        return make_app(**{"API_CHECK_RESPONSES": True, **overrides})
    return factory
