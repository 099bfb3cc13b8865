"""Helpers shared by the page forms."""
from flask import flash

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
