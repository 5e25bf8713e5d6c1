"""What ingest holds about one person, for a data-subject access request (UU PDP Art. 32): their row in every
published snapshot still kept (the current one, and superseded ones whose file is still on disk), and their
household's row of the family snapshot.

Mounted as `POST /v1/subject-records` through `p3ke_platform.subject_records.subject_records_router(lookup)`,
which checks the caller (compliance auditors) and records the lookup as a `read` under the person's keyed
reference. The snapshots are searched in DuckDB, filtered by NIK inside the Parquet scan (row groups whose NIK
range cannot hold it are skipped), so a national snapshot is never loaded into Python.

What is answered: the person's own row as held, with their NIK masked to its first four digits (the caller typed
it; it is never answered back in full). Their household's row holds the head of the family's own personal data
(name, NIK, date of birth, work, schooling); for a member who is not the head these are left out, as they are
another person's.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from p3ke_ingest.adapters.orm import dataset_versions
from p3ke_ingest.domain.findings import mask_value
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_ingest.service_layer.publication import current_version_id
from p3ke_platform.duckdb_engine import connect, sql_path
from p3ke_platform.subject_records import FieldValue, HeldRecord

RESOURCE_TYPE = "dataset-version"
HEAD_PERSONAL = ("kepala_keluarga", "nik", "padan_dukcapil", "jenis_kelamin", "tanggal_lahir", "pekerjaan",
                 "pendidikan")
"""The head of the family's own fields in a family row: shown only to the head."""
MEMORY = "256MB"


def _value(value: Any) -> FieldValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _fields(row: dict[str, Any], nik: str) -> dict[str, FieldValue]:
    out = {k: _value(v) for k, v in row.items()}
    if out.get("nik") == nik:
        out["nik"] = mask_value("nik", nik)
    return out


def _household(row: dict[str, Any], nik: str) -> dict[str, FieldValue]:
    if row.get("nik") == nik:  # the person heads the family: it is their own row
        return _fields(row, nik)
    return {k: _value(v) for k, v in row.items() if k not in HEAD_PERSONAL}


def _kept(ctx: IngestContext) -> list[dict[str, Any]]:
    """Published versions, newest first, each with its current flag; a version whose file is gone is not kept."""
    with ctx.sessions() as session:
        rows = session.execute(select(dataset_versions).where(dataset_versions.c.status == "published")
                               .order_by(dataset_versions.c.published_at.desc(),
                                         dataset_versions.c.dataset_version_id)).mappings().all()
        current = current_version_id(session)
    return [{**dict(r), "current": r["dataset_version_id"] == current} for r in rows
            if r["snapshot_uri"] and ctx.storage.snapshot_path(r["snapshot_uri"]).is_file()]


def _rows(con: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _of_version(con: Any, ctx: IngestContext, version: dict[str, Any], nik: str) -> list[HeldRecord]:
    vid = version["dataset_version_id"]
    common = {"resource_type": RESOURCE_TYPE, "resource_id": vid, "held_since": version["published_at"],
              "current": version["current"]}
    label = "terkini" if version["current"] else "lama, masih disimpan"
    individual = sql_path(ctx.storage.snapshot_path(version["snapshot_uri"]))
    people = _rows(con, f"SELECT * FROM read_parquet('{individual}') WHERE nik = ?", [nik])
    found = [HeldRecord(source="snapshot", title=f"Data P3KE versi {vid} ({label}): data individu",
                        fields=_fields(p, nik), **common) for p in people]
    family_uri = version["family_snapshot_uri"]
    if family_uri and ctx.storage.snapshot_path(family_uri).is_file():
        families = sorted({str(p["id_keluarga_p3ke"]) for p in people})
        marks = ", ".join("?" for _ in families)
        where = f"nik = ? OR id_keluarga_p3ke IN ({marks})" if families else "nik = ?"
        path = sql_path(ctx.storage.snapshot_path(family_uri))
        for row in _rows(con, f"SELECT * FROM read_parquet('{path}') WHERE {where}", [nik, *families]):
            found.append(HeldRecord(source="snapshot", title=f"Data P3KE versi {vid} ({label}): data keluarga",
                                    fields=_household(row, nik), **common))
    return found


def lookup(ctx: IngestContext, nik: str) -> list[HeldRecord]:
    """The person's rows in every kept snapshot (current first), individual and family; [] when none."""
    versions = _kept(ctx)
    if not versions:
        return []
    scratch = Path(tempfile.mkdtemp(prefix="subject-records-", dir=ctx.storage.root / "work"))
    try:
        with connect(threads=1, memory=MEMORY, temp_dir=scratch) as con:
            return [record for version in versions for record in _of_version(con, ctx, version, nik)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
