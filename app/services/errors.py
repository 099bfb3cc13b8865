"""Domain errors: each carries a problem-type slug, an HTTP status and a
translatable message; the API renders them as problem+json, pages as form
errors or flashes."""
from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """`errors` maps a field to its messages; `households` maps a household id
    to why an act refused it (an award to many households refuses them all
    when one is refused); `extra` carries more for the client (the counter's
    stock levels)."""
    slug = "domain-error"
    status = 422
    title = _l("The request could not be carried out.")

    def __init__(self, detail=None, errors: dict | None = None, *,
                 households: dict[int, list] | None = None):
        super().__init__(str(detail or self.title))
        self.detail = detail or self.title
        self.errors = errors or {}
        self.households = households or {}
        self.extra: dict = {}

    def field_errors(self) -> dict[str, list]:
        """Field errors and refused households as one map ("households.<id>"),
        as the API answers them."""
        return {**self.errors, **{f"households.{hid}": msgs for hid, msgs in self.households.items()}}


class ValidationError(DomainError):
    slug = "validation-error"
    status = 422
    title = _l("Some fields are not valid.")

    def __init__(self, errors: dict, detail=None):
        super().__init__(detail or self.title, errors)


class NotFound(DomainError):
    slug = "not-found"
    status = 404
    title = _l("Not found.")


class Forbidden(DomainError):
    slug = "forbidden"
    status = 403
    title = _l("You are not allowed to do this.")


class Conflict(DomainError):
    slug = "conflict"
    status = 409
    title = _l("This conflicts with the current state.")


class Errors:
    """Collects field errors, then raises them all at once."""

    def __init__(self):
        self.errors: dict[str, list] = {}

    def add(self, field: str, message) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


class CapExceeded(DomainError):
    """An award would pass its rule's monthly cap for at least one household."""
    slug = "cap-exceeded"
    status = 422
    title = _l("This would pass the rule's monthly cap.")


class HouseholdInactive(DomainError):
    """The household has exited the programme."""
    slug = "household-inactive"
    status = 422
    title = _l("This household is no longer active.")


class InsufficientStock(DomainError):
    """Fewer units in stock than asked for; nothing was taken."""
    slug = "insufficient-stock"
    status = 409
    title = _l("There is not enough of this product in stock.")


class InsufficientPoints(DomainError):
    slug = "insufficient-points"
    status = 409
    title = _l("Not enough points for this cart.")


class LimitExceeded(DomainError):
    slug = "limit-exceeded"
    status = 422
    title = _l("This cart would pass the household's monthly limit.")
