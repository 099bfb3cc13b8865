"""Points: the rule catalogue, awards and deductions, what happens to an entry after."""
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from app.api.fields import (CLEAN, REQUIRED, WHOLE_NOTE, WHOLE_ONLY, Check, Day, OptionalText,
                            OptionalWhole, Text, YesNo, configured, refused_when)
from app.api.schemas.common import Date, Moment, UncountedPageQuery, list_of, page_of
from app.api.spec import Body, Schema
from app.models import ENTRY_KINDS, ENTRY_STATUSES
from app.services import validate
from app.services.points import awards, entries, rules
from app.services.validate import MAX_ID

# -- the catalogue ---------------------------------------------------------------------

CODE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{rules.CODE_MAX - 1}}}$"


def _code(errors, data, field):
    code = validate.text(errors, data, field, required=True, max_len=rules.CODE_MAX)
    if code is not None and not rules.CODE_RE.fullmatch(code.strip()):
        errors.add(field, _l("Use letters, digits and . _ - only (at most 32)."))
    return code


def _points(errors, data, field):
    points = validate.integer(errors, data, field, required=True, minimum=-rules.MAX_POINTS,
                              maximum=rules.MAX_POINTS)
    if points == 0:
        errors.add(field, _l("Must not be zero (negative for a deduction)."))
    return points


class RuleIn(Schema):
    """A rule, or the next version of its code: awards already made keep their value."""
    code: Annotated[str, Field(max_length=rules.CODE_MAX, pattern=CODE_PATTERN), Check(_code)]
    category: Text(rules.CATEGORY_MAX)
    name: Text(rules.NAME_MAX)
    points: Annotated[int, Field(ge=-rules.MAX_POINTS, le=rules.MAX_POINTS,
                                 description="Not zero; negative for a deduction.",
                                 json_schema_extra={"not": {"const": 0}}), Check(_points)]
    unit: OptionalText(rules.UNIT_MAX) = None
    cap_per_month: Annotated[OptionalWhole(1, rules.MAX_CAP_PER_MONTH), Field(
        description="Awards of the rule per household and calendar month; null: no cap.")] = None
    needs_evidence: YesNo() = None


class RuleOut(Body):
    code: str
    category: str
    name: str
    points: int
    unit: str | None
    cap_per_month: int | None
    needs_evidence: bool
    active: bool
    version: int
    id: int


RuleList = list_of(RuleOut, "RuleList")


# -- awards ----------------------------------------------------------------------------

RULE_CODE_RULE = ("no rule has this code or the rule is retired; a rule that needs evidence "
                  "without a photo is refused naming `evidence`")
OCCURRED_RULE = ("the date is in the future, or more than {POINTS_MAX_AGE_DAYS} days ago "
                 "(POINTS_MAX_AGE_DAYS, config)")
EVIDENCE_RULE = ("the rule needs a photo and none is sent, or the file is not a photo "
                 "(JPEG, PNG, WebP ...) or has more than {EVIDENCE_MAX_PIXELS} pixels "
                 "(EVIDENCE_MAX_PIXELS, config)")


def _rule_code(errors, data, field):
    """Needed; whether it names an active rule is the service's to say."""
    if data.get(field) is None or data.get(field) == "":
        errors.add(field, REQUIRED)
    return data.get(field)


HouseholdIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID, description=WHOLE_NOTE,
                              json_schema_extra=WHOLE_ONLY)]],
    Field(min_length=1, description="Households in the user's reach (any other: 404); "
                                    "a repeated id counts once."),
    configured(maxItems="POINTS_AWARD_MAX_HOUSEHOLDS"),
    Check(lambda errors, data, field: awards.household_ids_field(errors, data))]
RuleCode = Annotated[str, refused_when(RULE_CODE_RULE), Check(_rule_code)]
Note = OptionalText(awards.NOTE_MAX)


class AwardIn(Schema):
    """Award (or, by a rule with negative points, deduct) one rule's points to
    each household, all or none."""
    household_ids: HouseholdIds
    rule_code: RuleCode
    occurred_on: Day(OCCURRED_RULE)
    note: Note = None


class AwardForm(Schema):
    """The same as a form upload, with the evidence photo. Documentation only:
    the form is read into the JSON fields above and checked as they are."""
    household_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^\s*[1-9][0-9]{0,17}\s*$")]],
        Field(min_length=1, description="The field repeated, one id each (ids separated by "
                                        "commas are read too). A form holds at most "
                                        "MAX_FORM_PARTS fields (config): more is 413."),
        configured(maxItems="POINTS_AWARD_MAX_HOUSEHOLDS")]
    rule_code: Annotated[str, refused_when(RULE_CODE_RULE)]
    occurred_on: Annotated[str, Field(json_schema_extra={"format": "date"}),
                           refused_when(OCCURRED_RULE)]
    note: Annotated[str, Field(max_length=awards.NOTE_MAX, pattern=CLEAN)] = None
    evidence: Annotated[bytes, Field(json_schema_extra={"contentMediaType": "image/*"}),
                        refused_when(EVIDENCE_RULE)] = None


# -- entries ---------------------------------------------------------------------------

class EntryOut(Body):
    id: int
    household_id: int
    kind: Literal[tuple(ENTRY_KINDS)]
    points: int
    status: Literal[tuple(ENTRY_STATUSES)]
    rule_code: str | None
    rule_id: int | None
    note: str | None
    occurred_on: Date
    created_at: Moment | None
    created_by: int | None
    reversal_of: int | None
    reversed_by: int | None = Field(description="The reversal naming this entry, if any.")
    notice_ends_at: Moment | None
    posted_at: Moment | None
    needs_approval: bool
    approved_at: Moment | None
    objection_reason: str | None
    objector: str | None = Field(description="Who raised the objection (staff and cadres only).")
    decision_reason: str | None
    withdrawn: bool = Field(description="Cancelled by its author (or a cadre) while still on "
                                        "notice: a withdrawal, not a rejection.")
    evidence_id: int | None
    checkout_id: int | None


EntryList = list_of(EntryOut, "EntryList")
EntryPage = page_of(EntryOut, "EntryPage")


class ReasonIn(Schema):
    reason: Text(entries.REASON_MAX)


class ObjectionIn(Schema):
    reason: Text(entries.REASON_MAX) = Field(
        description="Why the entry is disputed; the household's passbook shows it.")
    objector: OptionalText(entries.OBJECTOR_MAX) = Field(
        None, description="Who raised the objection: seen by staff and cadres only, never on "
                          "the public notice, the passbook or an export.")


class DecisionIn(Schema):
    reason: OptionalText(entries.REASON_MAX) = Field(
        None, description="Why the objection is upheld or the award approved (optional).")


class LedgerQuery(UncountedPageQuery):
    """A household's entries, newest first."""
