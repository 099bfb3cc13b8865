"""The request boundary: one unit of work per request, for the pages as for
the API (the way indico's request handler does it). Services flush and
never commit; views and API handlers never commit either:

- every audit record a request writes carries the client's address (as
  the app sees it, after ProxyFix when a proxy is trusted);
- before a request that may read or spend a balance, entries whose notice
  has ended are posted (the ledger writer does it, in a short transaction of
  its own), so nothing ever reads a balance that is due to change;
- after the request, a successful answer (status below 400) commits what the
  request wrote, anything else rolls it back; a commit that finds the database
  gone or locked past DATABASE_LOCK_TIMEOUT answers 503 (app.errors); an exception rolls back in the
  error handlers (app/errors.py) before the error page is drawn;
- a page that shows a refusal on its own form uses `attempt()`: the refusal
  rolls back what the act wrote, and the page goes on with a clean session.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g, request

from app import errors, security
from app.database import SAFE_METHODS
from app.extensions import db
from app.models import utcnow
from app.services import audit
from app.services.errors import DomainError
from app.services.ledger import writer

# Requests that never read a balance: no need to post what is due first (and
# they work while the database is down: the 503 page can switch language).
NO_POSTING = {None, "static", "main.healthz", "main.set_language"}
# Checkouts read and spend one household's balance, and post what is due for
# it themselves, under the household's lock (the ledger writer's debit asks):
# the counter's busiest request need not ask for the whole county first.
POSTS_ITS_OWN = {"api.create_checkout", "counter.api_checkout"}


class Refusal:
    """What `attempt()` caught: the domain's refusal, or nothing."""

    error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def attempt(*kinds: type[DomainError]) -> Iterator[Refusal]:
    """Run a service act whose refusals of these kinds (any, by default) the
    page shows itself, on a form or in a flash: the refusal is caught, what
    the act wrote is rolled back, and `refusal.error` holds it. Other
    refusals reach the error handlers as usual."""
    refusal = Refusal()
    try:
        yield refusal
    except kinds or DomainError as err:
        db.session.rollback()
        refusal.error = err


def init_app(app: Flask) -> None:
    @app.before_request
    def note_client_address():
        """Every audit record this request writes carries the client's address."""
        g.audit_address = audit.note_client_address(request.remote_addr)

    @app.before_request
    def post_due_before_request():
        """A cheap indexed check, and when something is due, post it in its
        own short write transaction (so a GET on SQLite never has to upgrade
        its read transaction)."""
        if request.endpoint in NO_POSTING or request.endpoint in POSTS_ITS_OWN:
            return
        if db.session().in_transaction():
            # A session carried over from an earlier request in the same app
            # context (the test client does this) may hold SQLite's write lock,
            # which our own connection below would wait for. Each request
            # normally starts with a fresh session, so this never runs in production.
            db.session.commit()
        now = utcnow()
        if request.method in SAFE_METHODS:
            with db.engine.connect() as conn:
                due = writer.anything_due(conn, now)
        else:
            # A write request takes the write lock for its own transaction
            # anyway (BEGIN IMMEDIATE on SQLite): ask there, rather than take
            # and wait for the lock twice on a second connection.
            due = writer.anything_due(db.session.connection(), now)
            if due:
                db.session.commit()  # let the posting below take the lock
        if due:
            with db.engine.connect().execution_options(aixin_write=True) as conn, conn.begin():
                writer.post_due_on(conn, now)

    @app.after_request
    def end_unit_of_work(response):
        """Commit a successful request's writes; roll back anything else. A
        commit that meets the database gone or a lock held past its timeout
        (PostgreSQL writes at the flush) answers 503 instead of the success."""
        if db.session().in_transaction():
            if response.status_code < 400:
                try:
                    db.session.commit()
                except Exception as err:
                    if not errors.database_unavailable(err):
                        raise
                    return security.secure(errors.unavailable())
            else:
                db.session.rollback()
        return response

    @app.teardown_request
    def forget(_exc):
        token = g.pop("audit_address", None)
        if token is not None:
            audit.forget_client_address(token)
