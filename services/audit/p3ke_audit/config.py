"""The audit service's own settings (on top of the shared ones), `P3KE_AUDIT_*`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from p3ke_audit.domain.incidents import INCIDENT_VIOLATION_KINDS, VIOLATION_KINDS
from p3ke_platform.mail import SmtpConfig, parse_addresses
from p3ke_platform.settings import Settings, missing_files
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.dev_keys import is_development_witness_key
from p3ke_platform.tlog.note import CheckpointError

DEV_ORIGIN = "p3ke.local/audit"


@lru_cache(maxsize=64)
def witness_key(vkey: str) -> Witness:
    """A witness's cosignature/v1 verifier key, parsed once per process."""
    return Witness.parse(vkey)


def _bad_key(vkey: str) -> str | None:
    try:
        witness_key(vkey)
    except CheckpointError as exc:
        return (f"kunci saksi tidak sah (invalid witness key: {exc}); bentuknya "
                f"<nama>+<id hex>+<base64(0x04||kunci)>, seperti yang dicetak saksi")
    return None


def _bad_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return (f"alamat saksi {url[:100]!r} tidak sah: harus http(s)://host[:port]/prefix tanpa query "
                f"(the witness URL must be its http(s) submission prefix)")
    return None


class WitnessEndpoint(BaseModel):
    """A witness the log asks for cosignatures: its verifier key and its submission prefix
    (the log POSTs `<url>/add-checkpoint`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vkey: str = Field(description="cosignature/v1 verifier key: name+hexid+base64(0x04||Ed25519 key)")
    url: str = Field(description="submission prefix, e.g. https://witness.kemnaker.go.id/p3ke")

    @field_validator("vkey")
    @classmethod
    def _parses(cls, value: str) -> str:
        problem = _bad_key(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        problem = _bad_url(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip().rstrip("/")

    @property
    def witness(self) -> Witness:
        return witness_key(self.vkey)

    @property
    def name(self) -> str:
        return self.witness.name


def read_witnesses_file(path: Path) -> list[dict[str, str]]:
    """P3KE_AUDIT_WITNESSES_FILE: one witness per line, `<vkey> <url>`; blank lines and `#` comments skipped.
    A bad line stops start-up, named by its number."""
    setting = "P3KE_AUDIT_WITNESSES_FILE"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{setting}: {path} tidak dapat dibaca (cannot read it: {exc.strerror or exc}); "
                         f"apakah ConfigMap-nya terpasang?") from None
    except UnicodeDecodeError:
        raise ValueError(f"{setting}: {path} bukan teks UTF-8 (not UTF-8 text)") from None
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        where = f"{setting} {path} baris {number} (line {number})"
        if len(fields) != 2:
            raise ValueError(f"{where}: harus berisi '<vkey> <url>' dipisah spasi (expected two fields, "
                             f"got {len(fields)})")
        problem = _bad_key(fields[0]) or _bad_url(fields[1])
        if problem:
            raise ValueError(f"{where}: {problem}")
        found.append({"vkey": fields[0], "url": fields[1]})
    return found


class AuditSettings(Settings):
    # Every service's data-access events flow here: a longer window than the shared 5 ms fills the batches a
    # little more at a trickle (one transaction and one multi-row INSERT each; a backlog fills them at once);
    # entries show up at most this much later. 100 ms doubled the latency at 500 events/s (bench events).
    worker_batch_ms: int = Field(default=10, ge=1, le=10_000, description="longest wait to fill a batch")
    # A worker that is behind applies a full batch per transaction: the lock, the tree's right edge and the inbox
    # check cost the same for 500 entries as for 1000. Interleaved `bench audit` runs at 3*10^4 entries, 4 pairs:
    # 4,062-4,765 entries/s with 1000 against 3,466-4,189/s with 500 (2000: 4,293-4,527/s). With a checkpoint every
    # 1000 entries, a batch of 1000 still gets one each.
    worker_batch: int = Field(default=1000, ge=1, le=10_000, description="events applied per transaction")
    audit_checkpoint_every: int = Field(
        default=1000, ge=1, le=10_000_000, description="sign a checkpoint after this many new entries")
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, le=86_400, description="or after this many seconds, if the log grew")
    audit_checkpoint_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM, PKCS#8); default a development key in data_dir")
    audit_origin: str = Field(
        default=DEV_ORIGIN, pattern=r"^[^\s+]+$",
        description="the log's name in its checkpoints, e.g. kemenkopmk.go.id/p3ke/audit")
    audit_checkpointer_in_api: bool = Field(
        default=True, description="sign due checkpoints while no batch arrives (the audit-checkpointer "
        "job: in the API process, or in the jobs process when P3KE_JOBS_IN_API is false)")
    audit_max_page: int = Field(default=1000, ge=1, le=100_000, description="largest page of a query")
    audit_max_export: int = Field(default=100_000, ge=1, le=10_000_000, description="largest export")
    audit_max_days: int = Field(default=366, ge=1, le=3660, description="longest time range of a query")
    audit_volume_threshold: int = Field(
        default=100_000, ge=1, description="records one actor may touch in a day before it is flagged")
    # incidents (UU PDP Art. 46): the violations that open one automatically, and the scan of the log for them
    # and for forged-event refusals (the audit-incidents job)
    audit_incident_violation_kinds: Annotated[tuple[str, ...], NoDecode] = Field(
        default=INCIDENT_VIOLATION_KINDS, description="comma-separated kinds of /v1/violations that open an incident "
        f"automatically, of: {', '.join(VIOLATION_KINDS)} (empty: none)")
    audit_incident_scan_seconds: float = Field(
        default=60.0, gt=0, le=86_400, description="how often the audit-incidents job scans the log's new entries")
    audit_incident_scan_in_api: bool = Field(
        default=True, description="run the audit-incidents job (in the API process, or in the jobs process when "
        "P3KE_JOBS_IN_API is false)")
    # witnesses (C2SP tlog-witness): who cosigns our checkpoints, and how many of them make one "witnessed"
    audit_witnesses: Annotated[tuple[WitnessEndpoint, ...], NoDecode] = Field(
        default=(), description='JSON list of {"vkey": "<name>+<id>+<key>", "url": "<submission prefix>"}')
    audit_witnesses_file: Path | None = Field(
        default=None, description="or a file (a ConfigMap) with one witness per line: `<vkey> <url>`, # comments")
    audit_witness_quorum: int | None = Field(
        default=None, ge=0, le=100, description="cosignatures that make a checkpoint witnessed; default 1 when "
        "witnesses are configured (0: none needed, outside production only)")
    audit_witness_timeout_s: float = Field(default=10.0, gt=0, le=300, description="one request to a witness")
    audit_witness_retry_s: float = Field(
        default=5.0, gt=0, le=3600, description="how often the audit-witness job asks witnesses that have not "
        "cosigned the latest checkpoint")
    # obligations with deadlines (service_layer/obligations.py) and the working-day calendar they are counted on
    calendar_file: Path | None = Field(
        default=None, description="P3KE_CALENDAR_FILE: the national holidays and cuti bersama file (the bundled "
        "p3ke_platform/reference/data/hari_libur.yaml when unset): days the holidays package lacks, per SKB")
    obligation_due_soon_days: int = Field(
        default=14, ge=0, le=365, description="an open obligation is due soon this many calendar days before its due "
        "date")
    obligation_feedback_days: int = Field(
        default=90, ge=1, le=3650, description="data balikan (Art. 4(2), 5(1)) is due this many calendar days after "
        "the BAST is signed (the feedback service's P3KE_FEEDBACK_OVERDUE_DAYS, same default)")
    obligation_sweep_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="how often the audit-obligations job records status changes "
        "and reminders")
    # telling people (service_layer/notifications.py): email per party over SMTP (no host: no email)
    smtp_host: str | None = Field(default=None, description="P3KE_SMTP_HOST: the SMTP relay; unset: no email")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="P3KE_SMTP_PORT")
    smtp_from: str = Field(default="p3ke-audit@localhost", description="P3KE_SMTP_FROM: the sender address")
    smtp_starttls: bool = Field(default=False, description="P3KE_SMTP_STARTTLS: upgrade the connection with STARTTLS")
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=300, description="one SMTP conversation")
    notify_kemenkopmk: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="P3KE_NOTIFY_KEMENKOPMK: comma-separated addresses of party 1's compliance staff")
    notify_kemnaker: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="P3KE_NOTIFY_KEMNAKER: comma-separated addresses of party 2's compliance staff")
    notify_max_attempts: int = Field(
        default=5, ge=1, le=100, description="tries to email one notification before it stays failed")
    # data-subject access (service_layer/subject_records.py): the services asked for the person's records
    audit_subject_sources: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(), description="P3KE_AUDIT_SUBJECT_SOURCES: comma-separated `<service>=<API base URL>` asked for a "
        "person's records (POST <url>/v1/subject-records), e.g. ingest=http://ingest,delivery=http://delivery,"
        "feedback=http://feedback; none: an access bundle holds the trail only and says so")
    audit_subject_source_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="one request to a source for a person's records")
    # the compliance page's retention panel (entrypoints/retention_panel.py): the services that keep artefacts
    audit_retention_sources: Annotated[tuple[tuple[str, str], ...], NoDecode] = Field(
        default=(), description="P3KE_AUDIT_RETENTION_SOURCES: comma-separated `<service>=<API base URL>` asked "
        "what they keep and when it is due (GET <url>/v1/retention/due), e.g. ingest=http://ingest,"
        "targeting=http://targeting,delivery=http://delivery,feedback=http://feedback; none: the compliance page "
        "says no service is configured")
    audit_retention_source_timeout_s: float = Field(
        default=15.0, gt=0, le=600, description="one request to a service for its retention schedule")
    # calendar feeds (service_layer/calendar_feeds.py): the address their secret URLs are built on
    audit_public_base_url: str | None = Field(
        default=None, description="P3KE_AUDIT_PUBLIC_BASE_URL: the audit API's address as calendar apps reach it, "
        "e.g. https://p3ke.kemenkopmk.go.id/audit; unset: the address the request came to")

    @field_validator("audit_public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"alamat {value[:100]!r} tidak sah: harus http(s)://host[:port][/prefix] tanpa query "
                             f"/ the public base URL must be http(s)://host[:port][/prefix] without a query")
        return value.strip().rstrip("/")

    @field_validator("audit_subject_sources", "audit_retention_sources", mode="before")
    @classmethod
    def _subject_sources(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        sources = []
        for item in (i.strip() for i in value.split(",") if i.strip()):
            name, _, url = item.partition("=")
            problem = _bad_url(url.strip()) if name.strip() else "nama layanan kosong / empty service name"
            if problem or not name.strip().isidentifier():
                raise ValueError(f"{item[:100]!r} harus berbentuk <layanan>=http(s)://host[:port] (expected "
                                 f"<service>=<API base URL>)")
            sources.append((name.strip(), url.strip().rstrip("/")))
        if len({n for n, _ in sources}) != len(sources):
            raise ValueError("satu layanan tercantum dua kali (a service is listed twice)")
        return tuple(sources)

    @field_validator("audit_witnesses", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        """P3KE_AUDIT_WITNESSES is JSON text (decoded here, so that bad JSON is reported like any bad value)."""
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else ()
            except json.JSONDecodeError as exc:
                raise ValueError(f"bukan JSON yang sah (not valid JSON: {exc.msg})") from None
        return value

    @field_validator("audit_incident_violation_kinds", mode="before")
    @classmethod
    def _violation_kinds(cls, value: Any) -> Any:
        kinds = tuple(k.strip() for k in value.split(",") if k.strip()) if isinstance(value, str) else value
        unknown = [k for k in kinds if k not in VIOLATION_KINDS]
        if unknown:
            raise ValueError(f"jenis pelanggaran tidak dikenal (unknown violation kinds): {', '.join(unknown)}; "
                             f"pilih dari {', '.join(VIOLATION_KINDS)}")
        return kinds

    @field_validator("notify_kemenkopmk", "notify_kemnaker", mode="before")
    @classmethod
    def _addresses(cls, value: Any, info: ValidationInfo) -> Any:
        return parse_addresses(value or (), f"P3KE_{(info.field_name or '').upper()}")

    @property
    def smtp(self) -> SmtpConfig | None:
        """The SMTP relay, if one is configured."""
        if not self.smtp_host:
            return None
        return SmtpConfig(host=self.smtp_host, port=self.smtp_port, sender=self.smtp_from,
                          starttls=self.smtp_starttls, timeout_s=self.smtp_timeout_s)

    def recipients(self, party: str) -> tuple[str, ...]:
        """The addresses to email about what `party` (an org, or `both`) must do."""
        by_org = {"kemenkopmk": self.notify_kemenkopmk, "kemnaker": self.notify_kemnaker}
        chosen = by_org.values() if party not in by_org else [by_org[party]]
        return tuple(dict.fromkeys(a for addresses in chosen for a in addresses))

    @field_validator("calendar_file")
    @classmethod
    def _calendar_reads(cls, value: Path | None) -> Path | None:
        """A calendar file that cannot be read or is malformed stops start-up, naming what is wrong."""
        if value is not None:
            from p3ke_platform.settings import ConfigurationError
            from p3ke_platform.workdays import read_calendar_file

            try:
                read_calendar_file(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _read_witnesses_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("audit_witnesses_file") in (None, ""):
            return data
        if data.get("audit_witnesses") not in (None, "", "[]", (), []):
            raise ValueError("P3KE_AUDIT_WITNESSES dan P3KE_AUDIT_WITNESSES_FILE: isi salah satu saja "
                             "(set one of them, not both)")
        return {**data, "audit_witnesses": read_witnesses_file(Path(data["audit_witnesses_file"]))}

    @model_validator(mode="after")
    def _witnesses_fit(self) -> AuditSettings:
        vkeys = [w.vkey for w in self.audit_witnesses]
        if len(set(vkeys)) != len(vkeys):
            raise ValueError("P3KE_AUDIT_WITNESSES: satu saksi tercantum dua kali (a witness is listed twice)")
        if self.witness_quorum > len(vkeys):
            raise ValueError(f"P3KE_AUDIT_WITNESS_QUORUM: kuorum {self.witness_quorum} melebihi jumlah saksi "
                             f"yang dikonfigurasi ({len(vkeys)}); kurangi kuorum atau tambah saksi "
                             f"(the quorum exceeds the number of configured witnesses)")
        return self

    @model_validator(mode="after")
    def _audit_safe_in_production(self) -> AuditSettings:
        if self.env != "production":
            return self
        problems = []
        if self.audit_checkpoint_key_file is None:
            problems.append("P3KE_AUDIT_CHECKPOINT_KEY_FILE: production needs the log's own signing key")
        problems += missing_files(("P3KE_AUDIT_CHECKPOINT_KEY_FILE", self.audit_checkpoint_key_file))
        if self.audit_origin == DEV_ORIGIN:
            problems.append("P3KE_AUDIT_ORIGIN: name the log (e.g. kemenkopmk.go.id/p3ke/audit)")
        if not self.audit_witnesses:
            problems.append("P3KE_AUDIT_WITNESSES(_FILE): produksi memerlukan setidaknya satu saksi (witness) "
                            "pihak lain; production needs at least one witness of another party")
        elif any(is_development_witness_key(w.witness.public_key, w.name) for w in self.audit_witnesses):
            problems.append("P3KE_AUDIT_WITNESSES(_FILE): kunci saksi pengembangan (development witness key) "
                            "tidak boleh di produksi; pakai kunci saksi yang sebenarnya")
        if self.audit_witnesses and self.witness_quorum == 0:
            problems.append("P3KE_AUDIT_WITNESS_QUORUM: kuorum 0 tidak boleh di produksi; production needs a "
                            "quorum of at least 1")
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self

    @property
    def witness_quorum(self) -> int:
        """Cosignatures a checkpoint needs to count as witnessed (the default: 1 if any witness is configured)."""
        if self.audit_witness_quorum is not None:
            return self.audit_witness_quorum
        return 1 if self.audit_witnesses else 0

    @property
    def checkpoint_key_path(self) -> Path:
        return self.audit_checkpoint_key_file or Path(self.data_dir) / "keys" / "audit-checkpoint.pem"
