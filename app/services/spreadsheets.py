"""Spreadsheets in and out, shared by every import and export: reading an
uploaded .xlsx or .csv (UTF-8 with or without BOM, or GB18030 as Chinese
Excel writes it) into a table, and writing a table as a download."""
import csv
import io
import warnings
import zipfile
from contextlib import contextmanager

from flask_babel import lazy_gettext as _l

from app.services.errors import ValidationError

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"


# A cell that starts with one of these would be read by Excel as a formula
# (or split a CSV line): it is written as text with a leading ' (numbers stay
# numbers), and the project's own imports strip that ' again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A value as the exporter writes it: text that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if value is not None and not isinstance(value, (str, int, float)):
        return str(value)   # lazy translations, dates
    return value


def unescape_cell(value):
    """What safe_cell wrote, read back: the leading ' of an escaped formula dropped."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def csv_chunks(columns, rows, every: int = 500):
    """CSV (UTF-8 with a BOM, so Excel opens the Chinese correctly) in chunks,
    a few hundred rows each: a long export starts downloading at once."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([safe_cell(c) for c in columns])
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    out.seek(0), out.truncate()
    for i, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if i % every == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0), out.truncate()
    yield out.getvalue().encode("utf-8")


def xlsx_bytes(name: str, columns, rows, *, text_columns: tuple[int, ...] = ()) -> bytes:
    """An .xlsx of one sheet, written row by row (XlsxWriter, its rows flushed
    to a temporary file as they are written: a county's 50,000 rows take
    seconds, not the tens openpyxl took). No text is ever turned into a formula,
    a number or a link; numbers stay numbers. `text_columns` (1-based) are
    kept as text (barcodes would show as 6.90123E+12)."""
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    ws = wb.add_worksheet(name[:31])
    as_text = wb.add_format({"num_format": "@"})
    ws.write_row(0, 0, [safe_cell(c) for c in columns])
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            value = safe_cell(value)
            if value is None:
                continue
            if c + 1 in text_columns or (isinstance(value, str) and value.startswith("'")):
                ws.write_string(r, c, str(value), as_text)
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            elif isinstance(value, bool):
                ws.write_boolean(r, c, value)
            else:
                ws.write_number(r, c, value)
    wb.close()
    return out.getvalue()


def export_table(name: str, columns, rows, fmt: str = "csv", *,
                 text_columns: tuple[int, ...] = ()) -> tuple[bytes, str, str]:
    """(content, mimetype, filename) of `rows` under `columns`, as .xlsx or CSV."""
    if fmt == "xlsx":
        return xlsx_bytes(name, columns, rows, text_columns=text_columns), XLSX_MIME, f"{name}.xlsx"
    return b"".join(csv_chunks(columns, rows)), CSV_MIME, f"{name}.csv"


# -- reading -----------------------------------------------------------------------

# A zip whose members unpack to more than this is refused before openpyxl opens it.
MAX_UNPACKED = 100 * 1024 * 1024


def file_error(message) -> ValidationError:
    return ValidationError({"file": [message]})


def unreadable() -> ValidationError:
    return file_error(_l("The file could not be read as a spreadsheet."))


def decode_text(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise file_error(_l("The file's text encoding was not recognised; save it as CSV (UTF-8) from Excel."))


def csv_rows(raw: bytes):
    """The rows of a CSV (comma or tab separated), as an iterator of lists."""
    if b"\x00" in raw:
        raise unreadable()
    text = decode_text(raw)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error:
        raise unreadable() from None


def open_workbook(raw: bytes):
    """An openpyxl workbook (read-only, values only); the caller closes it."""
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            # zipfile never inflates a member past its declared size, so this bounds the work.
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED:
                raise unreadable()
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it does not know; irrelevant here.
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except ValidationError:
        raise
    except Exception:  # a damaged or foreign zip fails in many ways
        raise unreadable() from None


@contextmanager
def reading_workbook(raw: bytes):
    """`with reading_workbook(raw) as workbook:` an openpyxl workbook, closed
    afterwards; whatever a malformed sheet makes openpyxl raise inside the
    block becomes the same clear "could not be read" error."""
    workbook = open_workbook(raw)
    try:
        yield workbook
    except ValidationError:
        raise
    except Exception:  # openpyxl raises many kinds on malformed sheet XML
        raise unreadable() from None
    finally:
        workbook.close()


def read_table(raw: bytes, filename: str, *, max_rows: int) -> list[list]:
    """The first sheet of an .xlsx, or a .csv/.txt, as a list of rows: the
    header and at most `max_rows` more (a longer file is refused)."""
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        with reading_workbook(raw) as workbook:
            table = _capped(workbook.worksheets[0].iter_rows(values_only=True), max_rows)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        table = _capped(csv_rows(raw), max_rows)
    else:
        raise file_error(_l("Upload a .csv or .xlsx file."))
    if not table:
        raise file_error(_l("The file is empty."))
    return table


def _capped(rows, max_rows: int) -> list[list]:
    table = []
    for row in rows:
        table.append([unescape_cell(v) for v in row])
        if len(table) > max_rows + 1:
            raise file_error(_l("At most %(n)d rows at once.", n=max_rows))
    return table
