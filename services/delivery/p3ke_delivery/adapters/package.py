"""The package party 2 downloads: the extract as CSV and XLSX plus a manifest, in an AES-256 ZIP.

WinZip AES-256 (AE-2) is what 7-Zip, WinZip and most archive tools open with a password, so ministry
staff need nothing special. Everything streams: the extract is read batch by batch twice (once per
format) and written straight into the encrypted entries, so memory stays flat whatever the size and
no unencrypted copy of the data is written to disk. File names inside the ZIP are not encrypted
(a ZIP limitation), so they carry ids, never personal data.

At rest the package is encrypted once more, under its handover's data key (p3ke_platform.envelope, segments
of AES-256-GCM; the ZIP is written under a temporary name, encrypted to the final name, and removed): destroying
the data key destroys every copy of the stored package. What party 2 downloads is the ZIP itself, decrypted
while it streams (`open_stored`), byte for byte the package whose SHA-256 the BAST names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyzipper

from p3ke_delivery.adapters import extract as extract_file
from p3ke_delivery.adapters.xlsx_stream import XlsxStreamWriter
from p3ke_platform import envelope
from p3ke_platform.envelope import DataKey
from p3ke_platform.shared_files import sha256_file
from p3ke_platform.tabular.csv_safe import formula_safe_batch

MANIFEST = "manifest.json"
_DATE = (2026, 1, 1, 0, 0, 0)


class _Counting:
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.size += len(view)
        self._sink.write(view)
        return len(view)

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False


@dataclass
class PackageFile:
    name: str
    media_type: str
    sha256: str
    size: int
    rows: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "media_type": self.media_type, "sha256": self.sha256, "size": self.size}
        if self.rows is not None:
            out["rows"] = self.rows
        return out


@dataclass
class Package:
    path: Path
    sha256: str
    size: int
    rows: int
    fields: list[str]
    files: list[PackageFile] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def base_name(program: str, extract_id: str) -> str:
    return "P3KE_" + re.sub(r"[^A-Za-z0-9._-]+", "-", f"{program}_{extract_id}")[:120]


def _field_type(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return "date"
    if pa.types.is_boolean(kind):
        return "boolean"
    return "string"


def build(extract_path: Path, out: Path, password: str, *, base: str, manifest: dict[str, Any],
          batch_rows: int = 16_384, progress: Callable[[int], None] | None = None,
          data_key: DataKey | None = None) -> Package:
    """Write the package to `out` (atomically: a temporary name, then renamed) and describe it.

    `manifest` holds the handover's facts (BAST number, ids, program, extract checksum); the file
    list, field list and counts are added here. Returns the package's SHA-256 and size (of the ZIP: what
    party 2 receives). With `data_key`, the file at `out` is the ZIP encrypted under it (`open_stored`).
    """
    schema = extract_file.schema(extract_path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    files: list[PackageFile] = []
    rows = 0
    desil: dict[str, int] = {}
    try:
        with pyzipper.AESZipFile(tmp, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=1,
                                 encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password.encode())
            zf.setencryption(pyzipper.WZ_AES, nbits=256)

            # 1. CSV, UTF-8, comma, header row; quoted only where needed
            with zf.open(_info(zf, f"{base}.csv", zipfile.ZIP_DEFLATED), "w", force_zip64=True) as entry:
                sink = _Counting(entry)
                with pcsv.CSVWriter(sink, schema, write_options=pcsv.WriteOptions(
                        include_header=True, quoting_style="needed")) as writer:
                    for batch in extract_file.batches(extract_path, batch_rows):
                        writer.write_batch(formula_safe_batch(batch))  # text cells never run as formulas
                        rows += batch.num_rows
                        _count_desil(batch, desil)
                        if progress:
                            progress(rows)
            files.append(PackageFile(f"{base}.csv", "text/csv", sink.sha256.hexdigest(), sink.size, rows))

            # 2. XLSX: already compressed, so stored as is inside the (encrypted) ZIP
            with zf.open(_info(zf, f"{base}.xlsx", zipfile.ZIP_STORED), "w", force_zip64=True) as entry:
                sink = _Counting(entry)
                xlsx = XlsxStreamWriter(sink, schema)
                for batch in extract_file.batches(extract_path, batch_rows):
                    xlsx.write_batch(batch)
                xlsx.close()
            if xlsx.rows != rows:
                raise extract_file.ExtractError("the extract changed while it was being packaged")
            files.append(PackageFile(f"{base}.xlsx",
                                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                     sink.sha256.hexdigest(), sink.size, rows))

            # 3. the manifest, last: it lists the checksums of the files above
            full = {**manifest, "record_count": rows,
                    "fields": [{"name": f.name, "type": _field_type(f.type)} for f in schema],
                    "counts_by_desil": dict(sorted(desil.items())),
                    "files": [f.as_dict() for f in files]}
            zf.writestr(_info(zf, MANIFEST, zipfile.ZIP_DEFLATED),
                        json.dumps(full, indent=2, ensure_ascii=False, default=_json_default).encode())
        digest, size = sha256_file(tmp), tmp.stat().st_size
        if data_key is None:
            os.replace(tmp, out)
        else:
            envelope.encrypt_file(tmp, out, data_key, _aad(data_key, out.name))
    finally:
        tmp.unlink(missing_ok=True)
    return Package(out, digest, size, rows, [f.name for f in schema], files, full)


def _aad(data_key: DataKey, name: str) -> bytes:
    """Binds the stored file to its handover and name: another handover's package does not open as this one."""
    return f"p3ke-delivery/package/{data_key.artefact_id}/{name}".encode()


def stored_size(size: int, data_key: DataKey | None) -> int:
    """The size of the stored file of a package of `size` bytes (encrypted or, before data keys, not)."""
    return size if data_key is None else envelope.encrypted_size(size)


def open_stored(path: Path, data_key: DataKey | None) -> BinaryIO:
    """The package's bytes as party 2 receives them: decrypted while read (raises EnvelopeError at once for a
    wrong key or a damaged start), or the file itself for a package stored before data keys."""
    if data_key is None:
        return path.open("rb")
    return envelope.open_decrypted(path, data_key, _aad(data_key, path.name))


def _info(zf: pyzipper.AESZipFile, name: str, compress_type: int) -> Any:
    info = zf.zipinfo_cls(name, _DATE)
    info.compress_type = compress_type
    info.external_attr = 0o640 << 16
    return info


def _count_desil(batch: pa.RecordBatch, counts: dict[str, int]) -> None:
    if "desil_kesejahteraan" not in batch.schema.names:
        return
    column = batch.column("desil_kesejahteraan")
    for item in pc.value_counts(pc.cast(column, pa.string())).to_pylist():
        key = item["values"] if item["values"] is not None else "kosong"
        counts[key] = counts.get(key, 0) + item["counts"]


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
