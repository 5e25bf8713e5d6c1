"""Shared by feedback's tests: a synthetic snapshot, extracts and handovers, a feedback runtime on
SQLite (or a given database), feedback files in every match class, batches submitted, the aggregates checked
against a recomputation, and reading the outbox."""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from p3ke_feedback.bootstrap import SERVICE
from p3ke_feedback.config import FeedbackSettings
from p3ke_feedback.service_layer import aggregates, batches
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, DatasetUpdated, ExtractPrepared, HandoverSigned, Signer
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.runtime_events import apply as apply  # re-exported for the tests
from tests.unit.runtime_events import emitted as emitted

AGREEMENT = "pks-p3ke-2023"
OFFICER = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
STEWARD = Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])
SIGNED_AT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
HEADER = ["NIK", "Nama", "Kode Wilayah", "Program", "Kegiatan", "Tanggal Mulai", "Tanggal Selesai", "Status",
          "Nilai Manfaat"]
EXTRACT_COLUMNS = ("nik", "kode_kemendagri", "desil_kesejahteraan")  # what an extract carries unless told


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_runtime(tmp: Path, database_url: str | None = None, **overrides: Any) -> Runtime:
    """A migrated feedback runtime; `overrides` are settings. The agreement is the bundled one plus a test addendum
    that keeps it in force to 2099 (`far_agreement_dir`: the terms in force today are unchanged), so that tests on
    real time outlive the example addendum's term (28 February 2027); `agreement_dir=None` asks for the bundled one."""
    settings = load_settings(FeedbackSettings, service="feedback", env="test", data_dir=tmp / "data",
                             database_url=database_url or f"sqlite:///{tmp / 'feedback.db'}",
                             **{"agreement_include_examples": True, "agreement_dir": far_agreement_dir(tmp),
                                "relay_in_api": False,
                                "feedback_shared_root": tmp, **overrides})
    upgrade(SERVICE, settings)
    return Runtime(SERVICE, settings)


def synthetic_snapshot(out: Path, individuals: int, seed: int, provinces: list[str]) -> Path:
    """`individuals` synthetic persons in `provinces`, in the Parquet layout ingest publishes (no family file)."""
    from p3ke_ingest.synth import generate

    return generate(out, individuals=individuals, fmt="parquet", seed=seed, provinces=provinces,
                    family_file=False).individual_path


def snapshot_people(snapshot: Path) -> list[dict[str, Any]]:
    """nik, kode_kemendagri, desil of every person of the snapshot with a NIK."""
    table = pq.read_table(snapshot, columns=list(EXTRACT_COLUMNS))
    return [r for r in table.to_pylist() if r["nik"]]


def feedback_runtime(tmp: Path, snapshot: Path, database_url: str | None = None,
                     **overrides: Any) -> tuple[Runtime, list[dict[str, Any]]]:
    """A feedback runtime whose shared root holds the snapshot (and `tmp`'s extracts), and the snapshot's persons."""
    rt = make_runtime(tmp, database_url, feedback_shared_root=snapshot.parents[1], **overrides)
    return rt, snapshot_people(snapshot)


def consistent_cells(rt: Runtime) -> dict[tuple[Any, ...], dict[str, int]]:
    """The running aggregate cells, once checked equal to a recomputation from the stored rows."""
    with rt.sessions() as session:
        current = aggregates.current_cells(session)
        assert current == aggregates.recompute(session, rt.context.storage)
    return current


def write_extract(path: Path, people: Sequence[dict[str, Any]], columns: Iterable[str] = EXTRACT_COLUMNS) -> str:
    columns = list(columns)
    data = {c: [p[c] for p in people] for c in columns}
    arrays = {c: pa.array(v, pa.int8() if c == "desil_kesejahteraan" else pa.string()) for c, v in data.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), path)
    return sha256_of(path)


def dataset_event(snapshot: Path, version: str = "dv-1") -> DatasetUpdated:
    return DatasetUpdated(dataset_version_id=version, agreement_id=AGREEMENT, snapshot_uri=snapshot.as_uri(),
                          snapshot_sha256=sha256_of(snapshot),
                          individuals=pq.ParquetFile(snapshot).metadata.num_rows, families=0,
                          published_by=STEWARD, published_at=datetime(2026, 1, 5, tzinfo=UTC))


def prepared_extract(tmp: Path, extract_id: str, people: Sequence[dict[str, Any]],
                     columns: Iterable[str] = EXTRACT_COLUMNS, **event: Any) -> ExtractPrepared:
    """The extract `tmp/extracts/<extract_id>.parquet` of `people` written, and its extract-prepared event."""
    path = tmp / "extracts" / f"{extract_id}.parquet"
    write_extract(path, people, columns)
    return extract_event(path, extract_id, **event)


def extract_event(path: Path, extract_id: str, program: str = "padat_karya", version: str = "dv-1",
                  counts_by_desil: dict[str, int] | None = None) -> ExtractPrepared:
    rows = pq.ParquetFile(path).metadata.num_rows
    return ExtractPrepared(request_id=f"req-{extract_id}", extract_id=extract_id, agreement_id=AGREEMENT,
                           program=program, status="accepted", dataset_version_id=version, record_count=rows,
                           counts_by_desil=counts_by_desil or {}, file_uri=path.as_uri(), file_sha256=sha256_of(path),
                           prepared_at=SIGNED_AT - timedelta(days=5))


def handover_event(handover_id: str, extract_id: str, record_count: int, program: str = "padat_karya",
                   signed_at: datetime = SIGNED_AT, party2_org: str = "kemnaker",
                   agreement_id: str = AGREEMENT) -> HandoverSigned:
    signers = [Signer(party=1, org="kemenkopmk", signatory_id="sig-kemenkopmk-deputi", certificate_sha256="a" * 64,
                      signed_at=signed_at),
               Signer(party=2, org=party2_org, signatory_id="sig-kemnaker-kabarenbang",  # type: ignore[arg-type]
                      certificate_sha256="b" * 64, signed_at=signed_at)]
    return HandoverSigned(handover_id=handover_id, bast_number=f"001/BAST-P3KE/PK/III/2026-{handover_id}",
                          agreement_id=agreement_id, extract_id=extract_id, program=program,
                          record_count=record_count, package_sha256="c" * 64, bast_sha256="d" * 64,
                          signers=signers, signed_at=signed_at)


def feedback_row(nik: str | None, *, nama: str = "Penerima Sintetis", kode: str = "3201011001",
                 program: str = "padat_karya", kegiatan: str = "Padat karya jalan desa, Bogor",
                 mulai: str = "2026-04-01", selesai: str = "2026-04-30", status: str = "selesai",
                 nilai: str = "1500000") -> list[str]:
    return [nik or "", nama, kode, program, kegiatan, mulai, selesai, status, nilai]


def submit(rt: Runtime, path: Path, handover: str, program: str, supersedes: str | None = None) -> batches.Stored:
    """The feedback file at `path` submitted by OFFICER (as an upload through the API would be)."""
    upload = batches.Upload(path=path, filename=path.name, size=path.stat().st_size, sha256=sha256_of(path))
    return batches.submit(rt.context, OFFICER, batches.Submission(handover, program, supersedes), upload)


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER, delimiter: str = ",",
              title_rows: Sequence[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        for title in title_rows:
            fh.write(title + "\n")
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def absent_nik(present: set[str], district: str = "320101") -> str:
    """A well-formed NIK that is in neither the snapshot nor an extract."""
    for serial in range(1, 10000):
        nik = f"{district}150790{serial:04d}"
        if nik not in present:
            return nik
    raise AssertionError("no free NIK")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"

