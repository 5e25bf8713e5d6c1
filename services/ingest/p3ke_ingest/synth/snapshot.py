"""``generate()``: write a synthetic P3KE snapshot (individual file + family file), chunk by chunk."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.synth.defects import (
    FILE_KINDS,
    FILE_KINDS_BY_FORMAT,
    ChunkDefects,
    DefectLog,
    DefectRecord,
    Injector,
    number,
    parse_kinds,
)
from p3ke_ingest.synth.people import FAMILY_SCHEMA, INDIVIDUAL_SCHEMA, PeopleGenerator
from p3ke_ingest.synth.regions import load_regions
from p3ke_ingest.synth.writers import XLSX_MAX_ROWS, CsvSink, ParquetSink, Sink, XlsxSink, XlsxTooLarge

T = TypeVar("T")
Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")
DEFAULT_REFERENCE_DATE = dt.date(2023, 2, 28)  # the PKS was signed on 28 February 2023
DEFAULT_CHUNK_FAMILIES = 25_000
FILE_STEM = {"individual": "individu", "family": "keluarga"}
# the only columns whose values can hold a delimiter or quote (region names from the reference table,
# free text); every other value comes from vocabularies without them (tested)
FREE_TEXT_COLUMNS = frozenset(
    {"provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan", "nama", "kepala_keluarga", "alamat"}
)


@dataclass
class SynthResult:
    out_dir: Path
    format: str
    seed: int
    reference_date: dt.date
    files: dict[str, Path]  # "individual" / "family" -> path
    rows: dict[str, int]  # data rows written per level (duplicate_row defects included)
    families: int  # families generated
    individuals: int  # persons generated
    defect_log: Path | None
    defects_by_kind: dict[str, int] = field(default_factory=dict)
    manifest: Path | None = None
    seconds: float = 0.0

    @property
    def individual_path(self) -> Path:
        return self.files["individual"]

    @property
    def family_path(self) -> Path | None:
        return self.files.get("family")

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Individual-file rows per second (the family file is written in the same time)."""
        return self.rows["individual"] / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        lines = [f"p3ke synth: seed {self.seed}, format {self.format}, reference date {self.reference_date}"]
        for level, path in self.files.items():
            lines.append(f"  {path}  {self.rows[level]:,} rows")
        if self.defect_log is not None:
            kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(self.defects_by_kind.items())) or "none"
            lines.append(f"  {self.defect_log}  defects: {kinds}")
        lines.append(
            f"  {self.individuals:,} persons in {self.families:,} families; {self.seconds:.1f} s; "
            f"{self.rows_per_second:,.0f} individual rows/s ({self.total_rows / max(self.seconds, 1e-9):,.0f} rows/s"
            " both files)"
        )
        return "\n".join(lines)


def _preamble(level: str, ref: dt.date) -> list[str]:
    what = "DATA INDIVIDU" if level == "individual" else "DATA KELUARGA"
    return [
        f"DATA PENSASARAN PERCEPATAN PENGHAPUSAN KEMISKINAN EKSTREM (P3KE) - {what}",
        f"Kondisi data: {ref:%d-%m-%Y}",
        "",
    ]


def generate(
    out_dir: Path | str,
    *,
    families: int | None = None,
    individuals: int | None = None,
    seed: int = 0,
    fmt: Format | str = "csv",
    reference_date: dt.date | str = DEFAULT_REFERENCE_DATE,
    defects: float = 0.0,
    defect_kinds: Iterable[str] | str | None = None,
    defect_log: Path | str | None = None,
    provinces: Iterable[str] | str | None = None,
    family_file: bool = True,
    chunk_families: int = DEFAULT_CHUNK_FAMILIES,
    progress: bool = False,
) -> SynthResult:
    """Write ``individu.<fmt>`` and ``keluarga.<fmt>`` (and a defect log and ``manifest.json``) to ``out_dir``.

    Give either ``families`` (that many families, their members in the individual file) or
    ``individuals`` (exactly that many persons; the last family may be cut short). The output depends
    only on the arguments: same seed and options (``chunk_families`` included) give byte-identical
    CSV, Parquet and XLSX files (and defect log and manifest). Chunks are generated in a background
    thread while the previous one is written; that changes nothing in the output.

    ``defects`` is the share of data rows spoiled (one kind each, chosen among the row kinds of
    ``defect_kinds``; default all kinds when ``defects`` > 0). File kinds (header_rows, semicolon, bom,
    crlf) in ``defect_kinds`` apply whatever the rate; kinds the format cannot have are skipped unless
    named explicitly, which is an error.
    """
    start = time.perf_counter()
    if (families is None) == (individuals is None):
        raise ValueError("give exactly one of families= or individuals=")
    target = families if families is not None else individuals
    assert target is not None
    if target < 0:
        raise ValueError("the number of families/individuals cannot be negative")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if chunk_families < 1:
        raise ValueError("chunk_families must be positive")
    if isinstance(reference_date, str):
        reference_date = dt.date.fromisoformat(reference_date)
    if isinstance(provinces, str):
        provinces = [p for p in provinces.replace(" ", ",").split(",") if p]
    province_key = tuple(sorted({str(p).zfill(2) for p in provinces})) if provinces else None

    explicit = defect_kinds is not None
    kinds = parse_kinds(defect_kinds) if explicit else (parse_kinds(None) if defects > 0 else ())
    unsupported = [k for k in kinds if k in FILE_KINDS and k not in FILE_KINDS_BY_FORMAT[fmt]]
    if unsupported and explicit:
        raise ValueError(f"{fmt} files cannot have the defect(s): {', '.join(unsupported)}")
    kinds = tuple(k for k in kinds if k not in unsupported)
    file_kinds = {k for k in kinds if k in FILE_KINDS}
    logging_defects = defects > 0 or bool(file_kinds)

    if fmt == "xlsx":
        rows_needed = (individuals or 0) * (1 + defects) + 4
        if (families is not None and families + 4 > XLSX_MAX_ROWS) or rows_needed > XLSX_MAX_ROWS:
            raise XlsxTooLarge(f"an XLSX worksheet holds at most {XLSX_MAX_ROWS:,} rows; use csv or parquet")

    regions = load_regions(province_key)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    levels = ["individual", "family"] if family_file else ["individual"]
    paths = {level: out / f"{FILE_STEM[level]}.{fmt}" for level in levels}
    log_path = (Path(defect_log) if defect_log is not None else out / "defects.csv") if logging_defects else None

    preamble: dict[str, list[str]] = {
        level: _preamble(level, reference_date) if "header_rows" in file_kinds else [] for level in levels
    }
    line_offset = {level: (None if fmt == "parquet" else len(preamble[level]) + 1) for level in levels}
    sinks: dict[str, Sink] = {}
    log: DefectLog | None = None
    made_families = made_individuals = 0
    try:
        for level in levels:
            columns = cols.columns(level)  # type: ignore[arg-type]
            if fmt == "csv":
                sinks[level] = CsvSink(
                    paths[level],
                    columns,
                    delimiter=";" if "semicolon" in file_kinds else ",",
                    eol="\r\n" if "crlf" in file_kinds else "\n",
                    bom="bom" in file_kinds,
                    preamble=preamble[level],
                    check=FREE_TEXT_COLUMNS,
                )
            elif fmt == "xlsx":
                sinks[level] = XlsxSink(
                    paths[level],
                    columns,
                    sheet="Individu" if level == "individual" else "Keluarga",
                    preamble=preamble[level],
                    created=dt.datetime.combine(reference_date, dt.time()),
                )
            else:
                sinks[level] = ParquetSink(paths[level], INDIVIDUAL_SCHEMA if level == "individual" else FAMILY_SCHEMA)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = DefectLog(log_path)
            log.write(_file_records(paths, file_kinds, line_offset))
        injectors = {
            level: Injector(
                level=level,
                rate=defects,
                kinds=kinds,
                fmt=fmt,
                seed=seed,
                reference_date=reference_date,
                known_codes=regions.all_codes,
            )
            for level in levels
        }
        gen = PeopleGenerator(regions, seed, reference_date)

        def chunks() -> Iterator[tuple[int, int, dict[str, ChunkDefects]]]:
            """Generate and spoil chunk after chunk (runs in a background thread)."""
            done_families = done_individuals = 0
            index = 0
            while True:
                if families is not None:
                    n = min(chunk_families, families - done_families)
                    if n <= 0:
                        return
                    fam_table, ind_table = gen.chunk(index, n)
                else:
                    remaining = individuals - done_individuals  # type: ignore[operator]
                    if remaining <= 0:
                        return
                    fam_table, ind_table = gen.chunk(index, chunk_families, max_individuals=remaining)
                done_families += fam_table.num_rows
                done_individuals += ind_table.num_rows
                tables = {"individual": ind_table, "family": fam_table}
                yield (
                    fam_table.num_rows,
                    ind_table.num_rows,
                    {level: injectors[level].apply(index, tables[level]) for level in levels},
                )
                index += 1

        from tqdm import tqdm

        bar = tqdm(
            total=target,
            unit=" families" if families is not None else " persons",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            desc="p3ke synth",
        )
        with bar:
            # generating the next chunk overlaps with formatting and writing this one (Arrow kernels and
            # file writes release the GIL); the order of the chunks, and so the output, stays the same
            for n_fam, n_ind, spoiled_by_level in _in_background(chunks(), depth=1):
                made_families += n_fam
                made_individuals += n_ind
                for level in levels:
                    spoiled = spoiled_by_level[level]
                    sink = sinks[level]
                    records = number(
                        spoiled.spoiled,
                        spoiled.table,
                        file=paths[level].name,
                        level=level,
                        first_data_row=sink.rows + 1,
                        line_offset=line_offset[level],
                    )
                    sink.write(spoiled.table)
                    if log is not None:
                        log.write(records)
                bar.update(n_fam if families is not None else n_ind)
    except BaseException:
        for sink in sinks.values():
            with contextlib.suppress(Exception):  # best effort while failing
                sink.close()
        if log is not None:
            log.close()
        for p in [*paths.values(), *([log_path] if log_path else [])]:
            p.unlink(missing_ok=True)
        raise
    for sink in sinks.values():
        sink.close()
    if log is not None:
        log.close()

    result = SynthResult(
        out_dir=out,
        format=fmt,
        seed=seed,
        reference_date=reference_date,
        files=paths,
        rows={level: sinks[level].rows for level in levels},
        families=made_families,
        individuals=made_individuals,
        defect_log=log_path,
        defects_by_kind=dict(sorted(log.by_kind.items())) if log is not None else {},
    )
    result.manifest = _write_manifest(result, defects, kinds, province_key, chunk_families)
    result.seconds = time.perf_counter() - start
    return result


_END = object()


def _in_background(items: Iterator[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` in a worker thread, at most ``depth`` items ahead; errors are re-raised here."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=work, name="p3ke-synth-generator", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def _file_records(
    paths: dict[str, Path], file_kinds: set[str], line_offset: dict[str, int | None]
) -> list[DefectRecord]:
    details = {
        "header_rows": "title rows above the header",
        "semicolon": "fields separated by ';'",
        "bom": "UTF-8 byte order mark at the start",
        "crlf": "CRLF line endings",
    }
    records = []
    for level, path in paths.items():
        for kind in FILE_KINDS:
            if kind not in file_kinds:
                continue
            line = line_offset[level] if kind == "header_rows" else 1
            records.append(
                DefectRecord(file=path.name, level=level, kind=kind, data_row=None, line=line, detail=details[kind])
            )
    return records


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    return path.name if path.parent.resolve() == base.resolve() else str(path)


def _write_manifest(
    result: SynthResult,
    rate: float,
    kinds: tuple[str, ...],
    provinces: tuple[str, ...] | None,
    chunk_families: int,
) -> Path:
    manifest = {
        "generator": "p3ke synth",
        "seed": result.seed,
        "format": result.format,
        "reference_date": result.reference_date.isoformat(),
        "provinces": list(provinces) if provinces else None,
        "chunk_families": chunk_families,
        "families": result.families,
        "individuals": result.individuals,
        "files": {
            level: {"name": path.name, "rows": result.rows[level], "columns": list(cols.columns(level))}  # type: ignore[arg-type]
            for level, path in result.files.items()
        },
        "defects": {
            "rate": rate,
            "kinds": list(kinds),
            "log": _relative(result.defect_log, result.out_dir),
            "by_kind": result.defects_by_kind,
        },
    }
    path = result.out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
