"""Ingest: a synthetic individual CSV of BENCH_ROWS persons (default 10^7, 1 % defects) through the whole
ingest -- submission, validation, snapshot, publication with its event -- against DuckDB's plain
`read_csv -> Parquet` of the same file, and against the same publication decided by hand in one DuckDB statement
(`VALIDATED`: the layout's error rules, the first occurrence of a NIK kept, sorted by region), whose snapshot must
agree with ours row for row (`agree`; the benchmark stops otherwise).

Each measured run is a child process (`python -m bench.ingest ingest|reference|validated ...`) that reports its
own wall time and peak RSS, so the figures do not mix. BENCH_DEFECTS sets the defect rate,
BENCH_THREADS the engine's threads (default: all cores), BENCH_MEMORY_MB its memory limit.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from bench.report import env_int, write


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_reference(csv_path: str, out: str, threads: int) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={threads}")
    started = time.perf_counter()
    con.execute(f"""COPY (SELECT * FROM read_csv('{csv_path}', quote='"', escape='"')) TO '{out}' (FORMAT parquet)""")
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _rss_mb()}


DEFECTS = ("nik_scientific", "nik_apostrophe", "nik_missing", "duplicate_row", "duplicate_nik", "region_unknown",
           "desil_out_of_range", "birthdate_mismatch", "sex_mismatch")
"""The defects in the benchmark's file (BENCH_DEFECTS of its rows)."""

# The same publication decided by hand in one statement: the P3KE layout's error rules on values in their canonical
# form (NIK: 16 digits, its province known, its birth date and sex those of the row, serial not 0000; birth date an
# ISO date from 1900 to today; region code a known village; decile 1-4; identifiers and name present; address and
# name within 1,000 bytes), apostrophes before a NIK removed (a warning, not an error), the first occurrence of a
# NIK kept, the rows sorted by region code then file order, typed as the snapshot is. No findings report, no
# normalisation of other forms (dates in other formats, sex as "L"/"P", separators in a NIK): the bench's defects
# need none. `agree` checks that it publishes what ours publishes. It is the same work written plainly, not a lower
# bound: its window over whole rows spills at 10^7 rows, and a hand-written anti-join or a two-step form through a
# Parquet staging file were slower still at 10^6 (7.5 s and 10.0 s against its 5.3 s).
VALIDATED = """COPY (
WITH src AS (SELECT *, row_number() OVER () AS r FROM read_csv({csv}, header=true, all_varchar=true, quote='"',
                  escape='"', strict_mode=true)),
t AS (SELECT *, CASE WHEN regexp_full_match(ltrim(nik, {apostrophes}), '[0-9]{{16}}') THEN ltrim(nik, {apostrophes})
                END AS n, TRY_CAST(tanggal_lahir AS DATE) AS tl, TRY_CAST(desil_kesejahteraan AS INTEGER) AS d
      FROM src),
u AS (SELECT *, min(r) OVER (PARTITION BY n) AS first_r, CAST(substr(n, 7, 2) AS INTEGER) AS dd FROM t)
SELECT id_keluarga_p3ke, id_individu, provinsi, kabupaten_kota, kecamatan, desa_kelurahan, kode_kemendagri,
       CAST(d AS TINYINT) AS desil_kesejahteraan, alamat, nama, n AS nik, {flag_padan} AS padan_dukcapil,
       jenis_kelamin, hubungan_dengan_kepala_keluarga, tl AS tanggal_lahir, status_kawin, pekerjaan, pendidikan,
       {flags_a},
       CAST(CASE WHEN TRY_CAST(persentil AS INTEGER) BETWEEN 1 AND 40 THEN TRY_CAST(persentil AS INTEGER) END
            AS TINYINT) AS persentil,
       CASE WHEN regexp_full_match(no_kk, '[0-9]{{16}}') THEN no_kk END AS no_kk, status_pekerjaan,
       CAST(CASE WHEN TRY_CAST(umur AS INTEGER) BETWEEN 0 AND 150 THEN TRY_CAST(umur AS INTEGER) END AS SMALLINT)
            AS umur,
       {flags_b}
FROM u
WHERE n IS NOT NULL AND r = first_r AND right(n, 4) <> '0000'
  AND substr(n, 1, 2) IN (SELECT code FROM ref WHERE level = 1)
  AND tl BETWEEN DATE '1900-01-01' AND {today}
  AND day(tl) = CASE WHEN dd > 40 THEN dd - 40 ELSE dd END AND month(tl) = CAST(substr(n, 9, 2) AS INTEGER)
  AND year(tl) % 100 = CAST(substr(n, 11, 2) AS INTEGER)
  AND jenis_kelamin IN ('Laki-laki', 'Perempuan') AND (dd > 40) = (jenis_kelamin = 'Perempuan')
  AND kode_kemendagri IN (SELECT code FROM ref WHERE level = 4) AND d BETWEEN 1 AND 4
  AND trim(id_keluarga_p3ke) <> '' AND trim(id_individu) <> '' AND trim(nama) <> ''
  AND trim(hubungan_dengan_kepala_keluarga) <> '' AND strlen(alamat) <= 1000 AND strlen(nama) <= 1000
ORDER BY CAST(kode_kemendagri AS BIGINT), r
) TO {out} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"""
FLAGS_A = ("usia_dibawah_7", "usia_7_12", "usia_13_15", "usia_16_18", "usia_19_21", "usia_22_59", "usia_60_keatas",
           "penerima_bpnt", "penerima_bpum", "penerima_bst", "penerima_pkh", "penerima_sembako", "resiko_stunting")
FLAGS_B = ("penerima_prakerja", "penerima_kur", "disabilitas")


def _flag(name: str) -> str:
    return f"CASE WHEN {name} = 'Ya' THEN true WHEN {name} = 'Tidak' THEN false END"


def child_validated_reference(csv_path: str, out: str, threads: int, memory_mb: int) -> dict[str, object]:
    """The publication decided by hand (`VALIDATED`), with our engine's memory limit and a spill directory. When
    DuckDB runs out of memory for it, that is the result (`error`), with the time until then."""
    import datetime as dt

    import duckdb

    from p3ke_ingest.domain.nik import APOSTROPHES
    from p3ke_platform.duckdb_engine import sql_text as lit
    from p3ke_platform.reference.wilayah import wilayah_csv_text

    spill = Path(out).with_suffix(".spill")
    spill.mkdir(exist_ok=True)
    regions = Path(out).with_suffix(".wilayah.csv")
    regions.write_text(wilayah_csv_text(), encoding="utf-8")
    con = duckdb.connect(config={"memory_limit": f"{memory_mb}MB", "temp_directory": str(spill)})
    con.execute("SET enable_progress_bar=false")
    if threads:
        con.execute(f"SET threads={threads}")
    started = time.perf_counter()
    con.execute(f"""CREATE TEMP TABLE ref AS SELECT kode AS code, CAST(tingkat AS INTEGER) AS level
        FROM read_csv({lit(str(regions))}, header=true, all_varchar=true)""")
    try:
        con.execute(VALIDATED.format(csv=lit(csv_path), out=lit(out), apostrophes=lit(APOSTROPHES),
                                     today=f"DATE '{dt.date.today().isoformat()}'", flag_padan=_flag("padan_dukcapil"),
                                     flags_a=", ".join(f"{_flag(f)} AS {f}" for f in FLAGS_A),
                                     flags_b=", ".join(f"{_flag(f)} AS {f}" for f in FLAGS_B)))
    except duckdb.OutOfMemoryException as exc:
        return {"error": str(exc).splitlines()[0], "seconds": time.perf_counter() - started,
                "peak_rss_mb": _rss_mb()}
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _rss_mb()}


def agree(ours: Path, reference: Path) -> None:
    """Raise unless the two snapshots hold the same rows in the same order, column for column (compared row by row,
    by position), so that the validated reference is the same work as ours."""
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect()
    row = con.execute("SELECT count(*) FILTER (WHERE a IS DISTINCT FROM b) "
                      "FROM read_parquet(?) AS a POSITIONAL JOIN read_parquet(?) AS b",
                      [str(ours), str(reference)]).fetchone()
    assert row is not None
    if row[0]:
        n_ours, n_ref = (pq.ParquetFile(path).metadata.num_rows for path in (ours, reference))
        raise RuntimeError(f"the snapshot and the validated reference differ in {row[0]:,} rows ({n_ours:,} "
                           f"against {n_ref:,}): the reference no longer restates the layout's rules")


def child_ingest(csv_path: str, data_dir: str, threads: int, memory_mb: int) -> dict[str, object]:
    from p3ke_ingest.bootstrap import SERVICE
    from p3ke_ingest.config import IngestSettings
    from p3ke_ingest.service_layer import publication, submissions
    from p3ke_ingest.service_layer.jobs import JobRunner
    from p3ke_platform.migrations import upgrade
    from p3ke_platform.service import Runtime
    from p3ke_platform.settings import load_settings
    from p3ke_schemas import Actor

    settings = load_settings(IngestSettings, service="ingest", data_dir=Path(data_dir), env="test",
                             relay_in_api=False, jobs_in_api=False, ingest_import_dirs=[Path(csv_path).parent],
                             ingest_engine_threads=threads, ingest_engine_memory_mb=memory_mb)
    upgrade(SERVICE, settings)
    ctx = Runtime(SERVICE, settings).context
    actor = Actor(org="kemenkopmk", subject="bench", roles=["data-steward"])
    path = Path(csv_path)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    runner = JobRunner(ctx)  # built outside the timing
    queued = submissions.submit(ctx, actor, [{"label": "individual", "kind": "path", "path": str(path),
                                              "name": path.name, "bytes": path.stat().st_size}])
    job = runner.claim()
    assert job is not None and job["submission_id"] == queued.submission_id

    from p3ke_ingest.service_layer import validation

    original = validation.run_statement_with_progress
    last = {"t": time.perf_counter()}

    def timed(engine, phase, fn, progress, interval=1.0):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return original(engine, phase, fn, progress, interval)
        finally:
            phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t
            last["t"] = time.perf_counter()

    validation.run_statement_with_progress = timed  # type: ignore[assignment]
    status = runner.process(job)
    seconds = time.perf_counter() - started
    with ctx.runtime.sessions() as session:
        version = publication.current_version(session)
    return {"seconds": seconds, "peak_rss_mb": _rss_mb(), "status": status,
            "snapshot": url2pathname(urlparse(version["snapshot_uri"]).path) if version else None,
            "individuals": version["individuals"] if version else 0,
            "rows_rejected": version["rows_rejected"] if version else 0,
            "phase_seconds": {k: round(v, 2) for k, v in phases.items()}}


def _validated_figures(validated: dict[str, object], ours_seconds: float) -> dict[str, object]:
    """The validated reference's figures; when it ran out of memory, that error and how long it ran, no ratio."""
    seconds = round(float(validated["seconds"]), 2)  # type: ignore[arg-type]
    if "error" in validated:
        return {"validated_reference_error": validated["error"], "validated_reference_failed_after_seconds": seconds,
                "validated_reference_peak_rss_mb": validated["peak_rss_mb"]}
    return {"validated_reference_seconds": seconds, "validated_reference_peak_rss_mb": validated["peak_rss_mb"],
            "validated_ratio": round(ours_seconds / seconds, 2)}


def _child(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "bench.ingest", *args], capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"bench.ingest {args[0]} exited with {out.returncode}:\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from p3ke_ingest.synth import generate

    rows = env_int("BENCH_ROWS", 10_000_000)
    threads = env_int("BENCH_THREADS", 0)
    memory_mb = env_int("BENCH_MEMORY_MB", 1024)
    defects = float(os.environ.get("BENCH_DEFECTS", "0.01"))
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-ingest-"))
    try:
        synth = generate(scratch / "in", individuals=rows, seed=1, defects=defects, family_file=False,
                         defect_kinds=list(DEFECTS))
        csv_path = synth.individual_path
        csv_mb = csv_path.stat().st_size / 2**20
        # the reference runs before and after ours and the faster run counts, so that a machine shared
        # with other work (load average reported) skews the ratio less
        load_before = os.getloadavg()[0]
        ref_runs = [_child("reference", str(csv_path), str(scratch / "ref.parquet"), str(threads))]
        ours = _child("ingest", str(csv_path), str(scratch / "data"), str(threads), str(memory_mb))
        ref_runs.append(_child("reference", str(csv_path), str(scratch / "ref.parquet"), str(threads)))
        validated_out = scratch / "validated.parquet"
        validated = _child("validated", str(csv_path), str(validated_out), str(threads), str(memory_mb))
        if "error" not in validated:
            agree(Path(str(ours["snapshot"])), validated_out)
        load_after = os.getloadavg()[0]
        ref = min(ref_runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
        ours_s, ref_s = float(ours["seconds"]), float(ref["seconds"])  # type: ignore[arg-type]
        write("ingest", {
            "rows": synth.rows["individual"], "csv_mb": round(csv_mb, 1), "defect_rate": defects,
            "generator_rows_per_s": round(synth.rows_per_second), "generator_seconds": round(synth.seconds, 2),
            "status": ours["status"], "published": ours["individuals"], "rejected": ours["rows_rejected"],
            "seconds": round(ours_s, 2), "rows_per_s": round(synth.rows["individual"] / ours_s),
            "peak_rss_mb": ours["peak_rss_mb"], "phase_seconds": ours["phase_seconds"],
            "reference": "DuckDB read_csv -> Parquet, same file, same threads",
            "reference_seconds": round(ref_s, 2), "reference_rows_per_s": round(synth.rows["individual"] / ref_s),
            "reference_runs_seconds": [round(float(r["seconds"]), 2) for r in ref_runs],  # type: ignore[arg-type]
            "reference_peak_rss_mb": ref["peak_rss_mb"], "ratio": round(ours_s / ref_s, 2),
            "validated_reference": "the same publication decided by hand in one DuckDB statement (bench.ingest."
                                   "VALIDATED), same file, threads and memory limit; when it finishes, its snapshot "
                                   "must equal ours (agree)",
            **_validated_figures(validated, ours_s),
            "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
            "extrapolated_1e8_minutes": round(ours_s * 1e8 / synth.rows["individual"] / 60, 1),
            "threads": threads or os.cpu_count(), "memory_limit_mb": memory_mb,
        })
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "reference":
        print(json.dumps(child_reference(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "validated":
        print(json.dumps(child_validated_reference(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "ingest":
        print(json.dumps(child_ingest(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        main()
