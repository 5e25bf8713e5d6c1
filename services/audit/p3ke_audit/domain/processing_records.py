"""The records UU PDP asks the controller to keep, built from what the system already knows: the register of
processing activities (Art. 31, "ROPA") and the data protection impact assessment (Art. 34, "DPIA").

One processing activity is one program × one of its purposes (the agreement's structured purpose codes, and
the purposes of written approvals, Art. 10(2)): who provides and who receives (party 1 and party 2), the
legal basis, the data subjects and the personal data (the program's fields, by category), the recipients, the
transfers (none abroad), retention (the agreement's term and the retention schedule the services apply: per kind
of data its period, the event that starts it, the cap by the agreement's end and its legal basis, with the
schedule file's SHA-256) and the safeguards, with the processing log's figures for the program. The DPIA states
the same facts and assesses the risks of a catalogue compliance staff edit as YAML (`processing_records.yaml`,
validated here).

Pure: no clock, no database, no files. The service layer passes the agreement, the retention schedule (and its
digest), the log's figures and the time; the documents are pydantic models, so their JSON is validated and its
schema published. Fields added after the first versions were stored have defaults, so every stored version still
reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from p3ke_platform.agreement import WIB, Agreement, Program, Purpose, Terms
from p3ke_platform.retention import KIND_TEXT, TRIGGER_TEXT, Schedule, Trigger, agreement_end

CATALOGUE_PATH = Path(__file__).with_name("processing_records.yaml")
SCHEMA_VERSION = 1
Kind = Literal["ropa", "dpia"]
KINDS: tuple[Kind, ...] = ("ropa", "dpia")
TITLES: dict[str, str] = {
    "ropa": "Catatan Kegiatan Pemrosesan Data Pribadi",
    "dpia": "Penilaian Dampak Pelindungan Data Pribadi",
}
LAW = "Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi"
RETENTION_CONFIGURED = "jadwal retensi yang ditetapkan para pengendali (P3KE_RETENTION_SCHEDULE)"
RETENTION_DEFAULT = ("jadwal retensi bawaan (P3KE_RETENTION_SCHEDULE tidak diatur: belum ditetapkan para "
                     "pengendali; hanya di luar produksi)")
Level = Literal["rendah", "sedang", "tinggi"]
_LEVELS: dict[str, int] = {"rendah": 1, "sedang": 2, "tinggi": 3}
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- the catalogue (YAML, edited by compliance staff) -----------------------------------------------------------

class FieldCategory(_Strict):
    code: Code
    title_id: Text
    title: Text
    fields: tuple[Code, ...] = Field(min_length=1)


class Safeguard(_Strict):
    code: Code
    title_id: Text
    title: Text
    description_id: Text
    implemented_in: Text


class Risk(_Strict):
    code: Code
    title_id: Text
    title: Text
    description_id: Text
    likelihood: Level
    severity: Level
    measures: tuple[Code, ...] = Field(min_length=1)
    residual_likelihood: Level
    residual_severity: Level


class Catalogue(_Strict):
    schema_version: Literal[1]
    field_categories: tuple[FieldCategory, ...]
    safeguards: tuple[Safeguard, ...] = Field(min_length=1)
    risks: tuple[Risk, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        for name, codes in (("field_categories", [c.code for c in self.field_categories]),
                            ("safeguards", [s.code for s in self.safeguards]), ("risks", [r.code for r in self.risks])):
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise ValueError(f"{name}: kode ganda / duplicate code: {', '.join(twice)}")
        fields = [f for c in self.field_categories for f in c.fields]
        twice = sorted({f for f in fields if fields.count(f) > 1})
        if twice:
            raise ValueError(f"field_categories: kolom di lebih dari satu kategori / field in more than one "
                             f"category: {', '.join(twice)}")
        known = {s.code for s in self.safeguards}
        for risk in self.risks:
            unknown = [m for m in risk.measures if m not in known]
            if unknown:
                raise ValueError(f"risks.{risk.code}.measures: pengaman tidak dikenal / unknown safeguard "
                                 f"{', '.join(unknown)}; pilih dari safeguards / choose from safeguards: "
                                 f"{', '.join(sorted(known))}")
        return self


class CatalogueError(ValueError):
    """The catalogue file is unreadable or invalid; the message names the file and the field."""


def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read and validate the catalogue; errors name the file and the field, Indonesian first."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: katalog catatan pemrosesan tidak terbaca / the processing records catalogue "
                             f"cannot be read: {exc}") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(str(p) for p in e['loc']) or '-'}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors(include_url=False)]
        raise CatalogueError("\n".join(lines)) from None


@cache
def bundled_catalogue() -> Catalogue:
    return load_catalogue(CATALOGUE_PATH)


# -- the documents ----------------------------------------------------------------------------------------------

class Issue(_Strict):
    """Which version this is and who issued it when, why, under which terms."""

    version: int = Field(ge=1)
    issued_at: datetime
    issued_by: str
    reason: Literal["first", "terms-changed", "schedule-changed", "requested"]
    terms_sha256: str | None
    schedule_sha256: str | None = None  # the retention schedule file's (versions issued before it was stated: None)


class AgreementFacts(_Strict):
    id: str
    reference: str
    title: str
    terms_version: str
    terms_sha256: str | None
    signed_on: date
    first_day: date
    last_day: date
    status: str
    applied: tuple[str, ...]


class Controller(_Strict):
    party: int
    org: str
    name: str
    unit: str
    address: str
    role: str
    role_id: str


class DataCategory(_Strict):
    code: str
    title_id: str
    fields: tuple[str, ...]


class RetentionRule(_Strict):
    """One line of the retention schedule, as the documents state it."""

    kind: str
    kind_id: str
    period: str  # ISO 8601 (P30D, P1Y, P0D)
    period_id: str
    starts_id: str
    ends_with_agreement: bool
    cap_id: str
    until_certificate: bool
    owner: str
    rule_id: str
    basis_id: str


class Retention(_Strict):
    configured: bool
    status_id: str
    rule_id: str
    agreement_first_day: date
    agreement_last_day: date
    schedule_title: str | None = None
    schedule_sha256: str | None = None
    rules: tuple[RetentionRule, ...] = ()


class FigureRow(_Strict):
    program: str | None
    action: str
    outcome: str
    accesses: int = Field(ge=0)
    records: int = Field(ge=0)


class Figures(_Strict):
    period_from: datetime
    period_to: datetime
    rows: tuple[FigureRow, ...]
    total_accesses: int
    total_records: int

    def for_program(self, code: str) -> tuple[FigureRow, ...]:
        return tuple(r for r in self.rows if r.program == code)


class Activity(_Strict):
    id: str
    program: str
    program_title_id: str
    program_article: str | None
    purpose: str
    purpose_title_id: str
    purpose_title: str
    basis: Literal["agreement", "written-approval"]
    grounds: tuple[str, ...]
    legal_basis: tuple[str, ...]
    data_subjects_id: str
    personal_data: tuple[DataCategory, ...]
    fields: tuple[str, ...]
    specific_personal_data: bool
    provided_by: str
    recipients: tuple[str, ...]
    transfers_abroad: bool
    transfers_note_id: str
    retention: Retention
    safeguards: tuple[str, ...]
    figures: tuple[FigureRow, ...]


class SafeguardFact(_Strict):
    code: str
    title_id: str
    description_id: str
    implemented_in: str
    status_id: str | None = None


class Ropa(_Strict):
    document: Literal["ropa"] = "ropa"
    schema_version: Literal[1] = 1
    title_id: str
    law_id: str
    issue: Issue
    agreement: AgreementFacts
    controllers: tuple[Controller, ...]
    activities: tuple[Activity, ...]
    safeguards: tuple[SafeguardFact, ...]
    retention: Retention
    figures: Figures


class AssessedRisk(_Strict):
    code: str
    title_id: str
    description_id: str
    likelihood: Level
    severity: Level
    level: Level
    measures: tuple[str, ...]
    residual_likelihood: Level
    residual_severity: Level
    residual_level: Level


class Dpia(_Strict):
    document: Literal["dpia"] = "dpia"
    schema_version: Literal[1] = 1
    title_id: str
    law_id: str
    issue: Issue
    agreement: AgreementFacts
    mandatory_because_id: tuple[str, ...]
    description_id: str
    activities: tuple[str, ...]
    necessity_id: tuple[str, ...]
    risks: tuple[AssessedRisk, ...]
    safeguards: tuple[SafeguardFact, ...]
    residual_level: Level
    conclusion_id: str
    figures: Figures
    retention: Retention | None = None


# -- facts derived from the agreement ---------------------------------------------------------------------------

class SystemFacts(_Strict):
    """What the running system is configured with, for safeguards whose state depends on it."""

    witnesses: int = Field(ge=0)
    witness_quorum: int = Field(ge=0)


@dataclass(frozen=True)
class RetentionSchedule:
    """The retention schedule the services apply (`ServiceContext.retention_schedule`), the SHA-256 of its file,
    and whether P3KE_RETENTION_SCHEDULE named it (else the packaged default applies: outside production only)."""

    schedule: Schedule
    sha256: str
    configured: bool


def level(likelihood: str, severity: str) -> Level:
    """The risk level of a likelihood × severity (1..3 each): 1-2 rendah, 3-4 sedang, 6-9 tinggi."""
    score = _LEVELS[likelihood] * _LEVELS[severity]
    return "rendah" if score <= 2 else "sedang" if score <= 4 else "tinggi"


def agreement_facts(agreement: Agreement, terms: Terms, day: date) -> AgreementFacts:
    return AgreementFacts(id=terms.id, reference=terms.reference, title=terms.title, terms_version=terms.version,
                          terms_sha256=agreement.digest, signed_on=terms.signed_on,
                          first_day=terms.validity.first_day, last_day=terms.validity.last_day,
                          status=terms.status(day), applied=terms.applied)


def _retention_rules(agreement: Agreement, schedule: Schedule) -> tuple[RetentionRule, ...]:
    ends = agreement_end(agreement).astimezone(WIB) - timedelta(days=1)
    out = []
    for kind, rule in schedule.rules.items():
        starts = " atau ".join(TRIGGER_TEXT[t][0] for t in rule.starts)
        if rule.ends_with_agreement and Trigger.AGREEMENT_ENDED not in rule.starts:
            cap = f"paling lambat saat perjanjian berakhir (hari terakhir {ends:%Y-%m-%d})"
        elif rule.ends_with_agreement:
            cap = f"saat perjanjian berakhir (hari terakhir {ends:%Y-%m-%d})"
        else:
            cap = "tidak dibatasi berakhirnya perjanjian"
        out.append(RetentionRule(kind=kind.value, kind_id=KIND_TEXT[kind][0], period=rule.period.iso(),
                                 period_id=rule.period.text_id(), starts_id=starts,
                                 ends_with_agreement=rule.ends_with_agreement, cap_id=cap,
                                 until_certificate=rule.until_certificate, owner=rule.owner,
                                 rule_id=rule.describe_id(), basis_id=rule.basis_id))
    return tuple(out)


def retention(agreement: Agreement, terms: Terms, schedule: RetentionSchedule) -> Retention:
    v = terms.validity
    rules = _retention_rules(agreement, schedule.schedule)
    return Retention(
        configured=schedule.configured,
        status_id=RETENTION_CONFIGURED if schedule.configured else RETENTION_DEFAULT,
        rule_id=(f"Data dimanfaatkan selama jangka waktu perjanjian (PKS Pasal 8 ayat (1): {v.first_day} s.d. "
                 f"{v.last_day}); berakhirnya perjanjian tidak menghapus hak dan kewajiban yang harus diselesaikan "
                 f"(Pasal 8 ayat (3)), termasuk kerahasiaan (Pasal 10) dan laporan data balikan (Pasal 4 ayat (2)); "
                 f"setelah masa retensi berakhir data dimusnahkan (UU PDP Pasal 16 ayat (2), Pasal 43-44). Setiap "
                 f"jenis data disimpan menurut jadwal retensi ({len(rules)} jenis; SHA-256 berkas jadwal "
                 f"{schedule.sha256}) dan dimusnahkan oleh layanan yang menyimpannya."),
        agreement_first_day=v.first_day, agreement_last_day=v.last_day,
        schedule_title=schedule.schedule.title or None, schedule_sha256=schedule.sha256, rules=rules)


def _categories(fields: tuple[str, ...], catalogue: Catalogue) -> tuple[DataCategory, ...]:
    out = []
    placed: set[str] = set()
    for cat in catalogue.field_categories:
        own = tuple(f for f in fields if f in cat.fields)
        placed.update(own)
        if own:
            out.append(DataCategory(code=cat.code, title_id=cat.title_id, fields=own))
    rest = tuple(f for f in fields if f not in placed)
    if rest:
        out.append(DataCategory(code="lainnya", title_id="Lainnya", fields=rest))
    return tuple(out)


def _activity(terms: Terms, program_code: str, title_id: str, article: str | None, purpose: Purpose,
              fields: tuple[str, ...], grounds: tuple[str, ...], catalogue: Catalogue, figures: Figures,
              kept: Retention) -> Activity:
    party1, party2 = terms.party(1), terms.party(2)
    basis: Literal["agreement", "written-approval"] = "written-approval" if grounds else "agreement"
    approved = f"{terms.reference} Pasal 10 ayat (2): persetujuan tertulis {', '.join(grounds)}"
    legal = [f"{terms.reference} Pasal {article} (ruang lingkup program)" if article else approved]
    if grounds and article:
        legal.append(approved)
    legal += [f"{terms.reference} Pasal 4 dan 5 (penyediaan dan pemanfaatan data), Pasal 6 ayat (1) (BAST)",
              f"{terms.reference} Pasal 10 ayat (1) (kerahasiaan dan minimisasi data)",
              "UU PDP Pasal 20 ayat (2) huruf e (pelaksanaan tugas dan kewenangan berdasarkan peraturan "
              "perundang-undangan)",
              "UU PDP Pasal 16 ayat (2) (pemrosesan terbatas, spesifik, sah dan transparan)"]
    return Activity(
        id=f"{program_code}.{purpose.code}", program=program_code, program_title_id=title_id,
        program_article=article, purpose=purpose.code, purpose_title_id=purpose.title_id,
        purpose_title=purpose.title, basis=basis, grounds=grounds, legal_basis=tuple(legal),
        data_subjects_id=("Penduduk yang tercatat dalam Data P3KE (keluarga dan individu dalam kemiskinan ekstrem "
                          "dan miskin, desil kesejahteraan 1-4) yang memenuhi kriteria sasaran program"),
        personal_data=_categories(fields, catalogue), fields=fields,
        specific_personal_data=False,
        provided_by=f"PIHAK KESATU: {party1.name} ({party1.org})",
        recipients=(f"PIHAK KEDUA: {party2.name}, {party2.unit} ({party2.org})",),
        transfers_abroad=False,
        transfers_note_id="Tidak ada transfer data pribadi ke luar wilayah hukum Negara Republik Indonesia.",
        retention=kept, safeguards=tuple(s.code for s in catalogue.safeguards),
        figures=figures.for_program(program_code))


def activities(agreement: Agreement, terms: Terms, catalogue: Catalogue, figures: Figures,
               schedule: RetentionSchedule) -> tuple[Activity, ...]:
    """Every program × purpose of the terms, then every purpose a written approval adds (Art. 10(2))."""
    kept = retention(agreement, terms, schedule)
    found: list[Activity] = []
    for program in terms.programs:
        for purpose in program.purposes:
            found.append(_activity(terms, program.code, program.title_id, program.article, purpose,
                                   program.fields, (), catalogue, figures, kept))
    for appr in agreement.approvals:
        own: Program | None = terms.program(appr.program)
        purposes = [p for p in [appr.as_purpose()] if p is not None] or list(own.purposes if own else ())
        for purpose in purposes:
            if own is not None and own.purpose(purpose.code) is not None and not appr.fields:
                continue  # nothing the agreement's own activity does not already cover
            fields = tuple(dict.fromkeys([*(own.fields if own else ()), *appr.fields]))
            activity = _activity(terms, appr.program, own.title_id if own else appr.program,
                                 own.article if own else None, purpose, fields, (appr.id,), catalogue, figures,
                                 kept)
            found = [a for a in found if a.id != activity.id] + [activity]
    return tuple(found)


def controllers(terms: Terms) -> tuple[Controller, ...]:
    roles = {"data-provider": "PIHAK KESATU, menyediakan data (Pasal 4 ayat (1))",
             "data-user": "PIHAK KEDUA, menerima dan memanfaatkan data (Pasal 4 ayat (2))"}
    return tuple(Controller(party=p.party, org=p.org, name=p.name, unit=p.unit, address=p.address, role=p.role,
                            role_id=roles[p.role]) for p in sorted(terms.parties, key=lambda p: p.party))


def safeguard_facts(catalogue: Catalogue, facts: SystemFacts) -> tuple[SafeguardFact, ...]:
    status = {"saksi_checkpoint": (f"{facts.witnesses} saksi dikonfigurasi, kuorum {facts.witness_quorum}"
                                   if facts.witnesses else
                                   "belum ada saksi yang dikonfigurasi (P3KE_AUDIT_WITNESSES)")}
    return tuple(SafeguardFact(code=s.code, title_id=s.title_id, description_id=s.description_id,
                               implemented_in=s.implemented_in, status_id=status.get(s.code))
                 for s in catalogue.safeguards)


def build_ropa(agreement: Agreement, terms: Terms, *, day: date, issue: Issue, figures: Figures,
               facts: SystemFacts, catalogue: Catalogue, schedule: RetentionSchedule) -> Ropa:
    return Ropa(title_id=TITLES["ropa"], law_id=f"{LAW}, Pasal 31", issue=issue,
                agreement=agreement_facts(agreement, terms, day), controllers=controllers(terms),
                activities=activities(agreement, terms, catalogue, figures, schedule),
                safeguards=safeguard_facts(catalogue, facts), retention=retention(agreement, terms, schedule),
                figures=figures)


def _retention_summary(kept: Retention) -> str:
    """The schedule in one sentence (the DPIA's necessity and proportionality)."""
    rules = "; ".join(f"{r.kind_id}: {r.rule_id}" for r in kept.rules)
    return (f"retensi menurut {kept.status_id} (SHA-256 berkas jadwal {kept.schedule_sha256}), per jenis data: "
            f"{rules}")


def build_dpia(agreement: Agreement, terms: Terms, *, day: date, issue: Issue, figures: Figures,
               facts: SystemFacts, catalogue: Catalogue, schedule: RetentionSchedule) -> Dpia:
    acts = activities(agreement, terms, catalogue, figures, schedule)
    kept = retention(agreement, terms, schedule)
    risks = tuple(AssessedRisk(code=r.code, title_id=r.title_id, description_id=r.description_id,
                               likelihood=r.likelihood, severity=r.severity, level=level(r.likelihood, r.severity),
                               measures=r.measures, residual_likelihood=r.residual_likelihood,
                               residual_severity=r.residual_severity,
                               residual_level=level(r.residual_likelihood, r.residual_severity))
                  for r in catalogue.risks)
    worst = max((r.residual_level for r in risks), key=_LEVELS.__getitem__)
    party1, party2 = terms.party(1), terms.party(2)
    fields = sorted({f for a in acts for f in a.fields})
    return Dpia(
        title_id=TITLES["dpia"], law_id=f"{LAW}, Pasal 34", issue=issue,
        agreement=agreement_facts(agreement, terms, day),
        mandatory_because_id=(
            "Pemrosesan berskala besar: Data P3KE mencakup sekitar 40% penduduk termiskin, orde 10^8 rekaman "
            "individu per snapshot (UU PDP Pasal 34 ayat (2)).",
            "Pencocokan atau penggabungan sekelompok data: data balikan Pihak Kedua dicocokkan dengan ekstrak "
            "yang diserahkan dan dengan Data P3KE (UU PDP Pasal 34 ayat (2)).",
        ),
        description_id=(f"{party1.name} ({party1.org}) menyediakan Data P3KE kepada {party2.name} ({party2.org}) "
                        f"berdasarkan {terms.reference} untuk {len(terms.programs)} program Pasal 3 "
                        f"({len(acts)} kegiatan pemrosesan: program × tujuan): penentuan sasaran dan hitungan "
                        f"perencanaan, ekstrak per program yang diserahkan dengan BAST, dan data balikan penerima "
                        f"program yang dicocokkan kembali. Kolom yang diproses: {', '.join(fields)}."),
        activities=tuple(a.id for a in acts),
        necessity_id=(
            "Setiap program hanya menerima kolom yang tercantum untuknya (PKS Pasal 10 ayat (1)); tidak ada data "
            "perumahan, aset, hubungan keluarga, status kawin, risiko stunting atau disabilitas yang dikirim.",
            "Setiap permintaan menyebut kode tujuan program; tujuan lain memerlukan persetujuan tertulis Pihak "
            "Kesatu (PKS Pasal 10 ayat (2)).",
            "Perencanaan memakai hitungan agregat yang dilindungi, bukan data per orang.",
            f"Penyerahan hanya selama perjanjian berlaku ({terms.validity.first_day} s.d. "
            f"{terms.validity.last_day}); {_retention_summary(kept)}.",
        ),
        risks=risks, safeguards=safeguard_facts(catalogue, facts), residual_level=worst,
        conclusion_id=(f"Risiko residual tertinggi: {worst}. Pemrosesan dapat dilanjutkan dengan langkah pengamanan "
                       f"di atas; penilaian ini diterbitkan ulang setiap kali ketentuan perjanjian atau jadwal retensi "
                       f"berubah."),
        figures=figures, retention=kept)
