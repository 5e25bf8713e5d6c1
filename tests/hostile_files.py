"""Hostile ZIP and XLSX files, built in the test that needs them (never committed as binaries).

A ZIP is written by hand (local headers, central directory, end record), so that an entry's deflate
stream can be assembled from one compressed megabyte repeated: a deflate stream flushed with
``Z_FULL_FLUSH`` is byte-aligned and free of history, so the same block can follow itself. A 2 GiB
shared-strings part costs about 2 MB and no time to build (deflate cannot do better than ~1:1000).
CRCs of the repeated entries are not computed (nothing must read them to the end).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MIB = 1 << 20
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>')
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    '<Relationship Id="rId2" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>')
SHEET = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}"><sheetData>'
         '<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>')


class Entry:
    """One archive entry: its name, raw deflate (or stored) bytes, sizes and CRC."""

    def __init__(self, name: str, data: bytes = b"", *, raw: bytes | None = None, size: int | None = None,
                 stored: bool = False) -> None:
        self.name = name.encode()
        self.method = 0 if stored else 8
        if raw is None:
            raw = data if stored else _deflate(data)
        self.raw, self.size = raw, len(data) if size is None else size
        self.crc = zlib.crc32(data) if size is None else 0


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def repeated(name: str, prefix: bytes, fill: bytes, megabytes: int, suffix: bytes) -> Entry:
    """An entry whose raw deflate stream is ``prefix`` + ``fill`` * (1 MiB / len(fill)) * ``megabytes`` +
    ``suffix`` (its CRC computed only up to 64 MiB, so that a small one can be read through)."""
    block = fill * (MIB // len(fill))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    one = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    entry = Entry(name, raw=head + one * megabytes + tail, size=len(prefix) + len(block) * megabytes + len(suffix))
    if megabytes <= 64:
        crc = zlib.crc32(prefix)
        for _ in range(megabytes):
            crc = zlib.crc32(block, crc)
        entry.crc = zlib.crc32(suffix, crc)
    return entry


def write_zip(path: Path, entries: list[Entry]) -> Path:
    """A ZIP archive of ``entries`` (no ZIP64: keep each under 4 GiB)."""
    central, offset = [], 0
    with path.open("wb") as fh:
        for e in entries:
            local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, e.method, 0, 0x21, e.crc, len(e.raw), e.size,
                                len(e.name), 0)
            fh.write(local + e.name)
            fh.write(e.raw)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, e.method, 0, 0x21, e.crc,
                                       len(e.raw), e.size, len(e.name), 0, 0, 0, 0, 0, offset) + e.name)
            offset += len(local) + len(e.name) + len(e.raw)
        directory = b"".join(central)
        fh.write(directory)
        count = min(len(entries), 0xFFFF)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0))
    return path


def xlsx_parts(shared_strings: Entry) -> list[Entry]:
    return [Entry("[Content_Types].xml", CONTENT_TYPES.encode()), Entry("_rels/.rels", ROOT_RELS.encode()),
            Entry("xl/workbook.xml", WORKBOOK.encode()), Entry("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.encode()),
            Entry("xl/worksheets/sheet1.xml", SHEET.encode()), shared_strings]


def xlsx_bomb(path: Path, megabytes: int = 2048) -> Path:
    """An XLSX whose one shared string is ``megabytes`` MiB of one letter (~1 KB a MiB compressed)."""
    return write_zip(path, xlsx_parts(repeated(
        "xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS}" count="1" uniqueCount="1">'
        '<si><t>'.encode(), b"A", megabytes, b"</t></si></sst>")))


def xlsx_many_strings(path: Path, count: int, declared: int | None = None) -> Path:
    """An XLSX whose shared-strings part holds ``count`` short strings, declaring ``declared`` of them."""
    declared = count if declared is None else declared
    body = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS}" count="{declared}" uniqueCount="{declared}">'
    xml = body.encode() + b"".join(b"<si><t>s%d</t></si>" % i for i in range(count)) + b"</sst>"
    return write_zip(path, xlsx_parts(Entry("xl/sharedStrings.xml", xml)))


def zip_bomb(path: Path, megabytes: int = 2048) -> Path:
    """A plain ZIP with one entry of ``megabytes`` MiB of zeros."""
    return write_zip(path, [repeated("data.csv", b"", b"\x00", megabytes, b"")])


def zip_many_entries(path: Path, count: int = 100_000) -> Path:
    """A ZIP of ``count`` empty stored entries (the end record caps at 65,535: ZIP tools then count)."""
    return write_zip(path, [Entry(f"f{i}.txt", stored=True) for i in range(count)])


def zip_nested(path: Path) -> Path:
    inner = write_zip(path.with_suffix(".inner"), [Entry("data.csv", b"nik\n")])
    data = inner.read_bytes()
    inner.unlink()
    return write_zip(path, [Entry("[Content_Types].xml", CONTENT_TYPES.encode()), Entry("xl/workbook.xml",
                                                                                       WORKBOOK.encode()),
                            Entry("xl/embeddings/inner.zip", data)])


def zip_traversal(path: Path) -> Path:
    return write_zip(path, [Entry("../../etc/cron.d/x", b"x"), Entry("xl/workbook.xml", WORKBOOK.encode())])
