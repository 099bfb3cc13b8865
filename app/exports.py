"""Downloads of tables (reports, lists) for the pages and the API alike: one
exporter (app.services.spreadsheets), every export recorded in the audit
trail with who, what and which filters (never names searched for)."""
from flask import Response, request, stream_with_context
from flask_login import current_user

from app.models import User
from app.services import audit
from app.services.spreadsheets import CSV_MIME, XLSX_MIME, csv_chunks, xlsx_bytes

FORMATS = ("csv", "xlsx")
# Filters worth recording: ids, codes, dates, choices. Free text (a searched name) never is.
RECORDED = ("region_id", "village_id", "tag", "from", "to", "period", "sort", "months", "status",
            "supermarket_id", "donor_id", "kind", "user_id", "household")


def wanted(args) -> str | None:
    """The export format a request asks for (?format=csv|xlsx), or None for the page or JSON."""
    fmt = args.get("format")
    return fmt if fmt in FORMATS else None


def send_table(actor: User, name: str, columns, rows, fmt: str, *, filters,
               count: int | None = None, household=None) -> Response:
    """`rows` (a list, or an iterator with its `count`) under `columns` as a
    download; CSV streams as it is written. A file of one household's data
    names it in the record (`household`), so its trail shows the export."""
    audit.record_ref(actor, "export", name, None, household=household, format=fmt,
                     rows=len(rows) if count is None else count,
                     filters={k: filters[k] for k in RECORDED if filters.get(k) not in (None, "")})
    filename = f"{name}.{fmt}"
    headers = {"Content-Disposition": f"attachment; filename={filename}"}
    if fmt == "xlsx":
        return Response(xlsx_bytes(name, columns, rows), mimetype=XLSX_MIME, headers=headers)
    return Response(stream_with_context(csv_chunks(columns, rows)), mimetype=CSV_MIME,
                    headers=headers)


def download(name: str, table, fmt: str, *, count: int | None = None, household=None) -> Response:
    """A page's table, (columns, rows), as a download by the logged-in user,
    recorded with the page's filters."""
    columns, rows = table
    return send_table(current_user, name, columns, rows, fmt, filters=request.args, count=count,
                      household=household)
