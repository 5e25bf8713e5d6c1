"""Refuse a hostile ZIP or XLSX before anything opens it, and read an XLSX's shared strings without
holding them in memory.

An XLSX is a ZIP archive. A few kilobytes of deflate can expand to gigabytes (a "zip bomb"), a
central directory can list a hundred thousand entries, an entry can hold another archive or a name
that climbs out of a directory (``../``). ``check_archive`` looks only at the archive's end record and
central directory (plus the first kilobytes of an XLSX's shared-strings part) and raises
``HostileArchive`` (413 for a size, count or ratio over a limit, 422 for a malformed archive) with a
catalogue message (``file.hostile_*`` of the ``findings`` domain, Indonesian first, English on request) naming the
limit, the value found and how to fix the file. Nothing is decompressed
beyond that head, so a bomb is refused in milliseconds whatever it would expand to.

openpyxl streams a worksheet in read-only mode but loads the whole shared-strings part into a Python
list (a 1.6 MB upload grew a process to 733 MB). ``SharedStrings`` replaces that list: the part is
parsed incrementally and each string is written to a temporary file, leaving in memory one 8-byte
offset per string; the number of strings is bounded while it is read, not only by the part's
``uniqueCount`` attribute (which a file may lie about). ``zipfile`` itself stops an entry at its
declared size, so the central directory's sizes checked here are the sizes read later.
"""

from __future__ import annotations

import re
import struct
import tempfile
import zipfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, overload

from p3ke_platform.tabular.errors import Explained, NotATable

ZIP_MAGIC = b"PK\x03\x04"
NESTED_SUFFIXES = (".zip", ".xlsx", ".xlsm", ".xlsb", ".xls", ".docx", ".pptx", ".jar", ".gz", ".tgz", ".bz2",
                   ".xz", ".7z", ".rar", ".tar", ".zst")
SHARED_STRINGS_HEAD = 4096  # decompressed bytes of sharedStrings.xml read for its <sst> attributes
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_UNIQUE_COUNT = re.compile(rb"""\buniqueCount\s*=\s*["'](\d+)["']""")
_COUNT = re.compile(rb"""\bcount\s*=\s*["'](\d+)["']""")
_DRIVE = re.compile(r"^[A-Za-z]:")


class HostileArchive(NotATable):
    """The archive is over a limit (``status`` 413) or malformed (422); the catalogue message (``key``, a
    ``file.hostile_*`` of the ``findings`` domain) says which, the value found and how to fix the file (never a
    value from inside the file)."""

    def __init__(self, status: int, *, key: str, rule: str, **params: Any) -> None:
        super().__init__(key=key, **params)
        self.status = status
        self.rule = rule


def _phrase(key: str, **params: Any) -> Explained:
    """A part of a reason (what was over the limit, why the archive is malformed), said in the reader's language."""
    return Explained(key=f"file.hostile_{key}", **params)


@dataclass(frozen=True)
class ArchiveLimits:
    """What an uploaded ZIP/XLSX may hold (``Settings.upload_*``; these defaults when none are given)."""

    max_entries: int = 10_000
    max_entry_bytes: int = 4 * 2**30  # one entry, uncompressed
    max_total_bytes: int = 16 * 2**30  # all entries, uncompressed
    max_ratio: int = 200  # uncompressed / compressed, per entry
    ratio_floor_bytes: int = 2**20  # entries smaller than this (uncompressed) are not ratio-checked
    max_shared_strings: int = 5_000_000  # XLSX: distinct strings (8 bytes of memory each while reading)
    max_shared_strings_bytes: int = 2**30  # XLSX: xl/sharedStrings.xml, uncompressed

    @classmethod
    def from_settings(cls, settings: Any) -> ArchiveLimits:
        """The limits of a ``p3ke_platform.settings.Settings`` (any service's settings)."""
        return cls(max_entries=settings.upload_zip_max_entries, max_entry_bytes=settings.upload_zip_max_entry_bytes,
                   max_total_bytes=settings.upload_zip_max_total_bytes, max_ratio=settings.upload_zip_max_ratio,
                   max_shared_strings=settings.upload_xlsx_max_shared_strings,
                   max_shared_strings_bytes=settings.upload_xlsx_max_shared_strings_bytes)


def _too_big(what: Explained, found: int, limit: int, *, rule: str = "archive-limit") -> HostileArchive:
    return HostileArchive(413, key="file.hostile_too_big", rule=rule, what=what, found=found, limit=limit)


def _malformed(why: Explained) -> HostileArchive:
    return HostileArchive(422, key="file.hostile_malformed", rule="archive-malformed", why=why)


def _damaged(why: Explained) -> HostileArchive:
    return HostileArchive(422, key="file.hostile_damaged", rule="archive-malformed", why=why)


def is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == ZIP_MAGIC


def declared_entries(path: Path) -> int:
    """The entry count of the archive's end-of-central-directory record (ZIP64 when present), read
    without loading the central directory; raises ``HostileArchive`` (422) when there is none."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = max(0, size - (22 + 65535))
        fh.seek(start)
        tail = fh.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise _damaged(_phrase("why.no_central_directory"))
        entries = struct.unpack_from("<H", tail, at + 10)[0]
        locator = at - 20
        if locator >= 0 and tail[locator:locator + 4] == _EOCD64_LOCATOR:
            offset = struct.unpack_from("<Q", tail, locator + 8)[0]
            if offset + 56 <= size:
                fh.seek(offset)
                record = fh.read(56)
                if record[:4] == b"PK\x06\x06":
                    entries = struct.unpack_from("<Q", record, 32)[0]
    return int(entries)


def _bad_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts or "\x00" in name


def check_archive(path: Path, limits: ArchiveLimits, *, xlsx: bool = False) -> None:
    """Raise ``HostileArchive`` when the ZIP at ``path`` is over ``limits`` or malformed; ``xlsx``: also
    bound the shared-strings part (size, and the ``uniqueCount`` its head declares)."""
    entries = declared_entries(path)
    if entries > limits.max_entries:
        raise _too_big(_phrase("what.entries"), entries, limits.max_entries)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_entries(infos, limits)
            if xlsx:
                _check_shared_strings(zf, infos, limits)
    except zipfile.BadZipFile:
        raise _damaged(_phrase("why.central_directory_unreadable")) from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError):
        raise _malformed(_phrase("why.unsupported_feature")) from None


def _check_entries(infos: Sequence[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(infos) > limits.max_entries:
        raise _too_big(_phrase("what.entries"), len(infos), limits.max_entries)
    total = 0
    for i, info in enumerate(infos, start=1):
        if _bad_name(info.filename):
            raise _malformed(_phrase("why.unsafe_name", entry=i))
        if info.filename.lower().endswith(NESTED_SUFFIXES):
            raise _malformed(_phrase("why.nested", entry=i))
        if info.flag_bits & 0x1:
            raise _malformed(_phrase("why.encrypted", entry=i))
        if info.file_size > limits.max_entry_bytes:
            raise _too_big(_phrase("what.entry_size", entry=i), info.file_size, limits.max_entry_bytes)
        if info.file_size >= limits.ratio_floor_bytes:
            ratio = info.file_size // max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise _too_big(_phrase("what.ratio", entry=i), ratio, limits.max_ratio)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _too_big(_phrase("what.total_size"), total, limits.max_total_bytes)


def _shared_strings_info(infos: Sequence[zipfile.ZipInfo]) -> zipfile.ZipInfo | None:
    for info in infos:
        if info.filename.lower().rsplit("/", 1)[-1].startswith("sharedstrings") and info.filename.endswith(".xml"):
            return info
    return None


def _check_shared_strings(zf: zipfile.ZipFile, infos: Sequence[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    info = _shared_strings_info(infos)
    if info is None:
        return
    if info.file_size > limits.max_shared_strings_bytes:
        raise _too_big(_phrase("what.shared_strings_size"), info.file_size, limits.max_shared_strings_bytes,
                       rule="xlsx-limit")
    with zf.open(info) as src:
        head = src.read(SHARED_STRINGS_HEAD)
    found = _UNIQUE_COUNT.search(head) or _COUNT.search(head)
    if found is not None and int(found.group(1)) > limits.max_shared_strings:
        raise _too_big(_phrase("what.shared_strings"), int(found.group(1)), limits.max_shared_strings,
                       rule="xlsx-limit")


class SharedStrings(Sequence[str]):
    """An XLSX shared-strings table kept in a temporary file: ``strings[i]`` reads string ``i`` back.

    Built by ``read`` from the part's XML stream; only the offsets (8 bytes a string) stay in memory.
    Close it (or use it as a context manager) to remove the file.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="p3ke-sst-")  # noqa: SIM115 (closed by close())
        self._offsets = array("q", [0])

    @classmethod
    def read(cls, source: IO[bytes], max_strings: int) -> SharedStrings:
        """Parse ``source`` (xl/sharedStrings.xml) incrementally; ``HostileArchive`` (413) past
        ``max_strings`` strings, (422) when the XML is not well formed."""
        from xml.etree.ElementTree import ParseError

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import iterparse
        from openpyxl.xml.constants import SHEET_MAIN_NS

        tag, text_tag, run_tag = (f"{{{SHEET_MAIN_NS}}}{name}" for name in ("si", "t", "r"))

        def content(si: Any) -> str:  # as openpyxl's Text.content: the plain text, then each run's (not phonetic)
            plain = si.find(text_tag)
            parts = [] if plain is None else [plain.text or ""]
            for run in si.iterfind(run_tag):
                t = run.find(text_tag)
                if t is not None:
                    parts.append(t.text or "")
            return "".join(parts)

        table = cls()
        try:
            root = None
            for event, node in iterparse(source, events=("start", "end")):
                if root is None:
                    root = node
                if event != "end" or node.tag != tag:
                    continue
                table._append(content(node).replace("x005F_", ""))
                root.clear()  # the strings read so far are on disk: drop their elements
                if len(table) > max_strings:
                    raise _too_big(_phrase("what.shared_strings"), len(table), max_strings, rule="xlsx-limit")
        except (ParseError, DefusedXmlException):
            table.close()
            raise _malformed(_phrase("why.shared_strings_xml")) from None
        except BaseException:
            table.close()
            raise
        return table

    def _append(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("shared string index out of range")
        start, end = self._offsets[index], self._offsets[index + 1]
        self._file.seek(start)
        return self._file.read(end - start).decode("utf-8", "surrogatepass")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SharedStrings:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


__all__ = ["ArchiveLimits", "HostileArchive", "SharedStrings", "check_archive", "declared_entries", "is_zip"]
