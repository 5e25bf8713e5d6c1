"""A synthetic data balikan: what party 2 would report back for a handover (``p3ke feedback synth``).

Input is the CSV inside an opened delivery package (the extract's rows: ``nik``, ``nama``,
``kode_kemendagri``, region names, ...). Output is a CSV in the layout the feedback service accepts
(``domain.layout``: Indonesian headers such as ``NIK``, ``Nama Lengkap``, ``Status Kepesertaan``),
with rows planted in each match class the service tells apart:

- ``in_extract``: a share (``served_share``) of the package's persons, working-age ones (15-64 at
  the start, by ``tanggal_lahir`` when the file has it) first;
- ``in_p3ke_not_delivered``: working-age persons drawn from a P3KE snapshot file who are not in the
  package;
- ``not_in_p3ke``: well-formed NIKs (a real district code, a plausible birth date, a serial from 5000
  up, which synthetic snapshots of any practical size never reach) absent from the package and, when
  one is given, from the snapshot;
- ``invalid_nik``: missing, too short, scientific notation (a spreadsheet's doing), unknown province,
  impossible birth date, serial 0000.

Statuses, activities, dates and benefit values follow the program (training courses end or are
dropped; padat karya pays a daily wage; PBI pays a monthly contribution). The output depends only on
the inputs and the seed. Everything is synthetic; names of persons not in the package are made up.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p3ke_feedback.domain.vocabulary import PROGRAM_ALIASES, PROGRAM_PATTERN, PROGRAMS, MatchClass, Status, token

HEADER = ("NIK", "Nama Lengkap", "Kode Wilayah", "Kode Program", "Kegiatan", "Tanggal Mulai", "Tanggal Selesai",
          "Status Kepesertaan", "Nilai Manfaat (Rp)")
"""Column titles as a Kemnaker export would have them; each maps to one field of ``domain.layout``."""
DEFAULT_START = dt.date(2026, 1, 5)
START_AFTER_PACKAGE_DAYS = 14
NIK_RE = re.compile(r"[0-9]{16}")
INVALID_KINDS = ("missing", "short", "scientific", "province", "date", "serial_zero")
STATUS_WORDS: dict[Status, str] = {Status.ENROLLED: "Terdaftar", Status.COMPLETED: "Selesai",
                                   Status.DROPPED_OUT: "Putus", Status.BENEFIT_PAID: "Dibayar",
                                   Status.SUSPENDED: "Ditangguhkan", Status.DECEASED: "Meninggal Dunia"}
WORKING_AGE = (15, 64)
_DAY_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


BenefitValue = Callable[[random.Random, int, Status], int | None]
"""The benefit value (Rp) of a row, from the activity's days and the status; None when not reported."""


@dataclass(frozen=True)
class ProgramProfile:
    statuses: tuple[tuple[Status, float], ...]
    activities: tuple[str, ...]
    days: tuple[int, int]  # duration of the activity
    value: BenefitValue


def _training_value(rng: random.Random, days: int, status: Status) -> int | None:
    # in kind; a transport allowance for the days attended, often not reported at all
    return None if rng.random() < 0.4 else 25_000 * days


def _labour_intensive_value(rng: random.Random, days: int, status: Status) -> int | None:
    return rng.choice((100_000, 110_000, 120_000, 135_000, 150_000)) * days


def _self_employment_value(rng: random.Random, days: int, status: Status) -> int | None:
    return None if status == Status.ENROLLED else rng.randrange(5_000_000, 20_000_001, 500_000)


def _contribution_value(rng: random.Random, days: int, status: Status) -> int | None:
    return 16_800 * max(days // 30, 1)  # JKK + JKM of a non-wage worker, per month


PROFILES: dict[str, ProgramProfile] = {
    "pelatihan_berbasis_kompetensi": ProgramProfile(
        ((Status.COMPLETED, 0.66), (Status.ENROLLED, 0.14), (Status.DROPPED_OUT, 0.15), (Status.SUSPENDED, 0.04),
         (Status.DECEASED, 0.01)),
        ("Pelatihan menjahit", "Pelatihan las listrik", "Pelatihan tata boga", "Pelatihan teknisi AC",
         "Pelatihan otomotif sepeda motor", "Pelatihan desain grafis", "Pelatihan barista",
         "Pelatihan instalasi listrik"), (20, 60), _training_value),
    "padat_karya": ProgramProfile(
        ((Status.COMPLETED, 0.62), (Status.BENEFIT_PAID, 0.25), (Status.ENROLLED, 0.06), (Status.DROPPED_OUT, 0.06),
         (Status.DECEASED, 0.01)),
        ("Padat karya perbaikan jalan desa", "Padat karya normalisasi saluran irigasi",
         "Padat karya pembangunan drainase", "Padat karya rehabilitasi embung", "Padat karya penanaman mangrove"),
        (10, 30), _labour_intensive_value),
    "tenaga_kerja_mandiri": ProgramProfile(
        ((Status.BENEFIT_PAID, 0.58), (Status.ENROLLED, 0.25), (Status.COMPLETED, 0.11), (Status.DROPPED_OUT, 0.05),
         (Status.DECEASED, 0.01)),
        ("Bantuan sarana usaha warung sembako", "Bantuan sarana usaha budidaya lele",
         "Bantuan sarana usaha kerajinan anyaman", "Bantuan sarana usaha jahit", "Bantuan sarana usaha bengkel motor",
         "Bantuan sarana usaha olahan pangan"), (30, 90), _self_employment_value),
    "pbi_jamsostek_pekerja_rentan": ProgramProfile(
        ((Status.BENEFIT_PAID, 0.70), (Status.ENROLLED, 0.24), (Status.SUSPENDED, 0.04), (Status.DECEASED, 0.02)),
        ("Pendaftaran peserta BPU JKK-JKM BPJS Ketenagakerjaan",), (30, 360), _contribution_value),
}
assert set(PROFILES) == set(PROGRAMS)
ADDED_PROGRAM = ProgramProfile(
    ((Status.COMPLETED, 0.6), (Status.ENROLLED, 0.25), (Status.DROPPED_OUT, 0.13), (Status.DECEASED, 0.02)),
    ("Kegiatan program tambahan (persetujuan tertulis/adendum)",), (14, 60), _training_value)
"""A program the parties added (written approval, Art. 10(2); addendum, Art. 14): a generic activity."""

_FIRST = ("Siti", "Ahmad", "Dewi", "Budi", "Sri", "Agus", "Nur", "Eko", "Rina", "Joko", "Wahyu", "Yuni", "Dian",
          "Hendra", "Lestari", "Rudi", "Fitri", "Slamet", "Ani", "Bambang", "Putri", "Imam", "Ratna", "Asep")
_LAST = ("Rahayu", "Santoso", "Wati", "Hidayat", "Susanti", "Saputra", "Handayani", "Pratama", "Kurniawan",
         "Lestari", "Nugroho", "Setiawan", "Siregar", "Simanjuntak", "Hasibuan", "Permana", "Purba", "")


class SynthError(ValueError):
    """The inputs cannot make a data balikan; the message says why."""


@dataclass(frozen=True)
class Person:
    nik: str
    nama: str
    kode: str  # Kemendagri region code (10 digits in the package)
    place: str  # regency or village name, for the activity
    born: dt.date | None = None

    def working_age(self, on: dt.date) -> bool:
        """15-64 on that day; a person of unknown age counts as working age."""
        if self.born is None:
            return True
        age = on.year - self.born.year - ((on.month, on.day) < (self.born.month, self.born.day))
        return WORKING_AGE[0] <= age <= WORKING_AGE[1]


@dataclass
class FeedbackSynth:
    package_csv: Path
    program: str
    out: Path
    seed: int = 0
    served_share: float = 0.8
    not_delivered_from: Path | None = None
    not_delivered: int = 0
    not_in_p3ke: int = 0
    invalid_nik: int = 0
    start: dt.date | None = None


@dataclass
class FeedbackSynthResult:
    out: Path
    program: str
    seed: int
    start: dt.date
    package_rows: int
    rows: int
    by_class: dict[str, int]  # the match class each row is planted in
    by_status: dict[str, int]
    invalid_kinds: dict[str, int]
    handover_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "program": self.program, "seed": self.seed, "start": self.start.isoformat(),
                "package_rows": self.package_rows, "rows": self.rows, "expected_by_match_class": self.by_class,
                "by_status": self.by_status, "invalid_nik_kinds": self.invalid_kinds, "handover_id": self.handover_id,
                "columns": list(HEADER), "notes": self.notes}


def program_code(text: str) -> str:
    code = PROGRAM_ALIASES.get(token(text))
    if code is not None:
        return code
    if re.fullmatch(PROGRAM_PATTERN, text.strip()):
        return text.strip()  # a program the parties added
    raise SynthError(f"unknown program {text!r}: one of {', '.join(PROGRAMS)} (or tkm, pbi, pk, pbk), or the code "
                     f"of a program the parties added (lower case letters, digits and _)")


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"p3ke-feedback-synth:{seed}:{purpose}")  # str seeds hash with SHA-512: stable


def _header_and_rows(path: Path) -> tuple[list[str], Iterator[list[str]], Any]:
    """A CSV with a header row somewhere in its first lines naming ``nik`` (title rows allowed)."""
    fh = path.open(encoding="utf-8-sig", newline="")
    head = [fh.readline() for _ in range(50)]
    for i, line in enumerate(head):
        if not line.strip():
            continue
        delimiter = max((",", ";", "\t", "|"), key=line.count)
        names = [token(n) for n in next(csv.reader([line], delimiter=delimiter))]
        if "nik" in names:
            fh.seek(0)
            for _ in range(i + 1):
                fh.readline()
            return names, csv.reader(fh, delimiter=delimiter), fh
    fh.close()
    raise SynthError(f"{path}: no header row with a `nik` column in its first 50 lines")


def _people(path: Path) -> Iterator[Person]:
    names, reader, fh = _header_and_rows(path)
    col = {n: i for i, n in enumerate(names)}
    kode_col = next((col[c] for c in ("kode_kemendagri", "kode_wilayah", "kode_desa") if c in col), None)
    place_col = next((col[c] for c in ("desa_kelurahan", "kabupaten_kota", "kecamatan") if c in col), None)
    nama_col = next((col[c] for c in ("nama", "nama_lengkap") if c in col), None)
    born_col = col.get("tanggal_lahir")
    nik_col = col["nik"]
    try:
        for row in reader:
            if len(row) <= nik_col:
                continue
            nik = row[nik_col].strip().lstrip("'")
            kode = row[kode_col].strip().replace(".", "") if kode_col is not None and kode_col < len(row) else ""
            if not kode and NIK_RE.fullmatch(nik):
                kode = nik[:4]  # the regency of first issue: a code that exists
            yield Person(nik=nik, nama=_at(row, nama_col), kode=kode, place=_at(row, place_col),
                         born=_birth_date(_at(row, born_col)))
    finally:
        fh.close()


def _at(row: list[str], i: int | None) -> str:
    return row[i].strip() if i is not None and i < len(row) else ""


def _birth_date(text: Any) -> dt.date | None:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def _snapshot_people(path: Path) -> Iterator[Person]:
    """Persons of a P3KE snapshot file: the individual CSV ``p3ke synth`` writes, or a published Parquet."""
    if path.suffix.lower() != ".parquet":
        yield from _people(path)
        return
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    present = set(pf.schema_arrow.names)
    if "nik" not in present:
        raise SynthError(f"{path}: no `nik` column")
    wanted = [c for c in ("nik", "nama", "kode_kemendagri", "desa_kelurahan", "tanggal_lahir") if c in present]
    for batch in pf.iter_batches(batch_size=65_536, columns=wanted):
        cols = {c: batch.column(c).to_pylist() for c in wanted}
        empty = [None] * batch.num_rows
        for nik, nama, kode, place, born in zip(
                cols["nik"], cols.get("nama", empty), cols.get("kode_kemendagri", empty),
                cols.get("desa_kelurahan", empty), cols.get("tanggal_lahir", empty), strict=True):
            yield Person(nik=str(nik or ""), nama=str(nama or ""), kode=str(kode or ""), place=str(place or ""),
                         born=_birth_date(born))


def _valid_nik(nik: str) -> bool:
    """Well-formed as the feedback service checks (apart from the province table): 16 digits, a date, a serial."""
    if not NIK_RE.fullmatch(nik) or nik.endswith("0000"):
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    day = day - 40 if day > 40 else day
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else _DAY_IN_MONTH[month - 1])


def _package_manifest(package_csv: Path) -> dict[str, Any]:
    manifest = package_csv.with_name("manifest.json")
    if not manifest.is_file():
        return {}
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _made_up_name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}".strip()


def _new_nik(rng: random.Random, district: str, start: dt.date) -> str:
    """A well-formed NIK: district of issue + DDMMYY (women: day + 40) + a serial from 5000 up."""
    age = rng.randint(18, 59)
    born = start - dt.timedelta(days=365 * age + rng.randint(0, 364))
    day = born.day + (40 if rng.random() < 0.5 else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{rng.randint(5000, 9999):04d}"


def _spoil(rng: random.Random, nik: str, kind: str) -> str:
    if kind == "missing":
        return ""
    if kind == "short":
        return nik[:15]
    if kind == "scientific":
        return f"{nik[0]},{nik[1:6]}E+15" if rng.random() < 0.5 else f"{nik[0]}.{nik[1:6]}E+15"
    if kind == "province":
        return "00" + nik[2:]
    if kind == "date":
        return nik[:6] + "00" + "13" + nik[10:]
    return nik[:12] + "0000"  # serial_zero


def generate(spec: FeedbackSynth) -> FeedbackSynthResult:
    program = program_code(spec.program)
    if not 0.0 <= spec.served_share <= 1.0:
        raise SynthError("the served share is between 0 and 1")
    for name, n in (("not delivered", spec.not_delivered), ("not in P3KE", spec.not_in_p3ke),
                    ("invalid NIK", spec.invalid_nik)):
        if n < 0:
            raise SynthError(f"the number of {name} rows cannot be negative")
    if spec.not_delivered and spec.not_delivered_from is None:
        raise SynthError("persons not delivered are drawn from a snapshot: give --extra-not-delivered-from FILE N")
    manifest = _package_manifest(spec.package_csv)
    notes: list[str] = []
    if manifest.get("program") and manifest["program"] != program:
        notes.append(f"the package's manifest.json is for program {manifest['program']}, not {program}: the "
                     f"feedback service will refuse this file for that handover")
    start = spec.start
    if start is None:
        created = str(manifest.get("created_at") or "")[:10]
        try:
            start = dt.date.fromisoformat(created) + dt.timedelta(days=START_AFTER_PACKAGE_DAYS)
        except ValueError:
            start = DEFAULT_START

    package = list(_people(spec.package_csv))
    if not package:
        raise SynthError(f"{spec.package_csv}: no rows")
    delivered = {p.nik for p in package}
    usable = [p for p in package if _valid_nik(p.nik) and p.kode]
    if len(usable) < len(package):
        notes.append(f"{len(package) - len(usable):,} package rows without a well-formed NIK or region were skipped")
    if not usable:
        raise SynthError(f"{spec.package_csv}: no row has a well-formed NIK and a region code")

    pick = _rng(spec.seed, "served")
    served_n = round(len(usable) * spec.served_share)
    # programs serve working-age persons: those first, others only when the share needs more
    adults = [i for i, p in enumerate(usable) if p.working_age(start)]
    rest = [i for i, p in enumerate(usable) if not p.working_age(start)]
    served_idx = pick.sample(adults, min(served_n, len(adults)))
    served_idx = sorted(served_idx + pick.sample(rest, served_n - len(served_idx)))
    served = [usable[i] for i in served_idx]
    chosen = set(served_idx)
    others = [p for i, p in enumerate(usable) if i not in chosen] or usable

    # persons not in P3KE: candidates first, then any found in the snapshot are dropped while it streams
    fresh = _rng(spec.seed, "not_in_p3ke")
    candidates: dict[str, Person] = {}
    while len(candidates) < spec.not_in_p3ke + (spec.not_in_p3ke // 10 + 5 if spec.not_in_p3ke else 0):
        anchor = fresh.choice(usable)
        nik = _new_nik(fresh, anchor.kode[:6] if len(anchor.kode) >= 6 else anchor.nik[:6], start)
        if nik not in delivered and nik not in candidates:
            candidates[nik] = Person(nik, _made_up_name(fresh), anchor.kode, anchor.place)

    outside: list[Person] = []
    if spec.not_delivered_from is not None:
        draw = _rng(spec.seed, "not_delivered")
        heap: list[tuple[float, int, Person]] = []
        seen: set[str] = set()
        for i, p in enumerate(_snapshot_people(spec.not_delivered_from)):
            candidates.pop(p.nik, None)
            if p.nik in delivered or p.nik in seen or not _valid_nik(p.nik) or not p.kode.isdigit() \
                    or not p.working_age(start):
                continue
            if spec.not_delivered:
                seen.add(p.nik)
                key = draw.random()
                if len(heap) < spec.not_delivered:
                    heapq.heappush(heap, (-key, i, p))
                elif -heap[0][0] > key:
                    heapq.heapreplace(heap, (-key, i, p))
        outside = [p for _, _, p in sorted(heap, key=lambda t: t[1])]
        if len(outside) < spec.not_delivered:
            notes.append(f"the snapshot has only {len(outside):,} persons of working age outside the package "
                         f"({spec.not_delivered:,} asked)")
    strangers = list(candidates.values())[: spec.not_in_p3ke]

    spoil = _rng(spec.seed, "invalid")
    invalid: list[tuple[Person, str]] = []
    for k in range(spec.invalid_nik):
        base = spoil.choice(others)
        kind = INVALID_KINDS[k % len(INVALID_KINDS)]
        invalid.append((Person(_spoil(spoil, base.nik, kind), base.nama, base.kode, base.place), kind))

    planted: list[tuple[Person, MatchClass]] = [
        *((p, MatchClass.IN_EXTRACT) for p in served), *((p, MatchClass.IN_P3KE_NOT_DELIVERED) for p in outside),
        *((p, MatchClass.NOT_IN_P3KE) for p in strangers), *((p, MatchClass.INVALID_NIK) for p, _ in invalid)]
    order = _rng(spec.seed, "order")
    order.shuffle(planted)

    profile = PROFILES.get(program, ADDED_PROGRAM)
    fill = _rng(spec.seed, "rows")
    statuses = Counter[str]()
    spec.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = spec.out.with_name(f".{spec.out.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for person, _cls in planted:
            status = fill.choices([s for s, _ in profile.statuses], [w for _, w in profile.statuses])[0]
            statuses[status.value] += 1
            writer.writerow(_row(fill, profile, program, person, status, start))
    tmp.replace(spec.out)
    by_class = Counter(cls.value for _, cls in planted)
    return FeedbackSynthResult(
        out=spec.out, program=program, seed=spec.seed, start=start, package_rows=len(package), rows=len(planted),
        by_class={c.value: by_class.get(c.value, 0) for c in MatchClass if c != MatchClass.DUPLICATE},
        by_status=dict(sorted(statuses.items())), invalid_kinds=dict(Counter(kind for _, kind in invalid)),
        handover_id=manifest.get("handover_id"), notes=notes)


def _row(rng: random.Random, profile: ProgramProfile, program: str, person: Person, status: Status,
         start: dt.date) -> list[str]:
    begin = start + dt.timedelta(days=rng.randint(0, 60))
    planned = rng.randint(*profile.days)
    days = planned
    end: dt.date | None = begin + dt.timedelta(days=planned)
    if status in (Status.DROPPED_OUT, Status.DECEASED):
        days = rng.randint(1, max(planned - 1, 1))
        end = begin + dt.timedelta(days=days)
    elif status in (Status.ENROLLED, Status.SUSPENDED):
        end = None
        days = rng.randint(1, planned)
    elif status == Status.BENEFIT_PAID and rng.random() < 0.3:
        end = None
    value = profile.value(rng, days, status)
    place = f", {person.place}" if person.place else ""
    return [person.nik, person.nama or _made_up_name(rng), person.kode, program,
            rng.choice(profile.activities) + place, begin.strftime("%d/%m/%Y"),
            end.strftime("%d/%m/%Y") if end else "", STATUS_WORDS[status], "" if value is None else str(value)]
