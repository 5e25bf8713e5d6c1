"""Delivery: building the encrypted package for a large extract, and verifying BAST signatures.

Sizes: BENCH_ROWS (the extract, default 10^6 synthetic people), BENCH_SIGNATURES (verifications timed,
default 20). Package building runs in a child process per size so that its peak RSS is its own; it
runs for BENCH_ROWS and for a tenth of it, to show that memory does not grow with the extract
(streaming). The reference is 7-Zip (`7z a -tzip -mem=AES256 -mx=1`) encrypting the CSV alone, in
the same run; `ratio` = ours / reference. The package is checked with `7z t` and its password.
Signature verification is the server-side check of an upload carrying the second signature (both
signatures validated against the trust anchor, plus the difference analysis from the issued BAST).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import env_int, peak_rss_mb, write

PASSWORD = "Bench-Bench-Bench-Bench-Bench"


def _child(extract: str, out: str) -> None:
    """Build one package (in a child process) and print what it measured."""
    from p3ke_delivery.adapters import package

    started = time.perf_counter()
    built = package.build(Path(extract), Path(out), PASSWORD, base="P3KE_padat_karya_bench",
                          manifest={"bast_number": "001/BAST-P3KE/PK/I/2026"})
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": built.rows, "bytes": built.size,
                      "files": {f.name: f.size for f in built.files}}))


def _build(extract: Path, out: Path) -> dict[str, float]:
    code = f"from bench.delivery import _child; _child({str(extract)!r}, {str(out)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=Path(__file__).parents[1])
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"package build failed ({proc.returncode})")
    result = json.loads(output)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def _reference(extract: Path, scratch: Path) -> float | None:
    """7-Zip encrypting the extract as CSV (the CSV written first, untimed)."""
    seven = shutil.which("7z")
    if not seven:
        return None
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from p3ke_delivery.adapters.extract import batches

    csv_path = scratch / "reference.csv"
    schema = pq.ParquetFile(extract).schema_arrow
    with pcsv.CSVWriter(csv_path, schema) as writer:
        for batch in batches(extract, 65_536):
            writer.write_batch(batch)
    started = time.perf_counter()
    subprocess.run([seven, "a", "-tzip", "-mem=AES256", "-mx=1", f"-p{PASSWORD}", str(scratch / "reference.zip"),
                    str(csv_path)], check=True, capture_output=True)
    return time.perf_counter() - started


def _seven_zip_test(archive: Path) -> float | None:
    seven = shutil.which("7z")
    if not seven:
        return None
    started = time.perf_counter()
    subprocess.run([seven, "t", f"-p{PASSWORD}", str(archive)], check=True, capture_output=True)
    return time.perf_counter() - started


def _verification(scratch: Path, repeats: int) -> dict[str, float]:
    from dataclasses import replace

    from p3ke_delivery.adapters.bast_pdf import render
    from p3ke_delivery.adapters.certificates import load_trust_anchors
    from p3ke_delivery.adapters.pdf_signatures import verify_upload
    from p3ke_delivery.adapters.signing import sign_bast
    from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2, make_dev_ca, signer

    make_dev_ca(scratch / "ca")
    started = time.perf_counter()
    issued = render(replace(CONTENT, record_count=1_000_000))
    render_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    once = sign_bast(issued, signer(scratch / "ca", SIG_1), party=1)
    sign_ms = (time.perf_counter() - started) * 1000
    twice = sign_bast(once, signer(scratch / "ca", SIG_2), party=2)
    anchors = load_trust_anchors(scratch / "ca" / "ca.pem")
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        verify_upload(twice, issued=issued, current=once, signed_fields={"TTD_PIHAK_KESATU"},
                      trust_anchors=anchors, now=datetime.now(UTC))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"bast_render_ms": round(render_ms, 1), "bast_sign_ms": round(sign_ms, 1),
            "verify_ms_p50": round(statistics.median(timings), 1),
            "verify_ms_max": round(timings[-1], 1), "bast_bytes": len(twice)}


def main() -> None:
    rows = env_int("BENCH_ROWS", 1_000_000)
    repeats = env_int("BENCH_SIGNATURES", 20)
    small = max(1000, rows // 10)
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-delivery-"))
    try:
        from tests.unit.delivery.synthetic import write_extract

        started = time.perf_counter()
        write_extract(scratch / "extract.parquet", rows)
        write_extract(scratch / "small.parquet", small)
        extract_seconds = time.perf_counter() - started

        big = _build(scratch / "extract.parquet", scratch / "package.zip")
        little = _build(scratch / "small.parquet", scratch / "small.zip")
        tested = _seven_zip_test(scratch / "package.zip")
        reference = _reference(scratch / "extract.parquet", scratch)
        verification = _verification(scratch, repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    figures: dict[str, object] = {
        "rows": rows, "seconds": round(big["seconds"], 2), "rows_per_second": round(rows / big["seconds"]),
        "peak_rss_mb": big["peak_rss_mb"], "package_mb": round(big["bytes"] / 2**20, 1),
        "files_mb": {k: round(v / 2**20, 1) for k, v in big["files"].items()},
        "rows_small": small, "seconds_small": round(little["seconds"], 2), "peak_rss_mb_small": little["peak_rss_mb"],
        "seven_zip_test_seconds": round(tested, 2) if tested is not None else None,
        "reference": "7z a -tzip -mem=AES256 -mx=1 of the CSV alone",
        "reference_seconds": round(reference, 2) if reference is not None else None,
        "ratio": round(big["seconds"] / reference, 2) if reference else None,
        "extract_generation_seconds": round(extract_seconds, 1),
        **verification,
        "bench_process_peak_rss_mb": peak_rss_mb(),
    }
    write("delivery", figures)


if __name__ == "__main__":
    main()
