"""The rule catalogue (积分细则): versioned rules, retiring, the default
catalogue and spreadsheet import/export for the admin page."""
import csv
import re
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Rule, User, utcnow
from app.services import audit
from app.services.errors import Conflict, Errors, NotFound, ValidationError
from app.services.people import policy
from app.services.spreadsheets import export_table, read_table
from app.services.validate import integer, text

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[2] / "data" / "rules-zh.csv"
CODE_MAX = 32
CODE_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CODE_MAX - 1}}}")
CATEGORY_MAX = 50
NAME_MAX = 200
UNIT_MAX = 20
MAX_CAP_PER_MONTH = 1000
COLUMNS = ("code", "category", "name", "points", "unit", "cap_per_month", "needs_evidence")
EXPORT_COLUMNS = COLUMNS + ("active", "version")
# Headers an admin's own spreadsheet may use instead of ours.
HEADER_ALIASES = {
    "编码": "code", "代码": "code", "编号": "code",
    "类别": "category", "分类": "category",
    "名称": "name", "事项": "name", "内容": "name", "行为": "name",
    "分值": "points", "积分": "points",
    "单位": "unit", "计分单位": "unit",
    "每月上限": "cap_per_month", "月上限": "cap_per_month",
    "需要佐证": "needs_evidence", "需要照片": "needs_evidence", "佐证": "needs_evidence",
}
YES = {"yes", "y", "true", "1", "是", "需要", "✓"}
NO = {"no", "n", "false", "0", "否", "不需要", ""}
MAX_POINTS = 1000
# A catalogue is a few hundred rules; more in one file is a mistake.
MAX_IMPORT_ROWS = 2000


def latest_versions():
    """The newest version of each code (retired ones included)."""
    newest = (select(Rule.code, func.max(Rule.version).label("version"))
              .group_by(Rule.code).subquery())
    return (select(Rule)
            .join(newest, (Rule.code == newest.c.code) & (Rule.version == newest.c.version))
            .order_by(Rule.code))


def list_rules(*, include_retired: bool = True) -> list[Rule]:
    query = latest_versions()
    if not include_retired:
        query = query.where(Rule.active.is_(True))
    return list(db.session.scalars(query))


def current_rule(code) -> Rule | None:
    """The newest version of a rule code, or None."""
    if not isinstance(code, str) or not code:
        return None
    return db.session.scalars(
        select(Rule).where(Rule.code == code).order_by(Rule.version.desc()).limit(1)
    ).first()


def boolean_field(errors: Errors, data: dict, field: str) -> bool | None:
    value = data.get(field)
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in YES:
        return True
    if isinstance(value, str) and value.strip().lower() in NO:
        return False
    errors.add(field, _l("Must be yes or no."))
    return None


def validate_rule(data: dict) -> tuple[dict, Errors]:
    """Check the fields of a rule; returns the clean values and any errors."""
    errors = Errors()
    out = {}
    code = text(errors, data, "code", required=True, max_len=CODE_MAX)
    if code is not None:
        code = code.strip()
        if not CODE_RE.fullmatch(code):
            errors.add("code", _l("Use letters, digits and . _ - only (at most 32)."))
    out["code"] = code
    category = text(errors, data, "category", required=True, max_len=CATEGORY_MAX)
    out["category"] = category.strip() if category else category
    name = text(errors, data, "name", required=True, max_len=NAME_MAX)
    out["name"] = name.strip() if name else name
    points = integer(errors, data, "points", required=True, minimum=-MAX_POINTS, maximum=MAX_POINTS)
    if points == 0:
        errors.add("points", _l("Must not be zero (negative for a deduction)."))
    out["points"] = points
    unit = text(errors, data, "unit", required=False, max_len=UNIT_MAX)
    out["unit"] = unit.strip() if unit else None
    out["cap_per_month"] = integer(errors, data, "cap_per_month", required=False, minimum=1,
                                   maximum=MAX_CAP_PER_MONTH)
    out["needs_evidence"] = boolean_field(errors, data, "needs_evidence")
    return out, errors


def _add_version(actor: User | None, fields: dict) -> Rule:
    """Add the next version of fields['code'] (the first if the code is new)."""
    latest = current_rule(fields["code"])
    rule = Rule(**fields, version=(latest.version + 1) if latest else 1, active=True,
                created_by_id=actor.id if actor is not None else None, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(rule)
            db.session.flush()
    except IntegrityError:
        # Another admin added the same version at the same moment.
        raise Conflict(_l("This rule was changed at the same moment; please try again."))
    audit.record(actor, "rule.create" if latest is None else "rule.version", rule,
                 code=rule.code, version=rule.version, points=rule.points)
    return rule


def create_rule(actor: User | None, data: dict) -> Rule:
    """Add a rule, or a new version of an existing code: past awards keep their value."""
    if actor is not None:
        policy.require(actor, "rules.manage")
    fields, errors = validate_rule(data)
    errors.raise_if_any()
    return _add_version(actor, fields)


def retire_rule(actor: User | None, code: str) -> Rule:
    """Stop a rule from being awarded; its past entries stay as they are."""
    if actor is not None:
        policy.require(actor, "rules.manage")
    rule = current_rule(code)
    if rule is None:
        raise NotFound()
    if rule.active:
        rule.active = False
        rule.retired_at = utcnow()
        audit.record(actor, "rule.retire", rule, code=rule.code, version=rule.version)
    return rule


def _same(rule: Rule, fields: dict) -> bool:
    return all(getattr(rule, k) == v for k, v in fields.items() if k != "code")


def load_default_rules(actor: User | None = None) -> int:
    """Add the shipped catalogue's codes that are not in the database yet; returns how many."""
    with open(DEFAULT_CATALOGUE, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    added = 0
    for row in rows:
        if current_rule(row["code"]) is not None:
            continue
        fields, errors = validate_rule(row)
        errors.raise_if_any()
        _add_version(actor, fields)
        added += 1
    return added


def _rows_from_table(table: list[list]) -> list[dict]:
    header = []
    for cell in table[0]:
        name = str(cell).strip() if cell is not None else ""
        header.append(HEADER_ALIASES.get(name, name.lower()))
    missing = [c for c in ("code", "category", "name", "points") if c not in header]
    if missing:
        raise ValidationError({"file": [_l("Missing columns: %(columns)s", columns=", ".join(missing))]})
    rows = []
    for values in table[1:]:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = {}
        for name, value in zip(header, values):
            if name not in COLUMNS:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if name in ("code", "category", "name", "unit") and isinstance(value, int):
                value = str(value)
            row[name] = value.strip() if isinstance(value, str) else value
        rows.append(row)
    return rows


def import_rules(actor: User | None, filename: str, raw: bytes) -> dict:
    """Import a catalogue from .csv or .xlsx, all rows or none: new codes are
    added, changed rows become new versions, identical rows are left alone."""
    if actor is not None:
        policy.require(actor, "rules.manage")
    rows = _rows_from_table(read_table(raw, filename, max_rows=MAX_IMPORT_ROWS))
    errors = Errors()
    clean = []
    seen = {}
    for number, row in enumerate(rows, start=2):
        fields, row_errors = validate_rule(row)
        for field, messages in row_errors.errors.items():
            for message in messages:
                errors.add(f"rows.{number}.{field}", message)
        code = fields.get("code")
        if code and code in seen:
            errors.add(f"rows.{number}.code",
                       _l("The code %(code)s is also on row %(row)d.", code=code, row=seen[code]))
        elif code:
            seen[code] = number
        clean.append(fields)
    if not clean and not errors:
        errors.add("file", _l("The file has no rules."))
    errors.raise_if_any()
    summary = {"added": 0, "new_versions": 0, "unchanged": 0}
    for fields in clean:
        latest = current_rule(fields["code"])
        if latest is not None and _same(latest, fields):
            summary["unchanged"] += 1
            continue
        _add_version(actor, fields)
        summary["added" if latest is None else "new_versions"] += 1
    audit.record(actor, "rule.import", None, **summary)
    return summary


def _export_row(rule: Rule) -> list:
    return [rule.code, rule.category, rule.name, rule.points, rule.unit or "",
            rule.cap_per_month if rule.cap_per_month is not None else "",
            "yes" if rule.needs_evidence else "no", "yes" if rule.active else "no", rule.version]


def export_rules(fmt: str = "csv") -> tuple[bytes, str, str]:
    """The catalogue's newest versions as (content, mimetype, filename); CSV has
    a BOM so Excel opens the Chinese correctly."""
    rules = list_rules()
    return export_table("rules", EXPORT_COLUMNS, [_export_row(x) for x in rules], fmt)


# -- the admin's catalogue page -----------------------------------------------------

CHANGEABLE = ("category", "name", "points", "unit", "cap_per_month", "needs_evidence")


def rules_by_category(*, include_retired: bool = False) -> list[tuple[str, list[Rule]]]:
    """[(category, [rule, ...])]: categories in the order the catalogue first had
    them (as imported), deductions last; rules by code within each."""
    first_seen = dict(db.session.execute(
        select(Rule.code, func.min(Rule.id)).group_by(Rule.code)).all())
    groups: dict[str, list[Rule]] = {}
    for rule in list_rules(include_retired=include_retired):
        groups.setdefault(rule.category, []).append(rule)

    def order(item):
        category, rules = item
        return (all(r.points < 0 for r in rules), min(first_seen.get(r.code, r.id) for r in rules))

    return sorted(groups.items(), key=order)


def retired_rules() -> list[Rule]:
    return [r for r in list_rules() if not r.active]


def rule_versions(code: str) -> list[Rule]:
    """Every version of a code, newest first."""
    return list(db.session.scalars(
        select(Rule).where(Rule.code == code).order_by(Rule.version.desc())))


def change_rule(actor: User, code: str, data: dict) -> Rule | None:
    """A new version of an existing rule with these fields (past awards keep
    the points of their version); None when nothing differs from the newest."""
    policy.require(actor, "rules.manage")
    latest = current_rule(code)
    if latest is None:
        raise NotFound()
    fields, errors = validate_rule({**data, "code": latest.code})
    errors.raise_if_any()
    if latest.active and all(getattr(latest, k) == fields[k] for k in CHANGEABLE):
        return None
    return create_rule(actor, {**fields, "code": latest.code})
