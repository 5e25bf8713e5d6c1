"""Defects real P3KE files have, injected on purpose and logged row by row.

Row defects: each data row is spoiled with probability ``rate``, with one kind chosen uniformly among
the enabled row kinds (so each kind hits about ``rate / len(kinds)`` of the rows), never more than one
kind per row. ``duplicate_row`` appends an exact copy of the chosen row at the end of its chunk, so the
file has more data rows than persons; the copy (the second occurrence) is what is logged.

File defects (``header_rows``, ``semicolon``, ``bom``, ``crlf``) change the whole file; CSV takes all
four, XLSX only ``header_rows``, Parquet none.

The log names the file, the 1-based data row, the physical line (CSV line / XLSX sheet row; empty for
Parquet), the row's IDs, the defect kind and the spoiled field -- never names, NIKs or other personal
values.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.synth.rng import Stream, arange, derive_seed

ROW_KINDS: tuple[str, ...] = (
    "nik_scientific",
    "nik_apostrophe",
    "nik_missing",
    "duplicate_row",
    "duplicate_nik",
    "region_unknown",
    "desil_out_of_range",
    "birthdate_mismatch",
    "sex_mismatch",
)
FILE_KINDS: tuple[str, ...] = ("header_rows", "semicolon", "bom", "crlf")
DEFECT_KINDS: tuple[str, ...] = ROW_KINDS + FILE_KINDS
FILE_KINDS_BY_FORMAT: dict[str, frozenset[str]] = {
    "csv": frozenset(FILE_KINDS),
    "xlsx": frozenset({"header_rows"}),
    "parquet": frozenset(),
}
FIELD: dict[str, str] = {
    "nik_scientific": "nik",
    "nik_apostrophe": "nik",
    "nik_missing": "nik",
    "duplicate_row": "",
    "duplicate_nik": "nik",
    "region_unknown": "kode_kemendagri",
    "desil_out_of_range": "desil_kesejahteraan",
    "birthdate_mismatch": "tanggal_lahir",
    "sex_mismatch": "jenis_kelamin",
}
OUT_OF_RANGE_DESIL = (0, 5, 6, 10)
LOG_FIELDS = ("file", "level", "kind", "data_row", "line", "id_keluarga_p3ke", "id_individu", "field", "detail")


@dataclass(frozen=True)
class DefectRecord:
    file: str
    level: str  # "individual" | "family"
    kind: str
    data_row: int | None  # 1-based among data rows; None for file defects
    line: int | None  # 1-based physical line (CSV) or sheet row (XLSX); None for Parquet
    id_keluarga_p3ke: str = ""
    id_individu: str = ""
    field: str = ""
    detail: str = ""


@dataclass(frozen=True)
class _Local:
    """A spoiled row inside a chunk (index in the chunk as written), before numbering."""

    index: int
    kind: str
    detail_row: int | None = None  # another row of the chunk the detail refers to


def parse_kinds(kinds: Iterable[str] | str | None) -> tuple[str, ...]:
    if kinds is None:
        return DEFECT_KINDS
    if isinstance(kinds, str):
        kinds = [k for k in kinds.replace(" ", ",").split(",") if k]
    out = []
    for k in kinds:
        if k == "all":
            return DEFECT_KINDS
        if k not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind {k!r}; known: {', '.join(DEFECT_KINDS)}")
        if k not in out:
            out.append(k)
    return tuple(out)


def excel_general(nik: str) -> str:
    """How Excel's General format shows a 16-digit number: 6 significant digits, ``3.20101E+15``."""
    mantissa, exponent = f"{int(nik):.5E}".split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E{exponent}"


def excel_stored(nik: str) -> str:
    """The number Excel keeps (15 significant digits), spelled so the XLSX sink writes a numeric cell."""
    return f"{float(nik[:15] + '0'):.14E}"


@dataclass
class ChunkDefects:
    table: pa.Table
    spoiled: list[_Local] = field(default_factory=list)


class Injector:
    """Spoils chunks of one file (individual or family level)."""

    def __init__(
        self,
        *,
        level: str,
        rate: float,
        kinds: Iterable[str],
        fmt: str,
        seed: int,
        reference_date: dt.date,
        known_codes: frozenset[str],
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("defect rate must be between 0 and 1")
        self.level = level
        self.rate = rate
        self.kinds = tuple(k for k in kinds if k in ROW_KINDS)
        self.fmt = fmt
        self.seed = seed
        self.ref_days = (reference_date - dt.date(1970, 1, 1)).days
        self.known_codes = known_codes
        self.name_col = "nama" if level == "individual" else "kepala_keluarga"
        self.identity_cols = [self.name_col, "nik", "tanggal_lahir"]
        if level == "individual":
            self.identity_cols += ["umur", *(n for n, _, _ in cols.USIA_FLAGS)]

    @property
    def active(self) -> bool:
        return self.rate > 0 and bool(self.kinds)

    def apply(self, chunk_index: int, table: pa.Table) -> ChunkDefects:
        if not self.active or table.num_rows == 0:
            return ChunkDefects(table)
        n = table.num_rows
        s = Stream("p3ke-synth-defects", self.seed, self.level, chunk_index)
        u = s.uniform("which", n)
        chosen = pc.indices_nonzero(pc.less(u, self.rate)).to_pylist()
        if not chosen:
            return ChunkDefects(table)
        rnd = random.Random(derive_seed("p3ke-synth-defects", self.seed, self.level, chunk_index, "values"))
        u_chosen = u.take(pa.array(chosen, pa.int64())).to_pylist()
        by_kind: dict[str, list[int]] = {k: [] for k in self.kinds}
        for i, ui in zip(chosen, u_chosen, strict=True):
            k = min(int(ui / self.rate * len(self.kinds)), len(self.kinds) - 1)
            by_kind[self.kinds[k]].append(i)
        spoiled_set = set(chosen)
        out: list[_Local] = []
        columns = {name: table.column(name) for name in table.column_names}

        def put(name: str, idx: list[int], values: list[object]) -> None:
            col = columns[name].combine_chunks() if isinstance(columns[name], pa.ChunkedArray) else columns[name]
            mask = pc.is_in(arange(n), value_set=pa.array(idx, pa.int64()))
            columns[name] = pc.replace_with_mask(col, mask, pa.array(values, col.type))

        def get(name: str, idx: list[int]) -> list:
            return table.column(name).take(pa.array(idx, pa.int64())).to_pylist()

        for kind in self.kinds:
            idx = by_kind[kind]
            if not idx:
                continue
            if kind == "nik_scientific":
                conv = excel_stored if self.fmt == "xlsx" else excel_general
                put("nik", idx, [conv(v) for v in get("nik", idx)])
            elif kind == "nik_apostrophe":
                put("nik", idx, ["'" + v for v in get("nik", idx)])
            elif kind == "nik_missing":
                put("nik", idx, [None] * len(idx))
            elif kind == "region_unknown":
                put("kode_kemendagri", idx, [self._unknown_code(c, rnd) for c in get("kode_kemendagri", idx)])
            elif kind == "desil_out_of_range":
                put("desil_kesejahteraan", idx, [rnd.choice(OUT_OF_RANGE_DESIL) for _ in idx])
            elif kind == "birthdate_mismatch":
                new = []
                for d in get("tanggal_lahir", idx):
                    days = (d - dt.date(1970, 1, 1)).days
                    shift = rnd.randint(1, 27) * rnd.choice((-1, 1))
                    if days + shift > self.ref_days:
                        shift = -abs(shift)
                    new.append(d + dt.timedelta(days=shift))
                put("tanggal_lahir", idx, new)
            elif kind == "sex_mismatch":
                flip = {cols.LAKI_LAKI: cols.PEREMPUAN, cols.PEREMPUAN: cols.LAKI_LAKI}
                put("jenis_kelamin", idx, [flip[v] for v in get("jenis_kelamin", idx)])
            elif kind == "duplicate_nik":
                idx = self._duplicate_nik(table, idx, spoiled_set, rnd, put, out)
                continue
            if kind != "duplicate_row":
                out.extend(_Local(i, kind) for i in idx)

        spoiled_table = pa.Table.from_arrays([columns[c] for c in table.column_names], schema=table.schema)
        dup = by_kind.get("duplicate_row", [])
        if dup:
            spoiled_table = pa.concat_tables([spoiled_table, table.take(pa.array(dup, pa.int64()))])
            out.extend(_Local(n + j, "duplicate_row", detail_row=i) for j, i in enumerate(dup))
        out.sort(key=lambda r: r.index)
        return ChunkDefects(spoiled_table, out)

    def _duplicate_nik(self, table, idx, spoiled_set, rnd, put, out) -> list[int]:
        """Recipients take the identity (name, NIK, birth date, age) of an earlier clean row of the
        same sex in another family: the same person registered twice."""
        sexes = table.column("jenis_kelamin").to_pylist()
        fam = table.column("id_keluarga_p3ke").to_pylist()
        pairs: list[tuple[int, int]] = []
        used_donors: set[int] = set()
        for i in idx:
            donor = None
            for _ in range(64):
                j = rnd.randrange(i) if i > 0 else None
                if j is None:
                    break
                if j not in spoiled_set and j not in used_donors and sexes[j] == sexes[i] and fam[j] != fam[i]:
                    donor = j
                    break
            if donor is not None:
                pairs.append((i, donor))
                used_donors.add(donor)
        if not pairs:
            return []
        pairs.sort()
        recipients = [i for i, _ in pairs]
        donors = pa.array([j for _, j in pairs], pa.int64())
        for name in self.identity_cols:
            put(name, recipients, table.column(name).take(donors).to_pylist())
        out.extend(_Local(i, "duplicate_nik", detail_row=j) for i, j in pairs)
        return recipients

    def _unknown_code(self, code: str, rnd: random.Random) -> str:
        """A well-formed 10-digit code that is not in the reference table."""
        for _ in range(100):
            if rnd.random() < 0.5:  # a village that does not exist in a real district
                cand = f"{code[:6]}{rnd.choice('12')}9{rnd.randrange(100):02d}"
                ok = cand not in self.known_codes
            else:  # a district that does not exist
                cand = f"{code[:4]}{rnd.randrange(90, 100)}{code[6:]}"
                ok = cand[:6] not in self.known_codes
            if ok:
                return cand
        return "9999999999"


def number(
    local: list[_Local],
    table: pa.Table,
    *,
    file: str,
    level: str,
    first_data_row: int,
    line_offset: int | None,
) -> list[DefectRecord]:
    """Turn chunk-local spoiled rows into log records with absolute row and line numbers.

    ``first_data_row`` is the 1-based data row of the chunk's first row; ``line_offset`` is added to a
    data row to get its physical line (``None``: no lines, Parquet).
    """
    if not local:
        return []
    idx = pa.array([r.index for r in local], pa.int64())
    fam_ids = table.column("id_keluarga_p3ke").take(idx).to_pylist()
    ind_ids = table.column("id_individu").take(idx).to_pylist() if level == "individual" else [""] * len(local)
    records = []
    for r, fid, iid in zip(local, fam_ids, ind_ids, strict=True):
        row = first_data_row + r.index
        detail = ""
        if r.detail_row is not None:
            other = first_data_row + r.detail_row
            detail = f"copy of data row {other}" if r.kind == "duplicate_row" else f"same person as data row {other}"
        records.append(
            DefectRecord(
                file=file,
                level=level,
                kind=r.kind,
                data_row=row,
                line=None if line_offset is None else row + line_offset,
                id_keluarga_p3ke=fid,
                id_individu=iid or "",
                field=FIELD[r.kind],
                detail=detail,
            )
        )
    return records


class DefectLog:
    """Streams records to CSV (default), JSON (one array) or JSON Lines, by the path's suffix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.by_kind: dict[str, int] = {}
        self._style = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower(), "csv")
        self._f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        if self._style == "csv":
            self._csv = csv.DictWriter(self._f, fieldnames=LOG_FIELDS, lineterminator="\n")
            self._csv.writeheader()
        elif self._style == "json":
            self._f.write("[")

    def write(self, records: Iterable[DefectRecord]) -> None:
        for rec in records:
            d = asdict(rec)
            if self._style == "csv":
                self._csv.writerow({k: "" if v is None else v for k, v in d.items()})
            elif self._style == "json":
                self._f.write(("," if self.count else "") + "\n" + json.dumps(d, ensure_ascii=False))
            else:
                self._f.write(json.dumps(d, ensure_ascii=False) + "\n")
            self.count += 1
            self.by_kind[rec.kind] = self.by_kind.get(rec.kind, 0) + 1

    def close(self) -> None:
        if self._style == "json":
            self._f.write("\n]\n")
        self._f.close()


def read_defect_log(path: Path | str) -> list[DefectRecord]:
    """Read a defect log back (any of the three styles)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = []
        for d in csv.DictReader(io.StringIO(text)):
            rows.append(
                {
                    **d,
                    "data_row": int(d["data_row"]) if d["data_row"] else None,
                    "line": int(d["line"]) if d["line"] else None,
                }
            )
    return [DefectRecord(**r) for r in rows]
