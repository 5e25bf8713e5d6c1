"""A data subject's rows in the handovers delivery holds, for an access request (UU PDP Art. 32).

Membership first, from each prepared handover's ledger of keyed references (`subject-refs.txt`, one
HMAC of a NIK a line, written while the package was built): the ledgers are scanned by Arrow in
bounded blocks, so a million-row handover never sits in Python. Only for the handovers that name the
person is the extract read, filtered by NIK: a Parquet extract one row group's `nik` column at a time,
and only the row group holding the person in full; a CSV extract in streamed batches. The extract is
checked against the SHA-256 the handover recorded, so the row answered is the row handed over.

A handover prepared before ledgers were kept is checked in its extract directly. Handovers that never
built a package (`preparing`, `failed`, `refused`) handed nothing over and are not answered.

When the plaintext extract is gone (targeting's retention removed it) or changed, only the encrypted
package remains: its password is cleared once released and it is never decrypted to answer a lookup
(the key exists to release the package to its recipient, not to search it), so the record says that
the person is in the handover and which columns it carried, and no values. A revoked handover (its
package deleted, its ledger and BAST kept) is answered with `current` false.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from p3ke_delivery.adapters import extract, subjects
from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.domain.model import UNPREPARED, Status, aware
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.logging import get_logger
from p3ke_platform.shared_files import sha256_file
from p3ke_platform.subject_records import FieldValue, HeldRecord

log = get_logger(__name__)

SOURCE = "extract"
RESOURCE_TYPE = "package"
"""As the audit log names a handover's released data (the download events carry the subjects' references)."""
NOTE = "keterangan"
COLUMNS = "kolom_diserahkan"
GONE = ("isi baris tidak lagi tersedia dalam bentuk terbuka: berkas ekstrak sudah dihapus atau berubah dan hanya "
        "paket terenkripsi yang tersisa; yang diketahui hanya bahwa orang ini termasuk dalam serah terima ini / "
        "the row's content is no longer held in plaintext (the extract file was removed or changed; only the "
        "encrypted package remains): only membership of this handover is known")


def lookup(ctx: DeliveryContext, nik: str) -> list[HeldRecord]:
    """Every prepared handover whose extract holds `nik`, oldest first, one record per row of the person."""
    ring = ctx.settings.subject_key_ring
    with ctx.unit_of_work() as uow:
        rows = [dict(r) for r in uow.session.execute(
            select(handovers).where(handovers.c.status.not_in([str(s) for s in UNPREPARED]))
            .order_by(handovers.c.created_at, handovers.c.handover_id)).mappings()]
    records: list[HeldRecord] = []
    for row in rows:
        ledger = ctx.storage.path(str(row["handover_id"]), subjects.REFS_FILE)
        key = ring.get(row.get("subject_key_id"))  # the key the ledger was written with (NULL: k1)
        ref = key.ref(nik) if key is not None else subject_ref(ctx.settings.subject_hash_key, nik)
        if ledger.is_file() and not _ledger_names(ledger, ref):
            continue
        records += _records(ctx, row, nik, named=ledger.is_file())
    return records


def _ledger_names(path: Path, ref: str) -> bool:
    """Whether the ledger holds `ref` (read in blocks by Arrow; a line is one 64-hex reference)."""
    import pyarrow.csv as pcsv

    if path.stat().st_size == 0:
        return False
    reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(column_names=["ref"], block_size=1 << 22),
                           convert_options=pcsv.ConvertOptions(column_types={"ref": pa.string()}))
    return any(pc.any(pc.equal(batch.column(0), ref)).as_py() for batch in reader)


def _records(ctx: DeliveryContext, row: dict[str, Any], nik: str, *, named: bool) -> list[HeldRecord]:
    """The person's rows of one handover's extract; membership only when the plaintext is not the one handed over.
    Without a ledger (`named` false) the extract alone says whether the person is in it."""
    path = _intact_extract(ctx, row)
    if path is not None:
        found = list(_rows_of(path, nik, ctx.settings.delivery_batch_rows))
        return [_record(row, fields) for fields in found]
    if not named:
        log.warning("subject lookup: handover without ledger or extract", handover_id=row["handover_id"])
        return []
    columns = ", ".join(json.loads(row["fields"] or "[]"))
    return [_record(row, {NOTE: GONE, COLUMNS: columns})]


def _intact_extract(ctx: DeliveryContext, row: dict[str, Any]) -> Path | None:
    """The extract file as it was handed over, or None when it is gone or no longer the same."""
    try:
        path = extract.resolve(str(row["extract_uri"] or ""), ctx.settings.extract_root)
    except extract.ExtractError:
        return None
    if not path.is_file() or sha256_file(path) != row["extract_sha256"]:
        return None
    return path


def _rows_of(path: Path, nik: str, batch_rows: int) -> Iterator[dict[str, FieldValue]]:
    """The extract's rows whose `nik` is `nik`, as plain values."""
    names = extract.schema(path).names
    if subjects.NIK_COLUMN not in names:
        return
    if extract.kind(path) == "parquet":
        yield from _parquet_rows(path, nik)
        return
    for batch in extract.batches(path, batch_rows):
        yield from _plain(batch.filter(pc.equal(batch.column(subjects.NIK_COLUMN), nik)))


def _parquet_rows(path: Path, nik: str) -> Iterator[dict[str, FieldValue]]:
    """Only the `nik` column of each row group is read; a row group that holds the person is read in full."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        for group in range(pf.num_row_groups):
            niks = pf.read_row_group(group, columns=[subjects.NIK_COLUMN]).column(0)
            mask = pc.equal(pc.cast(niks, pa.string()), nik)
            if pc.any(mask).as_py():
                yield from _plain(pf.read_row_group(group).filter(mask))


def _plain(rows: pa.Table | pa.RecordBatch) -> Iterator[dict[str, FieldValue]]:
    """Rows as column -> str | int | float | bool | None (dates, times and decimals as ISO / decimal text)."""
    columns = []
    for name, column in zip(rows.schema.names, rows.columns, strict=True):
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                or pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
            column = pc.cast(column, pa.string())
        columns.append((name, column.to_pylist()))
    for i in range(rows.num_rows):
        yield {name: values[i] for name, values in columns}


def _record(row: dict[str, Any], fields: dict[str, FieldValue]) -> HeldRecord:
    created = aware(row["created_at"])
    bast = f", BAST {row['bast_number']}" if row.get("bast_number") else ""
    status = " (dicabut)" if row["status"] == Status.REVOKED else ""
    return HeldRecord(
        source=SOURCE, resource_type=RESOURCE_TYPE, resource_id=str(row["handover_id"]),
        title=f"Ekstrak program {row['program']} tanggal {created:%Y-%m-%d}, serah terima {row['handover_id']}"
              f"{bast}{status}",
        held_since=created, current=row["status"] != Status.REVOKED, fields=fields)
