"""Writing a table as a spreadsheet download, shared by every export."""
import csv
import io

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"


def export_table(name: str, columns, rows, fmt: str = "csv", *,
                 text_columns: tuple[int, ...] = ()) -> tuple[bytes, str, str]:
    """(content, mimetype, filename) of `rows` under `columns`: .xlsx, or CSV
    with a BOM so Excel opens the Chinese correctly. `text_columns` (1-based)
    are kept as text in .xlsx (barcodes would show as 6.90123E+12)."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = name
        ws.append(list(columns))
        for row in rows:
            ws.append(row)
            for column in text_columns:
                ws.cell(row=ws.max_row, column=column).number_format = "@"
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue(), XLSX_MIME, f"{name}.xlsx"
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8"), CSV_MIME, f"{name}.csv"
