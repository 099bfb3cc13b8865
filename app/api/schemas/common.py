"""Shapes shared by every resource: pagination, lists, dates and times."""
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, create_model

from app.api.fields import Page, PerPage
from app.api.spec import Body, Schema

# Lists whose service pages without first counting (the ledger, write-offs):
# a page so far out that its offset would overflow the database's integer is refused.
UNCOUNTED_PAGE_MAX = 10**12

Moment = Annotated[datetime, Field(description="ISO 8601 with offset.")]
Date = Annotated[date, Field(description="YYYY-MM-DD, in the deployment's time zone.")]


class PageQuery(Schema):
    """?page=&per_page= of a paginated list."""
    page: Page() = 1
    per_page: PerPage() = None


class UncountedPageQuery(Schema):
    page: Page(UNCOUNTED_PAGE_MAX) = 1
    per_page: PerPage() = None


def page_of(item: type[Body], name: str) -> type[Body]:
    """The paginated list of `item`: {items, page, per_page, total}."""
    return create_model(name, __base__=Body, __doc__=f"A page of {item.__name__} items.",
                        items=(list[item], ...), page=(int, ...), per_page=(int, ...),
                        total=(int, Field(description="All items matching, on every page.")))


def list_of(item: type[Body], name: str) -> type[Body]:
    """{items: [...]}, not paginated."""
    return create_model(name, __base__=Body, __doc__=f"{item.__name__} items.",
                        items=(list[item], ...))
