"""Import a household register (建档立卡 花名册) from .xlsx, old .xls or .csv.

Two shapes of file are read:

- one row per household (a village's own list: 户主姓名, 家庭人口, 联系电话 ...);
- one row per person, as the national poverty information system exports its
  registers (户编号, 姓名, 与户主关系, 证件号码, 贫困户属性 ...): the rows are
  grouped into households by 户编号 (household number), or, without one, a
  户主 row and the rows after it; the head is the 户主, the household's size
  the number of its people.

Two steps: `parse_register` reads a file into a `Sheet` holding only the
columns the register keeps (ID-card numbers and the other columns are dropped
as the file is read, and never reach the database or the disk), then
`preview_import` groups and checks the households against the acting user's
villages and the register; `import_households` writes the good ones. A
household whose 户编号 is already in the register is updated (head, size,
phone, address, the register's tags), never added twice."""
import io
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
from app.services.people import policy
from app.services.people import tags as tag_set
from app.services.people.households import reserve_codes, validate_fields
from app.services.people.scope import visible_households, visible_villages, writable_village
from app.services.spreadsheets import csv_rows, file_error, reading_workbook, unreadable

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# Rows scanned for the header line (a title such as "XX村建档立卡户花名册" may sit above it).
HEADER_SCAN = 10
# Rows read at most, blank ones included, so a sparse sheet cannot keep us busy.
MAX_SCANNED = 100_000
MAX_COLUMNS = 100
REGISTER_NO_MAX = 40

# Header aliases per field, best first. Compared after `_norm_header`.
COLUMNS = {
    "head_name": ("户主姓名", "户主", "head_name"),
    # A person's name: the head's in a list of households, anyone's in a list of people.
    "name": ("姓名", "成员姓名", "家庭成员姓名", "name"),
    "relation": ("与户主关系", "与户主的关系", "家庭关系", "relation"),
    "register_no": ("户编号", "户码", "户号", "家庭编号", "register_no"),
    "members": ("家庭人口", "家庭人口数", "人口", "人口数", "members"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "电话号码", "phone"),
    "village": ("所在村", "村", "村名", "行政村", "village"),
    "township": ("所在乡镇", "乡镇", "乡(镇)", "乡镇(街道)", "township"),
    "address": ("家庭住址", "住址", "地址", "address"),
    # Every column of these is read (a register may carry 贫困户属性 and the app's own 标签).
    "tags": ("户类型标签", "户类型", "标签", "户属性", "贫困户属性", "户标签", "家庭类型",
             "监测对象类别", "household_type", "tags"),
}
MULTI = {"tags"}
# Columns a register carries that the app does not keep: noted in grey, not warned about.
NOT_KEPT = ("序号", "主要致贫原因", "次要致贫原因", "致贫原因", "帮扶责任人", "性别", "民族", "出生日期",
            "年龄", "文化程度", "在校生状况", "健康状况", "劳动技能", "务工状况", "务工时间",
            "是否参加城乡居民基本医疗保险", "是否参加大病保险", "是否享受低保", "是否现役军人",
            "脱贫年度", "识别标准", "户主姓名拼音", "政治面貌", "备注", "市", "县", "县(市、区)",
            "组", "村民小组", "人均纯收入")
# Personal numbers: never kept, whatever else the heading says.
ID_HEADER = re.compile(r"证件|身份证|身份号|证号|银行|账号|卡号|社保")
# 贫困户属性 and 户类型 as the registers write them, to the app's tags. The
# 贫困户 kinds are households of the 建档立卡 register; 低保户 and 五保户 alone
# are not (a county's 低保 list is not its poverty register).
HOUSEHOLD_TYPES = {
    "一般贫困户": ["建档立卡"],
    "低保贫困户": ["建档立卡", "低保"],
    "五保贫困户": ["建档立卡", "五保"],
    "特困供养贫困户": ["建档立卡", "五保"],
    "低保户": ["低保"],
    "五保户": ["五保"],
    "特困供养户": ["五保"],
    "脱贫监测户": ["监测户"],
    "脱贫不稳定户": ["监测户"],
    "边缘易致贫户": ["边缘户"],
    "突发严重困难户": ["监测户"],
    "一般农户": [],
}
# The tags a register decides: updating a household from next year's register
# replaces these, and keeps the ones staff gave by hand (残疾, 独居老人 ...).
REGISTER_TAGS = {t for mapped in HOUSEHOLD_TYPES.values() for t in mapped}
HEAD_RELATIONS = {"户主", "本人", "户主本人"}


def _norm_header(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s*:：]", "", value).lower()


_ALIASES = {_norm_header(alias): (fld, rank)
            for fld, aliases in COLUMNS.items() for rank, alias in enumerate(aliases)}
_NOT_KEPT = {_norm_header(h) for h in NOT_KEPT}


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
    dropped: list              # headers of columns known and deliberately not kept
    unknown: list = field(default_factory=list)   # headers not recognised (a warning)
    records: list = field(default_factory=list)

    @property
    def per_person(self) -> bool:
        """One row per person (the national register): a 与户主关系 column says so."""
        return "relation" in self.columns

    def to_json(self) -> str:
        return json.dumps({"filename": self.filename, "columns": self.columns, "dropped": self.dropped,
                           "unknown": self.unknown,
                           "records": [[r.line, r.values] for r in self.records]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Sheet":
        data = json.loads(text)
        return cls(data["filename"], data["columns"], data["dropped"], data.get("unknown", []),
                   [Record(line, values) for line, values in data["records"]])


@dataclass
class PreviewRow:
    """One household of the file: its rows there, and what the register will hold."""
    line: int                  # its first row (the head's, when it has one)
    values: dict               # the head's cells as read, for display
    fields: dict               # validated values for the register
    village: Region | None
    errors: dict               # field -> [message]
    lines: list = field(default_factory=list)     # every row of the household
    people: list = field(default_factory=list)    # [(name, relation)] in a per-person file
    register_no: str | None = None
    existing: Household | None = None             # the household this updates
    changes: list = field(default_factory=list)   # fields an update changes

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Preview:
    sheet: Sheet
    rows: list                 # PreviewRow, one per household

    @property
    def good(self) -> int:
        return sum(1 for r in self.rows if r.ok)

    @property
    def bad(self) -> int:
        return len(self.rows) - self.good

    @property
    def updates(self) -> int:
        return sum(1 for r in self.rows if r.ok and r.existing is not None)

    @property
    def lines(self) -> int:
        return len(self.sheet.records)

    @property
    def summary(self) -> dict:
        return {"rows": self.lines, "households": len(self.rows), "good": self.good, "bad": self.bad,
                "updates": self.updates, "columns": dict(self.sheet.columns),
                "dropped": list(self.sheet.dropped), "unknown": list(self.sheet.unknown)}


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


def _first_register(sheets):
    """The rows of the first sheet with a name header (else of the first sheet)."""
    first = None
    for rows in sheets:
        if _find_header(rows) is not None:
            return rows
        first = rows if first is None else first
    return first or []


def _xlsx_rows(data: bytes):
    with reading_workbook(data) as workbook:
        return _first_register(
            list(_take(sheet.iter_rows(max_col=MAX_COLUMNS, max_row=MAX_SCANNED + 1, values_only=True)))
            for sheet in workbook.worksheets)


def _xls_rows(data: bytes):
    """An old Excel (.xls, BIFF) workbook, read by xlrd."""
    import xlrd

    try:
        # xlrd's warnings about a damaged file would go to stdout: the error says it.
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
    except Exception:  # xlrd raises many kinds on a damaged or foreign file
        raise unreadable() from None
    try:
        def sheet_rows(sheet):
            for r in range(min(sheet.nrows, MAX_SCANNED + 1)):
                yield tuple(sheet.row_values(r, 0, min(sheet.ncols, MAX_COLUMNS)))

        def sheets():
            for index in range(book.nsheets):
                yield list(_take(sheet_rows(book.sheet_by_index(index))))
                book.unload_sheet(index)
        return _first_register(sheets())
    except ValidationError:
        raise
    except Exception:
        raise unreadable() from None
    finally:
        book.release_resources()


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
    """The header row: the first of the top rows naming a head or a person's name."""
    for i, row in enumerate(rows[:HEADER_SCAN]):
        for cell in row:
            text = _cell_text(cell)
            if text and _ALIASES.get(_norm_header(text), ("",))[0] in ("head_name", "name"):
                return i
    return None


def _map_header(header) -> tuple[dict, list, list]:
    """Column indexes per kept field (best alias wins; every column of a MULTI
    field), the headers known and not kept, and the headers not recognised."""
    best: dict[str, tuple[int, int]] = {}
    multi: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        text = _cell_text(cell)
        if text is None or ID_HEADER.search(text):
            continue
        fld, rank = _ALIASES.get(_norm_header(text), (None, None))
        if fld in MULTI:
            multi.setdefault(fld, []).append(index)
        elif fld is not None and (fld not in best or rank < best[fld][1]):
            best[fld] = (index, rank)
    indexes = {fld: [index] for fld, (index, _) in best.items()} | multi
    kept = {i for found in indexes.values() for i in found}
    dropped, unknown = [], []
    for i, cell in enumerate(header):
        text = _cell_text(cell)
        if i in kept or text is None:
            continue
        if ID_HEADER.search(text) or _norm_header(text) in _NOT_KEPT or _norm_header(text) in _ALIASES:
            dropped.append(text)
        else:
            unknown.append(text)
    return indexes, dropped, unknown


def parse_register(data: bytes, filename: str) -> Sheet:
    """Read an uploaded register, keeping only the columns the register stores."""
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if len(data) > MAX_BYTES:
        raise file_error(_l("The file is larger than %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024)))
    if extension not in ("xlsx", "xls", "csv"):
        raise file_error(_l("Upload an .xlsx, .xls or .csv file."))
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise file_error(_l("The file is empty."))
    # Trust the content over the name: .xlsx files are zip archives, .xls ones
    # OLE2 compound files (or, from old programs, a bare BIFF stream).
    if data.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0") or extension == "xls":
        rows = _xls_rows(data)
    else:
        rows = _csv_rows(data)
    if not any(_cell_text(c) for row in rows for c in row):
        raise file_error(_l("The file is empty."))
    header_at = _find_header(rows)
    if header_at is None:
        raise file_error(_l("No column for the head of household (户主姓名) was found in the first rows."))
    indexes, dropped, unknown = _map_header(rows[header_at])
    columns = {fld: "、".join(_cell_text(rows[header_at][i]) for i in found)
               for fld, found in indexes.items()}
    sheet = Sheet(filename, columns, dropped, unknown)
    for number, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        values = {}
        for fld, found in indexes.items():
            cells = [_cell_text(row[i]) for i in found if i < len(row)]
            cells = [c for c in cells if c is not None]
            values[fld] = "、".join(cells) if cells else None
        if any(v is not None for v in values.values()):
            sheet.records.append(Record(number, values))
    if not sheet.records:
        raise file_error(_l("The file has a header row but no households."))
    if len(sheet.records) > MAX_ROWS:
        raise file_error(_l("The file has more than %(n)d rows; split it into smaller files.", n=MAX_ROWS))
    return sheet


# Grouping people into households ----------------------------------------------

def _is_head(values: dict) -> bool:
    return unicodedata.normalize("NFKC", values.get("relation") or "").strip() in HEAD_RELATIONS


def _register_no(values: dict) -> str | None:
    value = values.get("register_no")
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", value)) or None if value else None


def _households(sheet: Sheet) -> list[list[Record]]:
    """The file's households, each as its rows. A list of households: a row each.
    A list of people: by 户编号; without one, a 户主 row and the rows after it."""
    if not sheet.per_person:
        return [[r] for r in sheet.records]
    groups: dict = {}
    current = None
    for record in sheet.records:
        number = _register_no(record.values)
        if number is not None:
            current = groups.setdefault(("no", number), [])
        elif _is_head(record.values) or current is None:
            current = groups.setdefault(("line", record.line), [])
        current.append(record)
    return list(groups.values())


# Checking the rows ------------------------------------------------------------

def _tags(values: dict) -> list[str]:
    """Tags from 户类型, 贫困户属性 and tag columns, several to a cell. Unknown
    values pass through, for validate_fields to refuse."""
    found: list[str] = []
    for piece in tag_set.split(values.get("tags") or ""):
        found += HOUSEHOLD_TYPES.get(piece, [piece])
    return list(dict.fromkeys(found))


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)) or None


def _first(records: list[Record], key: str) -> str | None:
    return next((r.values[key] for r in records if r.values.get(key)), None)


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


def _existing(village_ids: set[int]) -> dict[tuple, Household]:
    if not village_ids:
        return {}
    found = db.session.scalars(select(Household).where(Household.village_id.in_(village_ids))).all()
    return {(h.village_id, h.head_name.strip(), h.phone or None): h for h in found}


def _by_register_no(actor: User, numbers: set[str]) -> dict[str, Household]:
    """The households in the user's reach that carry these household numbers."""
    if not numbers:
        return {}
    found = db.session.scalars(visible_households(actor).where(Household.register_no.in_(numbers)))
    return {h.register_no: h for h in found}


def _household(records: list[Record], sheet: Sheet, villages: _Villages,
               known: tag_set.Known) -> PreviewRow:
    """One household of the file, checked."""
    errors = Errors()
    people = []
    if sheet.per_person:
        heads = [r for r in records if _is_head(r.values)]
        head = heads[0] if heads else records[0]
        if not heads:
            errors.add("head_name", _l("No head of household (户主) among these rows."))
        elif len(heads) > 1:
            errors.add("head_name", _l("Two heads of household (户主) in one household: rows %(lines)s.",
                                       lines=", ".join(str(r.line) for r in heads)))
        people = [(r.values.get("name") or r.values.get("head_name"), r.values.get("relation"))
                  for r in records]
        head_name = head.values.get("name") or head.values.get("head_name")
        members = str(len(records))
    else:
        head = records[0]
        head_name = head.values.get("head_name") or head.values.get("name")
        members = head.values.get("members")
        members = unicodedata.normalize("NFKC", members) if members else None
    register_no = _register_no(head.values) or next(
        (n for n in (_register_no(r.values) for r in records) if n), None)
    if register_no is not None and len(register_no) > REGISTER_NO_MAX:
        errors.add("register_no", _l("At most %(n)d characters.", n=REGISTER_NO_MAX))
        register_no = None
    village = villages.find(errors, head.values.get("village") or _first(records, "village"),
                            head.values.get("township") or _first(records, "township"))
    tags: list[str] = []
    for record in records:
        tags += [t for t in _tags(record.values) if t not in tags]
    fields, field_errors = validate_fields({
        "head_name": head_name,
        "members": members,
        "phone": _phone(head.values.get("phone") or _first(records, "phone")),
        "address": head.values.get("address") or _first(records, "address"),
        "tags": tags,
    }, known_tags=known)
    for key, messages in field_errors.errors.items():
        for message in messages:
            errors.add(key, message)
    return PreviewRow(head.line, head.values, fields, village, errors.errors,
                      lines=[r.line for r in records], people=people, register_no=register_no)


def _update_of(row: PreviewRow) -> dict:
    """What the register will change on the household the row updates."""
    hh = row.existing
    wanted = {"head_name": row.fields["head_name"], "members": row.fields["members"]}
    if row.fields.get("phone"):
        wanted["phone"] = row.fields["phone"]
    if row.fields.get("address"):
        wanted["address"] = row.fields["address"]
    # The register decides its own tags; those staff gave by hand stay.
    kept = [t for t in (hh.tags or []) if t not in REGISTER_TAGS]
    wanted["tags"] = list(dict.fromkeys([t for t in row.fields["tags"] if t in REGISTER_TAGS] + kept
                                        + row.fields["tags"]))
    if row.register_no and hh.register_no != row.register_no:
        wanted["register_no"] = row.register_no
    return {k: v for k, v in wanted.items() if getattr(hh, k) != v}


def preview_import(actor: User, sheet: Sheet) -> Preview:
    """Group and check every household of a parsed register; nothing is written."""
    policy.require(actor, "households.import")
    villages = _Villages(actor, sheet)
    known = tag_set.Known.read()
    rows = [_household(records, sheet, villages, known) for records in _households(sheet)]

    # 户编号 already in the register: the household is updated. One the user
    # cannot see reads as new (no leak); adding it is then the register's call.
    numbered = _by_register_no(actor, {r.register_no for r in rows if r.register_no})
    existing = _existing({r.village.id for r in rows if r.ok})
    seen: dict[tuple, int] = {}
    seen_no: dict[str, int] = {}
    for row in rows:
        if not row.ok:
            continue
        if row.register_no is not None:
            if row.register_no in seen_no:
                row.errors.setdefault("duplicate", []).append(
                    _l("The same household number (户编号) as row %(line)d.", line=seen_no[row.register_no]))
                continue
            seen_no[row.register_no] = row.line
            hh = numbered.get(row.register_no)
            if hh is not None:
                if hh.village_id != row.village.id:
                    row.errors.setdefault("village", []).append(_l(
                        "This household number (户编号) is household %(code)s of %(village)s.",
                        code=hh.code, village=hh.village.name))
                    continue
                row.existing = hh
                row.changes = sorted(_update_of(row))
                continue
        key = (row.village.id, row.fields["head_name"].strip(), row.fields["phone"])
        if key in seen:
            row.errors.setdefault("duplicate", []).append(
                _l("The same household (village, head, phone) as row %(line)d.", line=seen[key]))
        elif key in existing:
            hh = existing[key]
            if row.register_no is not None and hh.register_no is None and hh.id not in {
                    r.existing.id for r in rows if r.existing is not None}:
                # A household added by hand, now found in the national register: it takes its number.
                row.existing = hh
                row.changes = sorted(_update_of(row))
                seen[key] = row.line
            else:
                row.errors.setdefault("duplicate", []).append(
                    _l("Already in the register as household %(code)s.", code=hh.code))
        else:
            seen[key] = row.line
    return Preview(sheet, rows)


def preview_file(actor: User, data: bytes, filename: str) -> Preview:
    """Parse and check an upload in one go."""
    policy.require(actor, "households.import")
    return preview_import(actor, parse_register(data, filename))


def import_households(actor: User, preview: Preview, only_good: bool) -> list[int]:
    """Add the new households of a checked register and update those it names by
    their 户编号; return the ids of both, new ones first. With any bad household,
    nothing is written unless only_good. Flushes; the caller commits."""
    policy.require(actor, "households.import")
    if preview.bad and not only_good:
        raise ValidationError({"rows": [_l(
            "Households with errors: %(n)d. Nothing was imported: correct them, or import only the good ones.",
            n=preview.bad)]})
    good = [r for r in preview.rows if r.ok]
    if not good:
        raise ValidationError({"rows": [_l("There are no good rows to import.")]})
    new = [r for r in good if r.existing is None]
    updated = []
    checked = set()
    for row in good:
        if row.existing is not None:
            if row.existing.village_id not in checked:
                writable_village(actor, row.existing.village_id)
                checked.add(row.existing.village_id)
            hh = row.existing
            changes = _update_of(row)
            for key, value in changes.items():
                setattr(hh, key, value)
            if changes:
                audit.record(actor, "household.update", hh, fields=sorted(changes), source="register")
            updated.append(hh.id)
    if not new:
        db.session.flush()
        return updated
    # In bulk (a register has thousands of rows): the scope checked once per
    # village, each village's codes reserved at once, the households and their
    # audit records written with one statement each.
    villages = {vid: writable_village(actor, vid) for vid in dict.fromkeys(row.village.id for row in new)}
    wanted = Counter(row.village.id for row in new)
    codes = {vid: iter(reserve_codes(village, wanted[vid])) for vid, village in villages.items()}
    now = utcnow()
    rows = [{"village_id": row.village.id, "code": next(codes[row.village.id]), "status": "active",
             "balance": 0, "created_at": now, "updated_at": now, "register_no": row.register_no,
             **row.fields} for row in new]
    db.session.flush()
    conn = db.session.connection()
    conn.execute(insert(Household.__table__), rows)
    ids = dict(conn.execute(select(Household.code, Household.id)
                            .where(Household.code.in_([r["code"] for r in rows]))).all())
    created = [ids[r["code"]] for r in rows]
    audit.record_many(actor, "household.create", "households", created,
                      households=[(hid, r["village_id"]) for hid, r in zip(created, rows)])
    return created + updated
