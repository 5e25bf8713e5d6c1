"""Scaling curves: each benchmark at several sizes, a chart per benchmark and one summary table.

`python -m bench.curves [name ...]` (what `make bench` calls; default: events, audit, ingest, feedback,
targeting) runs `python -m bench <name>` once per size, each a child process with the benchmark's own size
variable set, and keeps each result as bench/results/<name>-<size>.json. Sizes: BENCH_SIZES (a comma list,
default 100000,1000000,10000000), or BENCH_<NAME>_SIZES for one benchmark (BENCH_EVENTS_SIZES=...).

Then, from every bench/results/<name>-<size>.json there is (earlier runs at other sizes included: remove
them, or `make clean`, for a fresh curve), it draws bench/results/<name>.png (time and peak memory against
size, ours and the reference, log-log) and writes bench/results/summary.md. `--chart-only` does only that,
without running anything; `--publish` then copies the table to docs/benchmarks.md and the charts to
docs/benchmarks/. Labels are Indonesian first, English in brackets.

A size that fails is reported and skipped, so one too large for the machine does not lose the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from bench.report import RESULTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DEFAULT_BENCHMARKS = ["events", "audit", "ingest", "feedback", "targeting"]
DEFAULT_SIZES = "100000,1000000,10000000"
OWN_DEFAULTS = {
    # a stream of events through real processes: 10^7 would take hours on 2 cores, so one power of ten lower
    "events": "10000,100000,1000000",
    "audit": "10000,100000,1000000",
    # feedback rows matched against the default 10^7-row snapshot, which must hold more people than the file
    "feedback": "100000,1000000,5000000",
}
TIME_LABEL = "Waktu (detik) [time, s]"
MEMORY_LABEL = "Memori puncak (MB) [peak memory, MB]"
OURS, REFERENCE = "kami [ours]", "acuan [reference]"

Result = dict[str, Any]


class SizeError(ValueError):
    """A size variable that is not a comma list of positive whole numbers."""


def _number(result: Result, key: str) -> float | None:
    value = result.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _seconds(seconds_key: str, size_key: str, rate_key: str | None = None) -> Callable[[Result], float | None]:
    """The seconds field, or for a benchmark that reports a rate, size / rate when the seconds are missing."""

    def get(result: Result) -> float | None:
        seconds = _number(result, seconds_key)
        if seconds is not None or rate_key is None:
            return seconds
        size, rate = _number(result, size_key), _number(result, rate_key)
        return size / rate if size is not None and rate else None

    return get


def _slowdown(ours: Callable[[Result], float | None],
              reference: Callable[[Result], float | None]) -> Callable[[Result], float | None]:
    """ours / reference, in seconds: above 1 means slower than the reference."""

    def get(result: Result) -> float | None:
        a, b = ours(result), reference(result)
        return a / b if a is not None and b else None

    return get


def _throughput(rate_key: str, reference_rate_key: str, ours: Callable[[Result], float | None],
                reference: Callable[[Result], float | None]) -> Callable[[Result], float | None]:
    """ours / raw, in items per second (below 1 means slower than the raw client); from the seconds when the
    rates are missing."""

    def get(result: Result) -> float | None:
        rate, raw = _number(result, rate_key), _number(result, reference_rate_key)
        if rate is not None and raw:
            return rate / raw
        a, b = ours(result), reference(result)
        return b / a if a and b is not None else None

    return get


@dataclass(frozen=True)
class Kind:
    """How to read one benchmark's JSON: which variable sets its size, which field reports it, where the
    seconds, the ratio and the memory are."""

    variable: str
    size_field: str
    unit_id: str
    unit_en: str
    seconds: Callable[[Result], float | None]
    reference_seconds: Callable[[Result], float | None]
    ratio: Callable[[Result], float | None]
    reference_memory: str | None = None
    throughput: bool = False

    def size(self, result: Result) -> int:
        return int(result[self.size_field])


def _kind(variable: str, size_field: str, unit_id: str, unit_en: str, reference_memory: str | None = None) -> Kind:
    ours, ref = _seconds("seconds", size_field), _seconds("reference_seconds", size_field)
    return Kind(variable, size_field, unit_id, unit_en, ours, ref, _slowdown(ours, ref), reference_memory)


_EVENTS_S = _seconds("seconds", "events", "events_per_s")
_EVENTS_REF_S = _seconds("reference_seconds", "events", "reference_events_per_s")
_AUDIT_S = _seconds("append_seconds", "entries", "append_entries_per_s")
_AUDIT_REF_S = _seconds("reference_seconds", "entries", "reference_entries_per_s")
KINDS: dict[str, Kind] = {
    "events": Kind("BENCH_EVENTS", "events", "peristiwa", "events", _EVENTS_S, _EVENTS_REF_S,
                   _throughput("events_per_s", "reference_events_per_s", _EVENTS_S, _EVENTS_REF_S), throughput=True),
    "audit": Kind("BENCH_AUDIT_ENTRIES", "entries", "entri", "entries", _AUDIT_S, _AUDIT_REF_S,
                  _throughput("append_entries_per_s", "reference_entries_per_s", _AUDIT_S, _AUDIT_REF_S),
                  throughput=True),
    "ingest": _kind("BENCH_ROWS", "rows", "baris", "rows", "reference_peak_rss_mb"),
    "feedback": _kind("BENCH_FEEDBACK_ROWS", "feedback_rows", "baris balikan", "feedback rows",
                      "reference_peak_rss_mb"),
    "targeting": _kind("BENCH_ROWS", "rows", "baris snapshot", "snapshot rows"),
    "delivery": _kind("BENCH_ROWS", "rows", "baris ekstrak", "extract rows"),
}
ORDER = [*DEFAULT_BENCHMARKS, *(name for name in KINDS if name not in DEFAULT_BENCHMARKS)]


# --- sizes and runs --------------------------------------------------------------------------------

def sizes(name: str, environ: Mapping[str, str] = os.environ) -> list[int]:
    """The sizes to run `name` at, ascending: BENCH_<NAME>_SIZES, else BENCH_SIZES, else the benchmark's default
    (OWN_DEFAULTS, else DEFAULT_SIZES). A blank variable counts as unset."""
    variable = f"BENCH_{name.upper()}_SIZES"
    if not environ.get(variable, "").strip():
        variable = "BENCH_SIZES"
    raw = environ.get(variable, "").strip() or OWN_DEFAULTS.get(name, DEFAULT_SIZES)
    out = set()
    for part in raw.split(","):
        try:
            size = int(part.strip())
        except ValueError:
            size = 0
        if size <= 0:
            raise SizeError(f"{variable}={raw!r}: {part.strip()!r} is not a positive whole number; expected a "
                            f"comma list such as {DEFAULT_SIZES}")
        out.add(size)
    return sorted(out)


def child_env(name: str, size: int, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of `python -m bench <name>` at `size`: the benchmark's size variable set; feedback keeps
    its snapshot at the default (BENCH_ROWS unset) unless BENCH_FEEDBACK_SNAPSHOT_ROWS names one."""
    env = dict(environ)
    if name == "feedback":
        snapshot = environ.get("BENCH_FEEDBACK_SNAPSHOT_ROWS", "").strip()
        if snapshot:
            env["BENCH_ROWS"] = snapshot
        else:
            env.pop("BENCH_ROWS", None)
    env[KINDS[name].variable] = str(size)
    return env


def run(name: str, size: int, results: Path = RESULTS, environ: Mapping[str, str] = os.environ) -> Path | None:
    """One run of `python -m bench <name>` at `size` (output to the terminal); its result kept as
    <name>-<size>.json. None when the run failed or wrote no new result."""
    variable = KINDS[name].variable
    print(f"\n[curves] {name} at {size} ({variable}={size})", flush=True)
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "bench", name], env=child_env(name, size, environ), cwd=ROOT,
                          check=False)
    source = results / f"{name}.json"
    if done.returncode != 0:
        print(f"[curves] {name} at {size} failed (exit {done.returncode})", file=sys.stderr, flush=True)
        return None
    if not source.is_file() or source.stat().st_mtime < started:
        print(f"[curves] {name} at {size} wrote no new {source}", file=sys.stderr, flush=True)
        return None
    target = results / f"{name}-{size}.json"
    shutil.copyfile(source, target)
    return target


def load(name: str, results: Path = RESULTS) -> list[Result]:
    """Every <name>-<size>.json in `results`, smallest size first."""
    pattern = re.compile(rf"{re.escape(name)}-(\d+)\.json")
    found = []
    for path in results.glob(f"{name}-*.json"):
        match = pattern.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), json.loads(path.read_text())))
    return [result for _, result in sorted(found, key=lambda item: item[0])]


# --- charts ---------------------------------------------------------------------------------------

def _benchmark(results: list[Result]) -> str:
    if not results:
        raise ValueError("no results to draw")
    names = {r.get("benchmark") for r in results}
    if len(names) != 1 or next(iter(names)) not in KINDS:
        raise ValueError(f"results of one known benchmark expected, got {sorted(map(str, names))}")
    return str(next(iter(names)))


def _points(results: Iterable[Result], size: Callable[[Result], int],
            value: Callable[[Result], float | None]) -> tuple[list[int], list[float]]:
    pairs = [(size(r), v) for r in results if (v := value(r)) is not None and v > 0]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def tick(value: float) -> str:
    """A log axis's label: 0.6, 200, 5000, then 10^5 and 2x10^5 (not 6e-01 or 2 x 10^2)."""
    if value < 10_000:
        return f"{value:g}"
    exponent = len(str(int(value))) - 1
    mantissa = f"{value / 10**exponent:.2g}"
    return f"$10^{{{exponent}}}$" if mantissa == "1" else f"${mantissa}\\times10^{{{exponent}}}$"


class PlainLog(LogFormatter):
    """The ticks matplotlib's log formatter would label, written by `tick`."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return tick(x) if super().__call__(x, pos) else ""


def figure(results: list[Result]) -> Figure:
    """The chart of one benchmark's per-size results (a matplotlib Figure on the Agg canvas, no display):
    (a) seconds and (b) peak memory against size, ours and the reference, both log-log."""
    name = _benchmark(results)
    kind = KINDS[name]
    ordered = sorted(results, key=kind.size)
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))  # room below for the reference's description
    FigureCanvasAgg(fig)
    time_ax, memory_ax = fig.subplots(1, 2)
    memory = {OURS: lambda r: _number(r, "peak_rss_mb")}
    if kind.reference_memory:
        memory[REFERENCE] = lambda r, key=kind.reference_memory: _number(r, key)
    panels = ((time_ax, "(a) Waktu [time]", TIME_LABEL, {OURS: kind.seconds, REFERENCE: kind.reference_seconds}),
              (memory_ax, "(b) Memori puncak [peak memory]", MEMORY_LABEL, memory))
    for ax, title, label, lines in panels:
        for legend, value in lines.items():
            xs, ys = _points(ordered, kind.size, value)
            if xs:
                ax.plot(xs, ys, "o-" if legend == OURS else "s--", label=legend)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(PlainLog())
            axis.set_minor_formatter(PlainLog(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
        ax.set_title(title)
        ax.set_xlabel(f"Ukuran ({kind.unit_id}) [size, {kind.unit_en}]")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_lines():
            ax.legend()
    fig.suptitle(f"{name}: waktu dan memori menurut ukuran [time and memory by size]")
    reference = ordered[-1].get("reference")
    if isinstance(reference, str):
        fig.text(0.01, 0.005, f"acuan [reference]: {reference}", fontsize=7, va="bottom")
    return fig


def chart(results: list[Result], out: Path) -> Path:
    """Draw `results` (one benchmark, any number of sizes) to the PNG `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    figure(results).savefig(out, format="png", dpi=110)
    return out


# --- summary --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    benchmark: str
    size: int
    seconds: float | None
    reference_seconds: float | None
    ratio: float | None
    peak_mb: float | None
    measured: str = "–"  # when the run was made (UTC): a partial rerun is published beside older results


def rows(results: Iterable[Result]) -> list[Row]:
    """One row per result, in benchmark order then by size."""
    out = []
    for result in results:
        kind = KINDS[result["benchmark"]]
        out.append(Row(result["benchmark"], kind.size(result), kind.seconds(result), kind.reference_seconds(result),
                       kind.ratio(result), _number(result, "peak_rss_mb"), _when(result.get("at"))))
    return sorted(out, key=lambda r: (ORDER.index(r.benchmark), r.size))


# events and audit also run a reference that does the contract's per-event work with the bare client (build and
# sign, or parse and verify, every event): the floor of any implementation of the contract on this machine
CONTRACT_REFERENCES = {"events": ("events_per_s", "signed_reference_events_per_s"),
                       "audit": ("append_entries_per_s", "verified_reference_entries_per_s")}


@dataclass(frozen=True)
class ContractRow:
    benchmark: str
    size: int
    ours_per_s: float
    reference_per_s: float

    @property
    def ratio(self) -> float:
        return self.ours_per_s / self.reference_per_s


def contract_rows(results: Iterable[Result]) -> list[ContractRow]:
    """Events and audit against the bare client doing the contract's per-event work, where the result has it."""
    out = []
    for result in results:
        keys = CONTRACT_REFERENCES.get(result["benchmark"])
        if keys is None:
            continue
        ours, reference = _number(result, keys[0]), _number(result, keys[1])
        if ours and reference:
            out.append(ContractRow(result["benchmark"], KINDS[result["benchmark"]].size(result), ours, reference))
    return sorted(out, key=lambda r: (ORDER.index(r.benchmark), r.size))


@dataclass(frozen=True)
class MatchingRow:
    """Our time against a reference that does the same work and only that: feedback's matching path alone
    (reading, validation, matching; not the batch's files and audit events) against the hand-written join, and the
    whole ingest against the same publication decided by hand in one DuckDB statement."""

    size: int
    seconds: float
    reference_seconds: float

    @property
    def ratio(self) -> float:
        return self.seconds / self.reference_seconds


def _same_work(results: Iterable[Result], benchmark: str, ours_key: str, reference_key: str) -> list[MatchingRow]:
    out = []
    for result in results:
        if result["benchmark"] != benchmark:
            continue
        ours, reference = _number(result, ours_key), _number(result, reference_key)
        if ours and reference:
            out.append(MatchingRow(KINDS[benchmark].size(result), ours, reference))
    return sorted(out, key=lambda r: r.size)


def matching_rows(results: Iterable[Result]) -> list[MatchingRow]:
    """Feedback's matching path per size, where the result has it."""
    return _same_work(results, "feedback", "match_seconds", "reference_seconds")


def validated_rows(results: Iterable[Result]) -> list[MatchingRow]:
    """Ingest against the validated reference per size, where the result has it."""
    return _same_work(results, "ingest", "seconds", "validated_reference_seconds")


def validated_failures(results: Iterable[Result]) -> list[tuple[int, float]]:
    """The sizes at which the validated reference ran out of memory, with how long it ran."""
    return sorted((KINDS["ingest"].size(r), _number(r, "validated_reference_failed_after_seconds") or 0.0)
                  for r in results if r["benchmark"] == "ingest" and r.get("validated_reference_error"))


@dataclass(frozen=True)
class LatencyRow:
    """The events benchmark's paced run: one event per transaction at a fixed rate, measured after a warm-up at
    the same rate; the warm-up's own figures beside it."""

    size: int
    rate: float
    p50_ms: float
    p99_ms: float
    warmup_seconds: float | None
    warmup_p99_ms: float | None


def latency_rows(results: Iterable[Result]) -> list[LatencyRow]:
    """The events benchmark's latency at its fixed rate, per size, where the result has it."""
    out = []
    for result in results:
        if result["benchmark"] != "events":
            continue
        rate, p50, p99 = (_number(result, k) for k in ("paced_rate_per_s", "p50_ms", "p99_ms"))
        if rate and p50 is not None and p99 is not None:
            out.append(LatencyRow(KINDS["events"].size(result), rate, p50, p99, _number(result, "warmup_seconds"),
                                  _number(result, "warmup_p99_ms")))
    return sorted(out, key=lambda r: r.size)


def machine(meminfo: Path = Path("/proc/meminfo"), now: datetime | None = None) -> str:
    """The machine the table was written on: architecture, CPUs, total memory, date (UTC) the table was written
    (each row says when it was measured)."""
    total = "?"
    try:
        match = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo.read_text(), re.MULTILINE)
        if match:
            total = f"{int(match.group(1)) / 2**20:.1f} GiB"
    except OSError:
        pass
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Mesin [machine]: {platform.machine()}, {os.cpu_count()} CPU, memori [memory] {total}; "
            f"tabel ditulis [table written] {at}")


def _when(at: object) -> str:
    """A result's `at` (ISO 8601) as `YYYY-MM-DD HH:MM` UTC; "–" when it has none."""
    try:
        return datetime.fromisoformat(str(at)).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "–"


def _figure(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if value < 1 else f"{value:.2f}"


def _size(n: int) -> str:
    return f"{n:,}".replace(",", " ")  # grouped by spaces: read the same in Indonesian and English


def _section(intro: str, header: list[str], body: list[list[str]], text_columns: int = 0) -> list[str]:
    """A paragraph and its table: the first `text_columns` columns left-aligned, the numbers right-aligned."""
    aligns = ["---" if i < text_columns else "---:" for i in range(len(header))]
    return [intro, "", "| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|",
            *("| " + " | ".join(row) + " |" for row in body), ""]


def markdown(table: list[Row], header: str, contract: list[ContractRow] | None = None,
             matching: list[MatchingRow] | None = None, latency: list[LatencyRow] | None = None,
             validated: list[MatchingRow] | None = None,
             validated_failed: list[tuple[int, float]] | None = None) -> str:
    """summary.md: the machine line, the table, what the ratio means; then, where measured, events and audit
    against the bare client doing the contract's per-event work, feedback's matching path alone, the events'
    latency at a fixed rate, and ingest against the same publication decided by hand."""
    lines = [f"**{header}**", "",
             "| tolok ukur [benchmark] | ukuran [size] | kami (detik) [ours, s] | acuan (detik) [reference, s] "
             "| rasio [ratio] | memori puncak (MB) [peak memory, MB] | diukur (UTC) [measured, UTC] |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in table:
        lines.append(f"| {row.benchmark} | {_size(row.size)} | {_figure(row.seconds)} "
                     f"| {_figure(row.reference_seconds)} | {_figure(row.ratio)} | {_figure(row.peak_mb)} "
                     f"| {row.measured} |")
    throughput = [name for name in ORDER if KINDS[name].throughput]
    throughput_id, throughput_en = " dan ".join(throughput), " and ".join(throughput)
    lines += ["", f"Rasio: detik kami / detik acuan (di atas 1 = lebih lambat); untuk {throughput_id}: laju kami / "
              "laju klien mentah (di bawah 1 = lebih lambat). [Ratio: our seconds / the reference's (above 1 = "
              f"slower); for {throughput_en}: our throughput / the raw client's (below 1 = slower).]", ""]
    if contract:
        lines += _section(
            "Acuan yang mengerjakan kerja kontrak per peristiwa dengan klien mentah (membangun dan menandatangani, "
            "atau mengurai dan memverifikasi setiap peristiwa) [the reference doing the contract's per-event work "
            "with the bare client (build and sign, or parse and verify, every event)]:",
            ["tolok ukur [benchmark]", "ukuran [size]", "kami (per detik) [ours, per s]",
             "acuan kontrak (per detik) [contract reference, per s]", "rasio [ratio]"],
            [[c.benchmark, _size(c.size), f"{c.ours_per_s:.0f}", f"{c.reference_per_s:.0f}", _figure(c.ratio)]
             for c in contract], text_columns=1)
    if matching:
        lines += _section(
            "Jalur pencocokan feedback saja (membaca, validasi, pencocokan; tanpa berkas batch dan peristiwa audit) "
            "[feedback's matching path alone (reading, validation, matching; without the batch's files and audit "
            "events)]:",
            ["ukuran [size]", "kami (detik) [ours, s]", "acuan (detik) [reference, s]", "rasio [ratio]"],
            [[_size(m.size), _figure(m.seconds), _figure(m.reference_seconds), _figure(m.ratio)] for m in matching])
    if validated:
        lines += _section(
            "Ingest dibandingkan dengan publikasi yang sama yang diputuskan dengan satu pernyataan DuckDB tulisan "
            "tangan (aturan galat tata letak, NIK pertama dipertahankan, diurutkan menurut wilayah; snapshotnya "
            "harus sama baris demi baris dengan milik kami) [ingest against the same publication decided by one "
            "hand-written DuckDB statement (the layout's error rules, the first NIK kept, sorted by region; its "
            "snapshot must equal ours row for row)]:",
            ["ukuran [size]", "kami (detik) [ours, s]", "acuan tervalidasi (detik) [validated reference, s]",
             "rasio [ratio]"],
            [[_size(v.size), _figure(v.seconds), _figure(v.reference_seconds), _figure(v.ratio)] for v in validated])
        for size, seconds in validated_failed or []:
            lines += [f"Pada {_size(size)} baris, acuan tervalidasi kehabisan memori setelah {seconds:.0f} detik dalam "
                      f"batas memori yang sama [at {_size(size)} rows the validated reference ran out of memory "
                      f"after {seconds:.0f} s within the same memory limit].", ""]
    if latency:
        lines += _section(
            "Latensi peristiwa pada laju tetap, satu peristiwa per transaksi, dari dicatat sampai diterapkan audit; "
            "diukur setelah pemanasan pada laju yang sama [events latency at a fixed rate, one event per "
            "transaction, from recorded to applied by audit; measured after a warm-up at the same rate]:",
            ["ukuran [size]", "laju (per detik) [rate, per s]", "p50 (ms)", "p99 (ms)",
             "pemanasan (detik) [warm-up, s]", "p99 pemanasan (ms) [warm-up p99, ms]"],
            [[_size(lat.size), f"{lat.rate:.0f}", _figure(lat.p50_ms), _figure(lat.p99_ms),
              "–" if lat.warmup_seconds is None else f"{lat.warmup_seconds:.0f}", _figure(lat.warmup_p99_ms)]
             for lat in latency])
    return "\n".join(lines)


# --- publishing -----------------------------------------------------------------------------------

INTRO = """# Tolok ukur / Benchmarks

Tabel ini berisi angka terbaru yang diterbitkan dari tolok ukur platform: setiap tolok ukur pada tiga ukuran
(`BENCH_SIZES`), waktu kami dan waktu acuannya, rasionya, dan memori puncak. Dibuat dengan `make bench`
(`python -m bench.curves`), lalu diterbitkan dengan `python -m bench.curves --chart-only --publish`; grafiknya
ada di `docs/benchmarks/`.
[The latest published figures of the platform's benchmarks: each at three sizes (`BENCH_SIZES`), our time and
the reference's, their ratio and the peak memory. Produced by `make bench` (`python -m bench.curves`), published
with `python -m bench.curves --chart-only --publish`; the charts are in `docs/benchmarks/`.]

"""


def publish(results: Path = RESULTS, docs: Path = DOCS) -> Path:
    """docs/benchmarks.md (an introduction, then summary.md as it is, then the charts) and docs/benchmarks/*.png."""
    charts = docs / "benchmarks"
    charts.mkdir(parents=True, exist_ok=True)
    pngs = [results / f"{name}.png" for name in ORDER if (results / f"{name}.png").is_file()]
    for png in pngs:
        shutil.copyfile(png, charts / png.name)
    images = "".join(f"\n![{png.stem}](benchmarks/{png.name})\n" for png in pngs)
    page = docs / "benchmarks.md"
    page.write_text(INTRO + (results / "summary.md").read_text() + ("\n## Grafik [charts]\n" + images if pngs else ""))
    return page


# --- command --------------------------------------------------------------------------------------

def main(argv: list[str], results: Path = RESULTS, docs: Path = DOCS, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.curves", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"default: {' '.join(DEFAULT_BENCHMARKS)}")
    parser.add_argument("--chart-only", action="store_true", help="redraw from the existing <name>-<size>.json")
    parser.add_argument("--publish", action="store_true", help="copy the table and charts to docs/")
    args = parser.parse_args(argv)
    names = args.names or DEFAULT_BENCHMARKS
    unknown = [n for n in names if n not in KINDS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(ORDER)}", file=sys.stderr)
        return 2
    failed: list[str] = []
    if not args.chart_only:
        try:  # every size list first, so that a typo stops before hours of running
            plan = {name: sizes(name, environ) for name in names}
        except SizeError as error:
            print(f"bench.curves: {error}", file=sys.stderr)
            return 2
        for name in names:
            failed += [f"{name}-{size}" for size in plan[name] if run(name, size, results, environ) is None]
    for name in names:
        found = load(name, results)
        if not found:
            print(f"[curves] no {name}-<size>.json in {results}: no chart", file=sys.stderr)
            failed.append(name)
            continue
        path = chart(found, results / f"{name}.png")
        print(f"[curves] {path} ({', '.join(str(KINDS[name].size(r)) for r in found)})")
    everything = [result for name in ORDER for result in load(name, results)]
    if everything:
        summary = results / "summary.md"
        summary.write_text(markdown(rows(everything), machine(), contract_rows(everything),
                                    matching_rows(everything), latency_rows(everything),
                                    validated_rows(everything), validated_failures(everything)))
        print(f"[curves] {summary}")
        if args.publish:
            print(f"[curves] {publish(results, docs)}")
    if failed:
        print(f"[curves] missing: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
