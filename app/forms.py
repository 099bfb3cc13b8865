"""Helpers shared by the pages: refusals back on forms, list pages' arguments."""
from flask import current_app, flash, request

from app.services.errors import DomainError


def apply_errors(form, err: DomainError) -> None:
    """Put a refusal's field errors back on the form; other messages (and a
    refusal without field errors) become a flash."""
    for field, messages in err.errors.items():
        target = getattr(form, field, None) if form is not None else None
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [str(m) for m in messages]
        else:
            for message in messages:
                flash(str(message), "error")
    if not err.errors:
        flash(str(err.detail), "error")


def flash_refusal(err: DomainError) -> None:
    """Every message of a refusal as a flash (for a page that redirects)."""
    messages = [str(m) for values in err.field_errors().values() for m in values]
    for message in messages or [str(err.detail)]:
        flash(message, "error")


# Beyond any list's last page (50 million rows at 50 a page), and small enough
# that its offset fits the database's 64-bit integers: ?page=10**23 is an empty
# page, not an overflow.
MAX_PAGE = 1_000_000


def page_number() -> int:
    """?page=, from 1."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def list_args(q_max: int = 100) -> tuple[int, int, str]:
    """A list page's page number, page size and search text, from the query string."""
    return page_number(), current_app.config["PER_PAGE_DEFAULT"], \
        (request.args.get("q") or "").strip()[:q_max]
