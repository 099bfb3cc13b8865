"""Reports: the dashboard's figures, engagement, villages, trends, the
households that need a visit, and visits."""
from datetime import date
from typing import Annotated

from pydantic import Field

from app.api.fields import (Anything, Check, Choice, Day, Id, OptionalText, QueryId, Text,
                            refused_when)
from app.api.schemas.common import Date, Moment, PageQuery, list_of, page_of
from app.api.spec import Body, Schema
from app.services import validate
from app.models import FAIRNESS_KINDS, SUBJECT_TYPES
from app.services.reports import fairness, figures, visits
from app.services.reports.period import EARLIEST, LATEST, MAX_YEARS

RANGE_RULE = (f"`from` is after `to`, the range is longer than {MAX_YEARS} years, or a date "
              f"is outside {EARLIEST.isoformat()} to {LATEST.isoformat()}")


def _range_day(name: str):
    """`from` or `to` (a Python keyword, hence the alias): errors under its own name."""
    def check(errors, data, field):
        return validate.day(errors, {name: data.get(field)}, name)
    return Annotated[date | None, Field(alias=name), refused_when(RANGE_RULE), Check(check)]


RegionId = Annotated[QueryId(), Field(description="A region at any level in the user's reach "
                                                  "(else 404); default: all of it.")]


class RangeQuery(Schema):
    """?region_id=&from=&to=: inclusive local dates; default the 30 days up to today."""
    region_id: RegionId = None
    from_: _range_day("from") = None
    to: _range_day("to") = None


Format = Annotated[Choice(("json", "csv", "xlsx"), optional=True), Field(
    description="csv (UTF-8 with BOM) or xlsx: every row matching the filters as a file, "
                "headers in the user's language; default JSON.")]


class ExportableRange(RangeQuery):
    format: Format = None


class TrendQuery(ExportableRange):
    """As RangeQuery; the default range is the 12 calendar months up to this one."""


class ListQuery(PageQuery):
    region_id: RegionId = None
    format: Format = None
    village_id: Annotated[QueryId(), Field(description="A village in the user's reach "
                                                       "(else 404).")] = None
    tag: Annotated[Anything({"type": "string"}), refused_when(
        "the tag is not one of the deployment's household tags")] = None


class EngagementQuery(ListQuery):
    from_: _range_day("from") = None
    to: _range_day("to") = None
    sort: Annotated[Anything({"enum": list(figures.SORTS)}), refused_when(
        "not one of the listed orders"), Field(description="Default -earned; ties by id.")] = None


class InactiveQuery(ListQuery):
    months: Annotated[Anything({"type": "integer", "minimum": visits.MONTHS_MIN,
                                "maximum": visits.MONTHS_MAX}), refused_when(
        f"not a whole number from {visits.MONTHS_MIN} to {visits.MONTHS_MAX}"),
        Field(description=f"Default {visits.MONTHS_DEFAULT}.")] = None


class SinceStart(Body):
    checkouts: int
    households_redeeming: int


class SummaryOut(Body):
    """The dashboard's figures; `since_start` ignores the range (累计兑换 N 户、M 次)."""
    households: int
    participating_households: int
    participation_rate: float | None
    points_awarded: int
    points_deducted: int = Field(description="A positive number.")
    points_redeemed: int
    checkouts: int
    households_redeeming: int
    donations: int
    goods_in: int
    goods_out: int
    since_start: SinceStart


class EngagementRow(Body):
    household_id: int
    code: str
    head_name: str
    village_id: int
    status: str
    earned: int
    deducted: int
    redeemed: int
    awards: int
    last_award_on: Date | None
    last_redeemed_on: Date | None
    balance: int
    by_category: dict[str, int] = Field(description="Points by rule category in the range; "
                                                    "deductions count negative.")


class VillageRow(Body):
    village_id: int
    name: str
    households: int
    participating_households: int
    participation_rate: float | None
    points_awarded: int
    points_deducted: int
    points_redeemed: int
    checkouts: int
    awarded_per_household: float | None
    rank: int


class TrendRow(Body):
    month: str = Field(description="YYYY-MM")
    points_awarded: int
    points_deducted: int
    points_redeemed: int
    checkouts: int
    participating_households: int
    by_category: dict[str, int]


class InactiveRow(Body):
    household_id: int
    code: str
    head_name: str
    village_id: int
    tags: list[str]
    created_on: Date
    last_award_on: Date | None
    last_redeemed_on: Date | None
    last_visit_on: Date | None
    balance: int


class VisitIn(Schema):
    visited_on: Day(f"the date is in the future or more than {visits.VISIT_MAX_AGE_DAYS} "
                    "days ago")
    note: OptionalText(visits.NOTE_MAX) = None


class VisitOut(Body):
    id: int
    household_id: int
    visited_on: Date
    note: str | None
    created_by: str | None
    created_at: Moment


EngagementPage = page_of(EngagementRow, "EngagementPage")
InactivePage = page_of(InactiveRow, "InactivePage")
VillageList = list_of(VillageRow, "VillageList")
TrendList = list_of(TrendRow, "TrendList")


class FairnessSubject(Body):
    type: str = Field(description="user, village or household")
    id: int
    name: str


class Explained(Body):
    note: str
    by: str | None
    at: Moment
    from_: Date = Field(alias="from", description="The range the note was written for.")
    to: Date


class FairnessFlag(Body):
    kind: str = Field(description=", ".join(FAIRNESS_KINDS))
    subject: FairnessSubject
    value: float = Field(description="A fraction from 0 to 1, rounded to 3 places.")
    threshold: float
    explanation: str = Field(description="One sentence in the user's language.")
    entry_count: int
    entry_ids: list[int] = Field(description="At most 100, newest first; checkout ids for no-card.")
    explained: Explained | None


FairnessList = list_of(FairnessFlag, "FairnessList")


class ExplanationIn(Schema):
    kind: Choice(FAIRNESS_KINDS)
    subject_type: Choice(SUBJECT_TYPES)
    subject_id: Annotated[Id(), Field(description="In the user's reach (else 404).")]
    from_: _range_day("from") = None
    to: _range_day("to") = None
    note: Text(fairness.NOTE_MAX)


class ExplanationOut(Body):
    id: int
    kind: str
    subject_type: str
    subject_id: int
    from_: Date = Field(alias="from")
    to: Date
    note: str
    by: str | None
    at: Moment
