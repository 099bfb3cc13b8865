"""Helpers shared by the page forms."""
from flask import flash

from app.services.errors import ValidationError


def apply_errors(form, err: ValidationError) -> None:
    """Put a service's field errors back on the form; others become a flash."""
    for field, messages in err.errors.items():
        target = getattr(form, field, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [str(m) for m in messages]
        else:
            for message in messages:
                flash(str(message), "error")
