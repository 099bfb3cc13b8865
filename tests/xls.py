"""Old Excel (.xls) files for the tests, written here: no installed library writes
them (xlwt is unmaintained since 2017, LibreOffice is not on the machines), and a
register saved by an old Excel is just this: a BIFF8 workbook stream (BOF,
BOUNDSHEET, the cells as LABEL and NUMBER records, EOF) inside an OLE2 compound
file. Enough for xlrd, which the app reads them with, and for Excel."""
import struct

ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
SECTOR = 512
MIN_STREAM = 4096  # smaller streams would go to the mini stream, which this writer does not make


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x06))


def _unicode(text: str, length_bytes: int) -> bytes:
    raw = text.encode("utf-16-le")
    return struct.pack("<B" if length_bytes == 1 else "<H", len(text)) + b"\x01" + raw


def _cell(row: int, col: int, value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _record(0x0203, struct.pack("<HHHd", row, col, 0, float(value)))
    return _record(0x0204, struct.pack("<HHH", row, col, 0) + _unicode(str(value), 2))


def biff8(rows: list[list], sheet_name: str = "Sheet1") -> bytes:
    """The Workbook stream of one sheet holding `rows` (text, numbers or None)."""
    width = max((len(r) for r in rows), default=0)
    sheet = _bof(0x0010) + _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
    sheet += b"".join(_cell(r, c, v) for r, row in enumerate(rows) for c, v in enumerate(row))
    sheet += _record(0x000A, b"")
    name = _unicode(sheet_name, 1)
    boundsheet_len = 4 + len(struct.pack("<IH", 0, 0)) + len(name)
    globals_len = len(_bof(0x0005)) + boundsheet_len + 4
    globals_ = (_bof(0x0005) + _record(0x0085, struct.pack("<IH", globals_len, 0) + name)
                + _record(0x000A, b""))
    return globals_ + sheet


def _entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    raw = (name + "\0").encode("utf-16-le") if name else b""
    return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1 if name else 0)
            + struct.pack("<III", NOSTREAM, NOSTREAM, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
            + struct.pack("<II", start, size) + b"\0" * 4)


def xls(rows: list[list], sheet_name: str = "Sheet1") -> bytes:
    """An .xls file (OLE2 compound file with a BIFF8 Workbook stream) of one sheet."""
    stream = biff8(rows, sheet_name)
    size = max(len(stream), MIN_STREAM)
    stream = stream.ljust(-(-size // SECTOR) * SECTOR, b"\0")
    n = len(stream) // SECTOR
    if n + 2 > SECTOR // 4:
        raise ValueError("too big for this small writer")
    fat = [i + 1 for i in range(n - 1)] + [ENDOFCHAIN, ENDOFCHAIN, FATSECT]
    fat += [FREESECT] * (SECTOR // 4 - len(fat))
    directory = (_entry("Root Entry", 5, 1, ENDOFCHAIN, 0) + _entry("Workbook", 2, NOSTREAM, 0, size)
                 + _entry("", 0, NOSTREAM, 0, 0) * 2)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, n, 0, MIN_STREAM, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
              + struct.pack("<I", n + 1) + struct.pack("<I", FREESECT) * 108)
    assert len(header) == SECTOR
    return header + stream + directory + struct.pack(f"<{SECTOR // 4}I", *fat)
