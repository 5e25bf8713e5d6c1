"""bench/curves.py: the size variables, the charts (real PNG files drawn by matplotlib) and the summary table,
from synthetic results shaped like each benchmark's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from bench import curves

SIZES = [20_000, 100_000, 1_000_000]
PNG = b"\x89PNG\r\n\x1a\n"


def result(name: str, size: int) -> dict[str, Any]:
    """What `python -m bench <name>` writes at `size` (the fields bench/curves.py reads, with made-up figures)."""
    seconds, ref = size / 1000, size / 4000
    common = {"benchmark": name, "at": "2026-12-04T19:01:07+00:00", "machine": "x86_64", "cpus": 2,
              "peak_rss_mb": 100 + size / 10_000, "reference": f"{name} reference"}
    if name == "events":
        return {**common, "events": size, "seconds": seconds, "events_per_s": round(size / seconds),
                "reference_seconds": ref, "reference_events_per_s": round(size / ref), "ratio": 4.0,
                "throughput_ratio": 0.25}
    if name == "audit":  # the append rate counts from the first entry, so it is not exactly entries / seconds
        return {**common, "entries": size, "append_seconds": seconds, "append_entries_per_s": 800,
                "reference_seconds": ref, "reference_entries_per_s": 3600, "ratio": 4.0}
    if name == "feedback":
        return {**common, "rows": 10_000_000, "feedback_rows": size, "seconds": seconds, "reference_seconds": ref,
                "reference_peak_rss_mb": 50 + size / 20_000, "ratio": 4.0}
    figures = {**common, "rows": size, "seconds": seconds, "reference_seconds": ref, "ratio": 4.0}
    if name == "ingest":
        figures["reference_peak_rss_mb"] = 50 + size / 20_000
    return figures


def _labels(ax: Any) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


# --- sizes --------------------------------------------------------------------------------------

def test_sizes_default_to_three_powers_of_ten() -> None:
    assert curves.sizes("ingest", {}) == [100_000, 1_000_000, 10_000_000]
    assert curves.sizes("targeting", {}) == [100_000, 1_000_000, 10_000_000]
    assert curves.sizes("events", {}) == [10_000, 100_000, 1_000_000]  # streams through processes: one lower
    assert curves.sizes("feedback", {}) == [100_000, 1_000_000, 5_000_000]  # fewer than the snapshot's people


def test_bench_sizes_applies_to_every_benchmark_and_a_per_benchmark_variable_overrides_it() -> None:
    env = {"BENCH_SIZES": "3000, 1000,2000", "BENCH_EVENTS_SIZES": "20000,100000,1000000"}
    assert curves.sizes("audit", env) == [1000, 2000, 3000]
    assert curves.sizes("events", env) == [20_000, 100_000, 1_000_000]
    assert curves.sizes("events", {**env, "BENCH_EVENTS_SIZES": " "}) == [1000, 2000, 3000]  # blank: unset


@pytest.mark.parametrize(("env", "variable"), [
    ({"BENCH_SIZES": "100000,lots"}, "BENCH_SIZES"),
    ({"BENCH_SIZES": "1000", "BENCH_FEEDBACK_SIZES": "1e6"}, "BENCH_FEEDBACK_SIZES"),
    ({"BENCH_FEEDBACK_SIZES": "1000,,2000"}, "BENCH_FEEDBACK_SIZES"),
    ({"BENCH_SIZES": "-5"}, "BENCH_SIZES"),
])
def test_a_bad_size_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(curves.SizeError, match=f"^{variable}="):
        curves.sizes("feedback", env)


def test_a_bad_size_stops_the_command_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert curves.main(["events"], results=tmp_path, environ={"BENCH_EVENTS_SIZES": "10k"}) == 2
    assert "BENCH_EVENTS_SIZES='10k'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_each_child_gets_its_own_size_variable() -> None:
    env = {"BENCH_ROWS": "5", "PATH": "/bin"}
    assert curves.child_env("events", 1000, env)["BENCH_EVENTS"] == "1000"
    assert curves.child_env("audit", 1000, env)["BENCH_AUDIT_ENTRIES"] == "1000"
    assert curves.child_env("ingest", 1000, env)["BENCH_ROWS"] == "1000"
    assert curves.child_env("targeting", 1000, env)["BENCH_ROWS"] == "1000"
    assert curves.child_env("events", 1000, env)["PATH"] == "/bin"


def test_feedback_varies_its_file_and_keeps_the_snapshot_at_its_default_unless_told() -> None:
    env = curves.child_env("feedback", 1000, {"BENCH_ROWS": "5"})
    assert env["BENCH_FEEDBACK_ROWS"] == "1000" and "BENCH_ROWS" not in env
    env = curves.child_env("feedback", 1000, {"BENCH_ROWS": "5", "BENCH_FEEDBACK_SNAPSHOT_ROWS": "200000"})
    assert env["BENCH_ROWS"] == "200000"


# --- charts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["events", "audit", "ingest", "feedback", "targeting", "delivery"])
def test_the_chart_is_a_png_matplotlib_reads_back(name: str, tmp_path: Path) -> None:
    out = curves.chart([result(name, size) for size in reversed(SIZES)], tmp_path / f"{name}.png")
    assert out.read_bytes().startswith(PNG)
    height, width, *_ = matplotlib.image.imread(out).shape
    assert height > 100 and width > 100


@pytest.mark.parametrize(("name", "reference_memory"), [("events", False), ("audit", False), ("ingest", True),
                                                       ("feedback", True), ("targeting", False)])
def test_the_chart_has_time_and_memory_log_log_ours_and_the_reference(name: str, reference_memory: bool) -> None:
    fig = curves.figure([result(name, size) for size in SIZES])
    time_ax, memory_ax = fig.axes
    for ax in (time_ax, memory_ax):
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
        assert ax.get_xlabel().startswith("Ukuran (") and ax.get_xlabel().endswith("]")
        assert ax.xaxis.get_major_formatter()(100_000) == "$10^{5}$"  # written by curves.tick
        assert ax.yaxis.get_major_formatter()(100) == "100"
    assert time_ax.get_ylabel() == "Waktu (detik) [time, s]"
    assert memory_ax.get_ylabel() == "Memori puncak (MB) [peak memory, MB]"
    assert _labels(time_ax) == ["kami [ours]", "acuan [reference]"]
    assert _labels(memory_ax) == (["kami [ours]", "acuan [reference]"] if reference_memory else ["kami [ours]"])
    ours, reference = time_ax.get_lines()
    assert list(ours.get_xdata()) == SIZES
    assert list(ours.get_ydata()) == pytest.approx([s / 1000 for s in SIZES])
    assert list(reference.get_ydata()) == pytest.approx([s / 4000 for s in SIZES])


@pytest.mark.parametrize(("value", "label"), [(0.6, "0.6"), (200.0, "200"), (5000.0, "5000"),
                                              (100_000.0, "$10^{5}$"), (2e6, "$2\\times10^{6}$")])
def test_axis_labels_are_plain_numbers_then_powers_of_ten(value: float, label: str) -> None:
    assert curves.tick(value) == label


def test_events_seconds_come_from_the_rate_when_the_seconds_are_missing() -> None:
    rows = [{k: v for k, v in result("events", size).items() if k not in ("seconds", "reference_seconds")}
            for size in SIZES]
    ours, reference = curves.figure(rows).axes[0].get_lines()
    assert list(ours.get_ydata()) == pytest.approx([s / 1000 for s in SIZES])
    assert list(reference.get_ydata()) == pytest.approx([s / 4000 for s in SIZES])


def test_a_chart_is_drawn_from_whatever_points_exist(tmp_path: Path) -> None:
    one = result("delivery", 1000) | {"reference_seconds": None}  # 7z missing: no reference
    fig = curves.figure([one])
    assert _labels(fig.axes[0]) == ["kami [ours]"]
    assert curves.chart([one], tmp_path / "d.png").read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="no results"):
        curves.figure([])
    with pytest.raises(ValueError, match="one known benchmark"):
        curves.figure([result("events", 1000), result("audit", 1000)])


# --- summary ------------------------------------------------------------------------------------

def test_the_summary_has_a_row_per_benchmark_and_size_with_ratios_from_the_results() -> None:
    found = [result(name, size) for size in SIZES for name in ("targeting", "audit", "events", "ingest")]
    table = curves.rows(found)
    assert [(r.benchmark, r.size) for r in table] == [(n, s) for n in ("events", "audit", "ingest", "targeting")
                                                      for s in SIZES]
    by = {(r.benchmark, r.size): r for r in table}
    assert by["events", 20_000].ratio == pytest.approx(20 / 80)  # events/s ours over the raw client's
    assert by["audit", 20_000].ratio == pytest.approx(800 / 3600)  # from the rates, not the seconds
    assert by["ingest", 100_000].ratio == pytest.approx(4.0)  # seconds ours over the reference's
    assert by["targeting", 1_000_000].seconds == pytest.approx(1000.0)
    assert by["targeting", 1_000_000].reference_seconds == pytest.approx(250.0)
    assert by["ingest", 1_000_000].peak_mb == pytest.approx(200.0)


def test_the_summary_markdown_names_the_machine_and_lists_the_rows(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8388608 kB\nMemFree:          100 kB\n")
    header = curves.machine(meminfo, datetime(2026, 12, 5, 8, 30, tzinfo=UTC))
    assert "8.0 GiB" in header and "2026-12-05 08:30 UTC" in header and "CPU" in header
    text = curves.markdown(curves.rows([result("events", 20_000), result("ingest", 1_000_000)]), header)
    lines = text.splitlines()
    assert lines[0] == f"**{header}**"
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| tolok")]
    assert table == ["| events | 20 000 | 20.00 | 5.00 | 0.25 | 102 | 2026-12-04 19:01 |",
                     "| ingest | 1 000 000 | 1000 | 250 | 4.00 | 200 | 2026-12-04 19:01 |"]
    older = {**result("ingest", 100_000), "at": "2026-12-05T22:53:55.488732+07:00"}  # any offset, said in UTC
    undated = {k: v for k, v in result("ingest", 10_000).items() if k != "at"}
    assert [r.measured for r in curves.rows([older, undated])] == ["–", "2026-12-05 15:53"]


def test_chart_only_redraws_from_the_size_files_and_publish_copies_them(tmp_path: Path) -> None:
    results, docs = tmp_path / "results", tmp_path / "docs"
    results.mkdir()
    for size in SIZES:
        (results / f"ingest-{size}.json").write_text(json.dumps(result("ingest", size)))
    (results / "ingest.json").write_text(json.dumps(result("ingest", 5)))  # the last plain run: not a point
    assert curves.main(["--chart-only", "--publish", "ingest"], results=results, docs=docs) == 0
    assert (results / "ingest.png").read_bytes().startswith(PNG)
    summary = (results / "summary.md").read_text()
    assert summary.count("| ingest |") == 3
    page = (docs / "benchmarks.md").read_text()
    assert page.startswith("# Tolok ukur") and summary in page and "benchmarks/ingest.png" in page
    assert (docs / "benchmarks" / "ingest.png").read_bytes() == (results / "ingest.png").read_bytes()
    assert curves.main(["--chart-only", "events"], results=results, docs=docs) == 1  # nothing to draw


def test_events_and_audit_are_also_set_against_the_contract_reference() -> None:
    events = {**result("events", 20_000), "events_per_s": 1800, "signed_reference_events_per_s": 2000}
    audit = {**result("audit", 10_000), "append_entries_per_s": 2500, "verified_reference_entries_per_s": 5000}
    plain = result("events", 10_000)  # an older result without the contract reference: no row
    rows = curves.contract_rows([audit, plain, events, result("ingest", 1_000_000)])
    assert [(r.benchmark, r.size, r.ratio) for r in rows] == [("events", 20_000, 0.9), ("audit", 10_000, 0.5)]
    text = curves.markdown(curves.rows([events]), "header", rows)
    assert "| events | 20 000 | 1800 | 2000 | 0.9 |" in text and "| audit | 10 000 | 2500 | 5000 | 0.5 |" in text


def test_feedback_also_shows_its_matching_path_alone() -> None:
    """The aim is on the matching path (reading, validation, matching), which the hand-written join is the
    reference for; the whole batch path (files, audit events) stays in the main table."""
    feedback = {**result("feedback", 1_000_000), "match_seconds": 3.0, "reference_seconds": 2.0}
    older = result("feedback", 100_000)  # without match_seconds: no row
    rows = curves.matching_rows([feedback, older, result("ingest", 1_000_000)])
    assert [(r.size, r.ratio) for r in rows] == [(1_000_000, 1.5)]
    text = curves.markdown(curves.rows([feedback]), "header", None, rows)
    assert "| 1 000 000 | 3.00 | 2.00 | 1.50 |" in text and "matching path alone" in text
    assert "matching path" not in curves.markdown(curves.rows([feedback]), "header")


def test_ingest_also_shows_the_validated_reference() -> None:
    """Ingest against the same publication decided by hand (its snapshot agrees with ours); the plain
    read_csv -> Parquet stays the main table's reference."""
    ingest = {**result("ingest", 1_000_000), "seconds": 5.0, "validated_reference_seconds": 4.0}
    older = result("ingest", 100_000)  # without the validated reference: no row
    rows = curves.validated_rows([ingest, older, result("feedback", 1_000_000)])
    assert [(r.size, r.ratio) for r in rows] == [(1_000_000, 1.25)]
    text = curves.markdown(curves.rows([ingest]), "header", validated=rows)
    assert "| 1 000 000 | 5.00 | 4.00 | 1.25 |" in text and "validated reference" in text
    assert "validated reference" not in curves.markdown(curves.rows([ingest]), "header")
    failed = {**result("ingest", 30_000_000), "validated_reference_error": "Out of Memory Error: ...",
              "validated_reference_failed_after_seconds": 314.5}
    failures = curves.validated_failures([ingest, failed])
    assert failures == [(30_000_000, 314.5)]
    text = curves.markdown(curves.rows([ingest, failed]), "header", validated=rows, validated_failed=failures)
    assert "at 30 000 000 rows the validated reference ran out of memory after 314 s" in text


def test_the_events_latency_at_its_fixed_rate_is_shown_with_its_warm_up() -> None:
    events = {**result("events", 10_000), "paced_rate_per_s": 500, "p50_ms": 17.4, "p99_ms": 39.1,
              "warmup_seconds": 30, "warmup_p99_ms": 91.1}
    older = {**result("events", 30_000), "paced_rate_per_s": 500, "p50_ms": 27.0, "p99_ms": 123.0}  # no warm-up
    rows = curves.latency_rows([older, events, result("audit", 10_000)])
    assert [(r.size, r.p99_ms, r.warmup_p99_ms) for r in rows] == [(10_000, 39.1, 91.1), (30_000, 123.0, None)]
    text = curves.markdown(curves.rows([events]), "header", None, None, rows)
    assert "| 10 000 | 500 | 17.40 | 39.10 | 30 | 91.10 |" in text
    assert "| 30 000 | 500 | 27.00 | 123 | – | – |" in text
    assert "fixed rate" not in curves.markdown(curves.rows([events]), "header")
