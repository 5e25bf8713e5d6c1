"""The retention schedule (UU PDP Art. 16(2)(h), 43-44): how long each kind of artefact is kept, from which event,
on which legal basis, and which service disposes of it.

Why configuration and not constants: the periods are a decision of the data controllers (both ministries' data
protection officers), written down and changed without a release, and every disposal names the rule it applied.
The schedule is a YAML file with one rule per kind of artefact; every kind must have exactly one rule, so a new
kind of artefact cannot be kept forever by omission. A rule reads "keep `period` after `starts`"; with several
`starts`, the first of them to happen starts the period. `ends_with_agreement` (the data's basis is the PKS)
makes the artefact due when the agreement ends at the latest (PKS Art. 8; UU PDP Art. 43-44);
`until_certificate` keeps it until party 2's disposal certificate (*berita acara pemusnahan*) is in, whatever
the period says (the proof of what party 2 must destroy). Periods and days: see `due.py`.

Errors name the file, the line and the kind, say what is wrong and how to fix it, in Indonesian then English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator


class Kind(StrEnum):
    """Every kind of artefact holding personal data (or keyed references to it) that the services keep."""

    RAW_UPLOAD = "raw-upload"
    REJECTED_UPLOAD = "rejected-upload"
    SUPERSEDED_SNAPSHOT = "superseded-snapshot"
    CURRENT_SNAPSHOT = "current-snapshot"
    EXTRACT = "extract"
    SELECTION_LEDGER = "selection-ledger"
    PACKAGE = "package"
    FEEDBACK_RAW = "feedback-raw"
    FINDINGS = "findings"
    SUBJECT_REFERENCES = "subject-references"


KIND_TEXT: dict[Kind, tuple[str, str]] = {
    Kind.RAW_UPLOAD: ("berkas unggahan mentah", "raw upload"),
    Kind.REJECTED_UPLOAD: ("berkas unggahan yang ditolak", "rejected upload"),
    Kind.SUPERSEDED_SNAPSHOT: ("snapshot yang telah diganti", "superseded snapshot"),
    Kind.CURRENT_SNAPSHOT: ("snapshot yang berlaku", "current snapshot"),
    Kind.EXTRACT: ("ekstrak", "extract"),
    Kind.SELECTION_LEDGER: ("buku penerima seleksi", "selection ledger"),
    Kind.PACKAGE: ("paket serah terima", "package"),
    Kind.FEEDBACK_RAW: ("berkas data balikan mentah", "feedback raw file"),
    Kind.FINDINGS: ("berkas temuan validasi", "findings file"),
    Kind.SUBJECT_REFERENCES: ("berkas referensi subjek data", "subject-reference file"),
}


class Trigger(StrEnum):
    """The life events a retention period can start from (each artefact's inventory gives their times)."""

    UPLOADED = "uploaded"
    PUBLISHED = "published"
    REJECTED = "rejected"
    VALIDATED = "validated"
    SUPERSEDED = "superseded"
    PACKAGE_DOWNLOADED = "package-downloaded"
    HANDOVER_REVOKED = "handover-revoked"
    PURPOSE_ENDED = "purpose-ended"
    AGREEMENT_ENDED = "agreement-ended"
    BATCH_RECEIVED = "batch-received"
    FEEDBACK_SUPERSEDED = "feedback-superseded"
    INDEXED_DISPOSED = "indexed-disposed"
    DISPOSAL_CERTIFIED = "disposal-certified"


TRIGGER_TEXT: dict[Trigger, tuple[str, str]] = {
    Trigger.UPLOADED: ("berkas diunggah", "the file is uploaded"),
    Trigger.PUBLISHED: ("versi data yang dibentuknya diterbitkan", "the version made from it is published"),
    Trigger.REJECTED: ("pengajuannya ditolak atau gagal", "its submission is refused or fails"),
    Trigger.VALIDATED: ("validasi pengajuan selesai", "the submission's validation ends"),
    Trigger.SUPERSEDED: ("snapshot berikutnya diterbitkan", "the next snapshot is published"),
    Trigger.PACKAGE_DOWNLOADED: ("paket diunduh", "the package is downloaded"),
    Trigger.HANDOVER_REVOKED: ("serah terima dicabut", "the handover is revoked"),
    Trigger.PURPOSE_ENDED: ("tujuan serah terima tercapai atau berakhir", "the handover's purpose ends"),
    Trigger.AGREEMENT_ENDED: ("perjanjian berakhir", "the agreement ends"),
    Trigger.BATCH_RECEIVED: ("batch data balikan diterima", "the feedback batch is received"),
    Trigger.FEEDBACK_SUPERSEDED: ("batch data balikan diganti", "the feedback batch is replaced"),
    Trigger.INDEXED_DISPOSED: ("artefak yang dirujuknya dimusnahkan", "the artefact it indexes is disposed of"),
    Trigger.DISPOSAL_CERTIFIED: ("berita acara pemusnahan pihak kedua diterima",
                                 "party 2's disposal certificate is in"),
}

OWNERS = ("ingest", "targeting", "delivery", "feedback")
"""The services that keep artefacts (audit and the witness keep none of these)."""

_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


class ScheduleError(ValueError):
    """A retention schedule file that cannot be used; the message lists every problem, each naming its place."""


def _choices(values: Any) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class Period:
    """A retention period in calendar units (Jakarta calendar; see `due.add_period`)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, value: Any) -> Period:
        """Whole days (`30`) or an ISO 8601 date duration (`P30D`, `P2W`, `P3M`, `P1Y6M`); 0 / `P0D` allowed."""
        if isinstance(value, Period):
            return value
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(_period_problem(value))
        if isinstance(value, int):
            if value < 0:
                raise ValueError(_negative(value))
            return cls(days=value)
        text = value.strip().upper()
        if text.startswith("-"):
            raise ValueError(_negative(value))
        if text.isdigit():
            return cls(days=int(text))
        match = _PERIOD.match(text)
        if not match or text == "P":
            raise ValueError(_period_problem(value))
        years, months, weeks, days = (int(g or 0) for g in match.groups())
        return cls(years=years, months=months, days=weeks * 7 + days)

    def text_id(self) -> str:
        parts = [f"{n} {unit}" for n, unit in ((self.years, "tahun"), (self.months, "bulan"), (self.days, "hari"))
                 if n]
        return " ".join(parts) or "0 hari"

    def text_en(self) -> str:
        parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return " ".join(parts) or "0 days"

    def iso(self) -> str:
        body = "".join(f"{n}{u}" for n, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n)
        return f"P{body or '0D'}"


def _negative(value: Any) -> str:
    return (f"periode {value!r} negatif; tulis 0 atau lebih (mis. 30 atau P30D) / period {value!r} is negative; "
            f"write 0 or more (e.g. 30 or P30D)")


def _period_problem(value: Any) -> str:
    return (f"periode {value!r} tidak dapat dibaca; tulis jumlah hari (30) atau durasi ISO 8601 (P30D, P2W, P3M, P1Y) "
            f"/ period {value!r} cannot be read; write a number of days (30) or an ISO 8601 duration (P30D, P2W, P3M, "
            f"P1Y)")


def _kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise ValueError(f"jenis artefak {value!r} tidak dikenal; gunakan salah satu dari: {_choices(Kind)} / unknown "
                         f"artefact kind {value!r}; use one of: {_choices(Kind)}") from None


def _triggers(value: Any) -> tuple[Trigger, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("starts kosong; sebutkan peristiwa yang memulai periode / starts is empty; name the event "
                         "that starts the period")
    out = []
    for item in items:
        try:
            out.append(Trigger(item))
        except ValueError:
            raise ValueError(f"peristiwa awal {item!r} tidak dikenal; gunakan salah satu dari: {_choices(Trigger)} / "
                             f"unknown starting event {item!r}; use one of: {_choices(Trigger)}") from None
    return tuple(dict.fromkeys(out))


def _owner(value: Any) -> str:
    if value not in OWNERS:
        raise ValueError(f"pemilik {value!r} bukan layanan yang menyimpan artefak; gunakan salah satu dari: "
                         f"{_choices(OWNERS)} / owner {value!r} is not a service that keeps artefacts; use one of: "
                         f"{_choices(OWNERS)}")
    return str(value)


Text = Annotated[str, Field(min_length=10, max_length=2000)]


class Rule(BaseModel):
    """One line of the schedule: keep artefacts of `kind` for `period` after the first of `starts`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    kind: Annotated[Kind, BeforeValidator(_kind)]
    period: Annotated[Period, BeforeValidator(Period.parse)]
    starts: Annotated[tuple[Trigger, ...], BeforeValidator(_triggers)]
    ends_with_agreement: bool = Field(
        default=False, description="its basis is the agreement: due when the agreement ends at the latest")
    until_certificate: bool = Field(
        default=False, description="not before party 2's disposal certificate for its handover is in")
    owner: Annotated[str, BeforeValidator(_owner)]
    basis_id: Text
    basis_en: Text

    @field_validator("basis_id", "basis_en", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    def describe_id(self) -> str:
        events = " atau ".join(TRIGGER_TEXT[t][0] for t in self.starts)
        text = (f"{self.period.text_id()} setelah {events}" if self.period.years or self.period.months
                or self.period.days else f"saat {events}")
        if self.ends_with_agreement and Trigger.AGREEMENT_ENDED not in self.starts:
            text += ", paling lambat saat perjanjian berakhir"
        if self.until_certificate:
            text += ", tidak sebelum berita acara pemusnahan pihak kedua diterima"
        return text

    def describe_en(self) -> str:
        events = " or ".join(TRIGGER_TEXT[t][1] for t in self.starts)
        text = (f"{self.period.text_en()} after {events}" if self.period.years or self.period.months
                or self.period.days else f"when {events}")
        if self.ends_with_agreement and Trigger.AGREEMENT_ENDED not in self.starts:
            text += ", at the latest when the agreement ends"
        if self.until_certificate:
            text += ", not before party 2's disposal certificate is in"
        return text


@dataclass(frozen=True)
class Schedule:
    """Every kind's rule, and where they were read from."""

    rules: dict[Kind, Rule]
    source: str
    title: str = ""

    def rule(self, kind: Kind | str) -> Rule:
        return self.rules[Kind(kind)]


def _where(name: str, line: int | None, kind: Any) -> str:
    place = name + (f" baris/line {line}" if line else "")
    return place + (f" ({kind})" if isinstance(kind, str) and kind else "")


def _problem(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"kolom '{loc}' wajib diisi / field '{loc}' is required"
    if err["type"] == "extra_forbidden":
        return (f"kolom '{loc}' tidak dikenal; hapus atau perbaiki ejaannya / unknown field '{loc}'; remove it or "
                f"correct its spelling")
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    if err["type"] in ("string_too_short", "string_type"):
        return (f"'{loc}': tulis dasar hukumnya dalam kalimat (paling sedikit 10 huruf) / '{loc}': write the legal "
                f"basis in words (at least 10 characters)")
    return f"'{loc}': {err['msg']}"


def _rule_lines(text: str) -> list[int | None]:
    """The line (1-based) of each rule of `rules:` in the YAML text, in order."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "rules" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_schedule(text: str, name: str) -> Schedule:
    """The schedule in `text` (YAML), read from the file `name`; ScheduleError lists every problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" baris/line {mark.line + 1}" if mark else ""
        raise ScheduleError(f"{name}{line}: bukan YAML yang sah / not valid YAML: {getattr(exc, 'problem', exc)}") \
            from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise ScheduleError(f"{name}: berkas harus berisi 'rules:', daftar aturan per jenis artefak / the file must "
                            f"hold 'rules:', a list of one rule per kind of artefact")
    unknown = sorted(set(doc) - {"schema_version", "title", "rules"})
    problems = [f"{name}: kolom {unknown} tidak dikenal di tingkat atas / unknown top-level fields {unknown}"] \
        if unknown else []
    lines = _rule_lines(text)
    rules: dict[Kind, Rule] = {}
    seen_at: dict[Kind, int | None] = {}
    for i, item in enumerate(doc["rules"]):
        line = lines[i] if i < len(lines) else None
        kind = item.get("kind") if isinstance(item, dict) else None
        where = _where(name, line, kind)
        if not isinstance(item, dict):
            problems.append(f"{where}: aturan harus berupa pemetaan (kind, period, starts, ...) / a rule must be a "
                            f"mapping (kind, period, starts, ...)")
            continue
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            problems += [f"{where}: {_problem(err)}" for err in exc.errors(include_url=False)]
            continue
        if rule.kind in rules:
            first = seen_at[rule.kind]
            problems.append(f"{where}: jenis '{rule.kind}' sudah diatur di baris {first}; satu aturan per jenis / "
                            f"kind '{rule.kind}' is already set on line {first}; one rule per kind")
            continue
        rules[rule.kind] = rule
        seen_at[rule.kind] = line
    named = {item.get("kind") for item in doc["rules"] if isinstance(item, dict)}
    missing = [k.value for k in Kind if k not in rules and k.value not in named]
    if missing:
        problems.append(f"{name}: jenis {', '.join(missing)} tidak ada dalam jadwal; setiap jenis artefak harus punya "
                        f"satu aturan / kinds {', '.join(missing)} are missing; every kind of artefact needs one rule")
    if problems:
        raise ScheduleError("jadwal retensi tidak dapat dipakai / the retention schedule cannot be used:\n  "
                            + "\n  ".join(problems))
    return Schedule(rules={k: rules[k] for k in Kind}, source=name, title=str(doc.get("title") or ""))


def load_schedule(path: Path) -> Schedule:
    """Read and check the schedule file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(f"{path}: berkas jadwal retensi tidak dapat dibaca / the retention schedule file cannot "
                            f"be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScheduleError(f"{path}: bukan teks UTF-8 / not UTF-8 text") from None
    return parse_schedule(text, str(path))
