"""Import a household register (建档立卡 花名册) from .xlsx or .csv.

Two steps: `parse_register` reads a file into a `Sheet` holding only the
columns the register keeps (ID-card numbers and every other column are dropped
as the file is read, and never reach the database or the disk), then
`preview_import` checks each row against the acting user's villages and the
register; `import_households` writes the good rows."""
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Household, Region, User, utcnow
from app.services import audit
from app.services.errors import Errors, ValidationError
from app.services.people.households import reserve_codes, validate_fields
from app.services.people import policy
from app.services.people.scope import visible_villages, writable_village
from app.services.spreadsheets import csv_rows, file_error, reading_workbook

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# Rows scanned for the header line (a title such as "XX村建档立卡户花名册" may sit above it).
HEADER_SCAN = 10
# Rows read at most, blank ones included, so a sparse sheet cannot keep us busy.
MAX_SCANNED = 100_000
MAX_COLUMNS = 100

# Header aliases per field, best first. Compared after `_norm_header`.
COLUMNS = {
    "head_name": ("户主姓名", "户主", "姓名", "head_name"),
    "members": ("家庭人口", "家庭人口数", "人口", "人口数", "members"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "phone"),
    "village": ("所在村", "村", "村名", "行政村", "village"),
    "township": ("所在乡镇", "乡镇", "乡(镇)", "township"),
    "address": ("家庭住址", "住址", "地址", "address"),
    "household_type": ("户类型", "household_type"),
    "tags": ("标签", "tags"),
}
# 户类型 as the 建档立卡 registers write it, to the register's tags.
HOUSEHOLD_TYPES = {
    "一般贫困户": ["建档立卡"],
    "脱贫监测户": ["监测户"],
    "低保贫困户": ["建档立卡", "低保"],
    "特困供养贫困户": ["建档立卡", "五保"],
    "边缘易致贫户": ["边缘户"],
}
TAG_SPLIT = re.compile(r"[,，、;；/]")


def _norm_header(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s*:]", "", value).lower()


_ALIASES = {_norm_header(alias): (fld, rank)
            for fld, aliases in COLUMNS.items() for rank, alias in enumerate(aliases)}


@dataclass
class Record:
    """One data row of the file: its row number there and the kept cells, as text."""
    line: int
    values: dict


@dataclass
class Sheet:
    """What is kept of an uploaded register: recognised columns only."""
    filename: str
    columns: dict              # field -> header as written in the file
    dropped: list              # headers of the columns ignored
    records: list = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"filename": self.filename, "columns": self.columns, "dropped": self.dropped,
                           "records": [[r.line, r.values] for r in self.records]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Sheet":
        data = json.loads(text)
        return cls(data["filename"], data["columns"], data["dropped"],
                   [Record(line, values) for line, values in data["records"]])


@dataclass
class PreviewRow:
    line: int
    values: dict               # the cells as read, for display
    fields: dict               # validated values for create_household
    village: Region | None
    errors: dict               # field -> [message]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Preview:
    sheet: Sheet
    rows: list

    @property
    def good(self) -> int:
        return sum(1 for r in self.rows if r.ok)

    @property
    def bad(self) -> int:
        return len(self.rows) - self.good

    @property
    def summary(self) -> dict:
        return {"rows": len(self.rows), "good": self.good, "bad": self.bad,
                "columns": dict(self.sheet.columns), "dropped": list(self.sheet.dropped)}




# Reading the file -------------------------------------------------------------

def _cell_text(value) -> str | None:
    """A cell as text: numbers without a spurious '.0', blanks as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def _xlsx_rows(data: bytes):
    with reading_workbook(data) as workbook:
        first = None
        for sheet in workbook.worksheets:
            rows = list(_take(sheet.iter_rows(max_col=MAX_COLUMNS, max_row=MAX_SCANNED + 1,
                                              values_only=True)))
            # The register is the first sheet with a head-name header (else the first sheet).
            if _find_header(rows) is not None:
                return rows
            first = rows if first is None else first
        return first or []


def _take(rows):
    """Rows until the data-row limit is passed (checked later) or the scan limit is reached."""
    data_rows = 0
    for n, row in enumerate(rows, start=1):
        if n > MAX_SCANNED:
            raise file_error(_l("The file has more than %(n)d rows; split it into smaller files.", n=MAX_ROWS))
        if any(c is not None and str(c).strip() for c in row):
            data_rows += 1
            if data_rows > MAX_ROWS + HEADER_SCAN:
                raise file_error(_l("The file has more than %(n)d rows; split it into smaller files.", n=MAX_ROWS))
        yield row


def _csv_rows(data: bytes):
    return [tuple(r) for r in _take(csv_rows(data))]


def _find_header(rows) -> int | None:
    for i, row in enumerate(rows[:HEADER_SCAN]):
        for cell in row:
            text = _cell_text(cell)
            if text and _ALIASES.get(_norm_header(text), ("",))[0] == "head_name":
                return i
    return None


def _map_header(header) -> tuple[dict, list]:
    """Column index per kept field (best alias wins), and the headers dropped."""
    best: dict[str, tuple[int, int]] = {}
    for index, cell in enumerate(header):
        text = _cell_text(cell)
        if text is None:
            continue
        fld, rank = _ALIASES.get(_norm_header(text), (None, None))
        if fld is not None and (fld not in best or rank < best[fld][1]):
            best[fld] = (index, rank)
    kept = {index for index, _ in best.values()}
    dropped = [_cell_text(c) for i, c in enumerate(header) if i not in kept and _cell_text(c)]
    return {fld: index for fld, (index, _) in best.items()}, dropped


def parse_register(data: bytes, filename: str) -> Sheet:
    """Read an uploaded register, keeping only the columns the register stores."""
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if len(data) > MAX_BYTES:
        raise file_error(_l("The file is larger than %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024)))
    if data.startswith(b"\xd0\xcf\x11\xe0") or extension == "xls":
        raise file_error(_l("This is an old Excel (.xls) file: save it as .xlsx and upload it again."))
    if extension not in ("xlsx", "csv"):
        raise file_error(_l("Upload an .xlsx or .csv file."))
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise file_error(_l("The file is empty."))
    # Trust the content over the name: Excel files are zip archives.
    rows = _xlsx_rows(data) if data.startswith(b"PK\x03\x04") else _csv_rows(data)
    if not any(_cell_text(c) for row in rows for c in row):
        raise file_error(_l("The file is empty."))
    header_at = _find_header(rows)
    if header_at is None:
        raise file_error(_l("No column for the head of household (户主姓名) was found in the first rows."))
    indexes, dropped = _map_header(rows[header_at])
    columns = {fld: _cell_text(rows[header_at][i]) for fld, i in indexes.items()}
    sheet = Sheet(filename, columns, dropped)
    for number, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        values = {fld: _cell_text(row[i]) if i < len(row) else None for fld, i in indexes.items()}
        if any(v is not None for v in values.values()):
            sheet.records.append(Record(number, values))
    if not sheet.records:
        raise file_error(_l("The file has a header row but no households."))
    if len(sheet.records) > MAX_ROWS:
        raise file_error(_l("The file has more than %(n)d rows; split it into smaller files.", n=MAX_ROWS))
    return sheet


# Checking the rows ------------------------------------------------------------

def _tags(values: dict) -> list[str]:
    """Tags from 户类型 and a tags column. Unknown values pass through, for validate_fields to refuse."""
    tags: list[str] = []
    kind = values.get("household_type")
    if kind:
        tags += HOUSEHOLD_TYPES.get(kind, [kind])
    if values.get("tags"):
        tags += [t.strip() for t in TAG_SPLIT.split(values["tags"]) if t.strip()]
    return list(dict.fromkeys(tags))


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)) or None


class _Villages:
    """The villages the user keeps the register of, found by name. Only the names
    in the file are loaded: an admin of a province reaches tens of thousands."""

    def __init__(self, actor: User, sheet: Sheet):
        names = {r.values["village"] for r in sheet.records if r.values.get("village")}
        self.by_name: dict[str, list[Region]] = {}
        if names:
            for v in db.session.scalars(visible_villages(actor).where(Region.name.in_(names))):
                self.by_name.setdefault(v.name, []).append(v)
        self.only = None
        if any(not r.values.get("village") for r in sheet.records):
            # Rows without a village belong to the user's village, if they keep just one.
            mine = db.session.scalars(visible_villages(actor).limit(2)).all()
            self.only = mine[0] if len(mine) == 1 else None

    def find(self, errors: Errors, name: str | None, township: str | None) -> Region | None:
        if not name:
            if self.only is not None:
                return self.only
            errors.add("village", _l("This field is required."))
            return None
        found = self.by_name.get(name, [])
        if len(found) > 1 and township:
            found = [v for v in found if v.parent is not None and v.parent.name == township]
        if len(found) == 1:
            return found[0]
        if found:
            errors.add("village", _l("Several of your villages have this name; add a township (乡镇) column."))
        else:
            # The same message whether the village exists elsewhere or not at all: no leak.
            errors.add("village", _l("Unknown village, or not one whose register you keep."))
        return None


def _existing(village_ids: set[int]) -> dict[tuple, str]:
    if not village_ids:
        return {}
    rows = db.session.execute(
        select(Household.village_id, Household.head_name, Household.phone, Household.code)
        .where(Household.village_id.in_(village_ids))
    ).all()
    return {(v, name.strip(), phone or None): code for v, name, phone, code in rows}


def preview_import(actor: User, sheet: Sheet) -> Preview:
    """Check every row of a parsed register; nothing is written."""
    policy.require(actor, "households.import")
    villages = _Villages(actor, sheet)
    rows: list[PreviewRow] = []
    for record in sheet.records:
        values = record.values
        errors = Errors()
        village = villages.find(errors, values.get("village"), values.get("township"))
        members = values.get("members")
        fields, field_errors = validate_fields({
            "head_name": values.get("head_name"),
            "members": unicodedata.normalize("NFKC", members) if members else None,
            "phone": _phone(values.get("phone")),
            "address": values.get("address"),
            "tags": _tags(values),
        })
        for key, messages in field_errors.errors.items():
            for message in messages:
                errors.add(key, message)
        rows.append(PreviewRow(record.line, values, fields, village, errors.errors))

    existing = _existing({r.village.id for r in rows if r.ok})
    seen: dict[tuple, int] = {}
    for row in rows:
        if not row.ok:
            continue
        key = (row.village.id, row.fields["head_name"].strip(), row.fields["phone"])
        if key in seen:
            row.errors.setdefault("duplicate", []).append(
                _l("The same household (village, head, phone) as row %(line)d.", line=seen[key]))
        elif key in existing:
            row.errors.setdefault("duplicate", []).append(
                _l("Already in the register as household %(code)s.", code=existing[key]))
        else:
            seen[key] = row.line
    return Preview(sheet, rows)


def preview_file(actor: User, data: bytes, filename: str) -> Preview:
    """Parse and check an upload in one go."""
    policy.require(actor, "households.import")
    return preview_import(actor, parse_register(data, filename))


def import_households(actor: User, preview: Preview, only_good: bool) -> list[int]:
    """Add the rows of a checked register; return the new households' ids. With any bad
    row, nothing is written unless only_good. Flushes; the caller commits."""
    policy.require(actor, "households.import")
    if preview.bad and not only_good:
        raise ValidationError({"rows": [_l(
            "Rows with errors: %(n)d. Nothing was imported: correct them, or import only the good rows.",
            n=preview.bad)]})
    good = [r for r in preview.rows if r.ok]
    if not good:
        raise ValidationError({"rows": [_l("There are no good rows to import.")]})
    # In bulk (a register has thousands of rows): the scope checked once per
    # village, each village's codes reserved at once, the households and their
    # audit records written with one statement each.
    villages = {row.village.id: writable_village(actor, row.village.id) for row in good}
    wanted = Counter(row.village.id for row in good)
    codes = {vid: iter(reserve_codes(village, wanted[vid])) for vid, village in villages.items()}
    now = utcnow()
    rows = [{"village_id": row.village.id, "code": next(codes[row.village.id]), "status": "active",
             "balance": 0, "created_at": now, "updated_at": now, **row.fields} for row in good]
    db.session.flush()
    conn = db.session.connection()
    conn.execute(insert(Household.__table__), rows)
    ids = dict(conn.execute(select(Household.code, Household.id)
                            .where(Household.code.in_([r["code"] for r in rows]))).all())
    created = [ids[r["code"]] for r in rows]
    audit.record_many(actor, "household.create", "households", created)
    return created
