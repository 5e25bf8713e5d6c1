"""Payloads of the events the services exchange.

No field may carry personal data of a data subject: events hold ids, counts, checksums and URIs.
The data itself moves as files that only authorised, audited calls can read.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lower-case hex SHA-256")]
RegionCode = Annotated[
    str, Field(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{4})?)?)?$", description="Kemendagri region code")
]
Org = Literal["kemenkopmk", "kemnaker"]
Desil = Annotated[int, Field(ge=1, le=4)]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgramCode(StrEnum):
    """The four programs of Art. 3; anything else is out of the agreement's scope."""

    PELATIHAN_BERBASIS_KOMPETENSI = "pelatihan_berbasis_kompetensi"
    PADAT_KARYA = "padat_karya"
    TENAGA_KERJA_MANDIRI = "tenaga_kerja_mandiri"
    PBI_JAMSOSTEK_PEKERJA_RENTAN = "pbi_jamsostek_pekerja_rentan"


RequestedProgram = Annotated[
    ProgramCode | Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")],
    Field(description="one of the four programs of Art. 3, or another program code: the agreement's policy "
                      "decides (a program outside Art. 3 needs party 1's written approval, Art. 10(2)); a refused "
                      "request ends in extract-prepared with status rejected"),
]
"""What a requester may *ask* for. Refusing an unknown program is the policy's decision, recorded and
audited, not a schema error."""

AgreedProgram = Annotated[
    ProgramCode | Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")],
    Field(description="the program the handover is for: one of the four programs of Art. 3, or a program the parties "
                      "added lawfully (party 1's written approval, Art. 10(2), or an addendum, Art. 14)"),
]
"""A program a handover or a data balikan is for; the policy allowed it before the data moved."""

PurposeCode = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_]{1,63}$",
          description="a purpose code the agreement defines for the program (its `purposes`, or the purpose a written "
                      "approval names); the policy refuses a purpose the program does not have"),
]


class Actor(Contract):
    """Who acted: an official's account or a ministry platform's service account (ids, not names)."""

    org: Org
    subject: str = Field(min_length=1, max_length=200, description="account id at the identity provider")
    roles: list[str] = Field(default_factory=list)
    service_account: bool = False


class DatasetChanges(Contract):
    """Persons (by NIK) compared with the version this one supersedes: counts only."""

    persons_added: int = Field(ge=0)
    persons_removed: int = Field(ge=0)
    persons_changed: int = Field(ge=0, description="same NIK, some other value differs")


class DatasetUpdated(Contract):
    """Party 1 published a validated, immutable P3KE snapshot (a dataset version)."""

    dataset_version_id: str = Field(min_length=1, max_length=100)
    agreement_id: str
    snapshot_uri: str = Field(description="where authorised services read the Parquet snapshot")
    snapshot_sha256: Sha256
    individuals: int = Field(ge=0)
    families: int = Field(ge=0)
    rows_rejected: int = Field(ge=0, default=0)
    counts_by_desil: dict[str, int] = Field(default_factory=dict)
    counts_by_province: dict[str, int] = Field(default_factory=dict)
    supersedes: str | None = None
    published_by: Actor
    published_at: datetime
    changes: DatasetChanges | None = Field(default=None, description="against `supersedes`; none for the first")


class ExtractCriteria(Contract):
    region_codes: list[RegionCode] = Field(default_factory=list, description="any level; empty = all")
    deciles: list[Desil] = Field(default_factory=lambda: [1, 2, 3, 4])
    age_min: int | None = Field(default=None, ge=0, le=120)
    age_max: int | None = Field(default=None, ge=0, le=120)
    reference_date: date | None = Field(default=None, description="date at which ages are computed")
    sex: Literal["L", "P"] | None = None
    occupation_categories: list[str] = Field(default_factory=list)
    education_categories: list[str] = Field(default_factory=list)
    exclude_already_delivered: bool = True


class ExtractRequested(Contract):
    """Party 2 asks for a purpose-bound extract for one program."""

    request_id: str = Field(min_length=1, max_length=100)
    agreement_id: str
    program: RequestedProgram
    criteria: ExtractCriteria
    quota: int = Field(gt=0, le=100_000_000)
    fields: list[str] = Field(min_length=1)
    justification: str = Field(min_length=10, max_length=2000, description=(
        "a short note for the BAST; targeting refuses one longer than 280 characters or holding a NIK-like number or "
        "a person's name, and keeps a refused one out of the audit log"))
    purpose: PurposeCode | None = Field(
        default=None, description="the structured purpose (required by the policy: a request without one is refused)")
    requested_by: Actor
    dataset_version_id: str | None = Field(default=None, description="pin a version; default the current")
    requested_at: datetime
    recipient: Actor | None = Field(
        default=None, description="a person of party 2 to whom the package password and download links are "
        "released instead of the requester (e.g. when a platform's service account asks); the request is refused "
        "unless the agreement lets this person's role download the package")


RequestPath = Literal["platform", "api"]
"""How a request reached targeting: as `extract-requested` put on the topic by a ministry platform, or
submitted to targeting's HTTP API by a signed-in official."""


class ExtractPrepared(Contract):
    """Targeting froze an extract, or refused the request (status `rejected`, with the reason).

    It also carries what was asked (`requester` to `fields`, all optional for producers of an earlier
    version), so that the BAST can show it and delivery can bind the release to the requester."""

    request_id: str
    extract_id: str | None = None
    agreement_id: str
    program: ProgramCode | str
    status: Literal["accepted", "rejected"]
    reason: str | None = None
    dataset_version_id: str | None = None
    rules_version: str | None = None
    record_count: int = Field(ge=0, default=0)
    counts_by_desil: dict[str, int] = Field(default_factory=dict)
    counts_by_region: dict[str, int] = Field(default_factory=dict)
    file_uri: str | None = None
    file_sha256: Sha256 | None = None
    prepared_at: datetime
    requester: Actor | None = Field(
        default=None, description="who asked: the request's `requested_by`, as targeting verified it (the token "
        "on the API path, the event on the platform path); the package password is bound to this account")
    recipient: Actor | None = Field(default=None, description="the request's `recipient`, if it named one")
    request_path: RequestPath | None = Field(
        default=None, description="platform: extract-requested from a ministry platform; api: targeting's HTTP API")
    justification: str | None = Field(default=None, max_length=2000, description="the request's justification")
    purpose: PurposeCode | None = Field(default=None, description="the request's purpose code")
    criteria: ExtractCriteria | None = Field(
        default=None, description="the request's criteria; on an accepted extract `reference_date` is the day "
        "ages were actually computed on")
    fields: list[str] = Field(default_factory=list, description="the fields the request asked for")


class Signer(Contract):
    party: Literal[1, 2]
    org: Org
    signatory_id: str = Field(description="the signatory's id in the agreement configuration")
    certificate_sha256: Sha256
    signed_at: datetime


class HandoverSigned(Contract):
    """Both parties signed the BAST (Art. 6(1)); the package may now be released."""

    handover_id: str
    bast_number: str
    agreement_id: str
    extract_id: str
    program: AgreedProgram
    record_count: int = Field(ge=0)
    package_sha256: Sha256
    bast_sha256: Sha256 = Field(description="SHA-256 of the fully signed BAST PDF")
    signers: list[Signer] = Field(min_length=2, max_length=2)
    signed_at: datetime


class FeedbackReceived(Contract):
    """Party 2 sent data balikan for a handover (Art. 4(2), 5(1)): counts only."""

    batch_id: str
    handover_id: str
    agreement_id: str
    program: AgreedProgram
    supersedes: str | None = None
    rows: int = Field(ge=0)
    rows_rejected: int = Field(ge=0, default=0)
    counts_by_match_class: dict[str, int] = Field(default_factory=dict)
    counts_by_status: dict[str, int] = Field(default_factory=dict)
    counts_by_region: dict[str, int] = Field(default_factory=dict)
    submitted_by: Actor
    received_at: datetime


AccessAction = Literal[
    "read", "query", "export", "download", "match", "upload", "select", "release-key", "refusal", "erase"
]


class DataAccess(Contract):
    """One access to personal data (or a refused attempt), for the append-only audit log."""

    access_id: str = Field(min_length=1, max_length=100)
    service: str
    actor: Actor
    action: AccessAction
    resource_type: str
    resource_id: str
    agreement_id: str | None = None
    program: str | None = None
    purpose: str | None = Field(default=None, max_length=2000)
    outcome: Literal["allowed", "denied"]
    reason: str | None = None
    terms_sha256: Sha256 | None = Field(
        default=None, description="digest of the exact agreement files in force when this was decided (the PKS, "
        "each addendum, written approval, consent and notice; `p3ke agreement show` lists them)")
    record_count: int = Field(ge=0, default=0)
    subject_refs: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list,
        description="keyed HMAC-SHA256 of the data subjects' NIKs, so a subject's trail can be found "
        "(UU PDP Art. 32) without the NIK itself in the log",
    )
    subject_key_id: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,15}$",
        description="the id of the subject hash key `subject_refs` were computed with (P3KE_SUBJECT_HASH_KEYS); "
        "absent: `k1`, the single key of events recorded before keys rotated")
    occurred_at: datetime


ObligationStatus = Literal["open", "due-soon", "overdue", "fulfilled"]


class ObligationStatusChanged(Contract):
    """An obligation of the agreement or of UU PDP became due soon or overdue, or reached one of its reminders
    (the audit service's obligations desk): ids, the article and dates only."""

    obligation_id: str = Field(min_length=1, max_length=200)
    agreement_id: str
    kind: str = Field(min_length=1, max_length=60, description="e.g. monitoring-evaluation, expiry-notice, "
                      "force-majeure-notice, liaison-change-notice, data-balikan")
    article: str = Field(max_length=100, description="the article that sets the deadline, e.g. Pasal 12 ayat (3)")
    responsible_org: Org | Literal["both"] = Field(description="the party that must act (`both`: either party)")
    due_date: date = Field(description="the deadline (a calendar day in Jakarta)")
    status: ObligationStatus
    change: Literal["status", "reminder"] = Field(
        description="status: the status changed to `status`; reminder: a reminder before the agreement's end")
    reminder_days_before_end: int | None = Field(
        default=None, ge=0, description="for a reminder: how many days before the agreement ends (90, 60, 30)")
    occurred_at: datetime


class IncidentOpened(Contract):
    """A personal-data incident was opened in the register (UU PDP Art. 46): the 72-hour clock and counts only,
    never the data subjects."""

    incident_id: str = Field(min_length=1, max_length=100)
    source: str = Field(max_length=40, description="manual, forged-event, or the violation kind that opened it")
    discovered_at: datetime
    due_at: datetime = Field(description="the notices to the data subjects and the authority are due by then "
                             "(3 x 24 hours after discovery)")
    data_kinds: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, description="kinds of personal data concerned (e.g. nik, alamat): names, not values")
    subject_count: int | None = Field(default=None, ge=0, description="how many data subjects, when known")
    resource_count: int = Field(ge=0, default=0, description="resources put under a legal hold")
    occurred_at: datetime


class ArtefactDisposed(Contract):
    """An artefact holding personal data (or keyed references to it) was destroyed under the retention schedule
    (UU PDP Art. 16(2), 43-44), so other services drop their references to it: kind, id, digest and rule only,
    never a data subject (the `erase` record in the audit log names them by keyed reference)."""

    artefact_id: str = Field(min_length=1, max_length=400, description="`<resource_type>:<resource_id>`, the key")
    kind: str = Field(min_length=1, max_length=40, description="the schedule's kind, e.g. raw-upload, extract")
    resource_type: str = Field(min_length=1, max_length=100)
    resource_id: str = Field(min_length=1, max_length=200)
    sha256: Sha256 | None = Field(default=None, description="SHA-256 of what was destroyed (null: not a file)")
    rule_kind: str = Field(min_length=1, max_length=40, description="the schedule rule that applied (its kind)")
    trigger: str = Field(min_length=1, max_length=40, description="the event that started its retention period")
    due_at: datetime
    service: str = Field(min_length=1, max_length=40, description="the service that owned and destroyed it")
    disposed_at: datetime



class DisposalStatusChanged(Contract):
    """Party 2's disposal certificate (berita acara pemusnahan) of a handover became due (its purpose ended, or the
    agreement ended) or was certified (party 2's signatory's PAdES signature over the issued certificate was
    accepted): UU PDP Art. 43-44, PKS Art. 8(3). Ids, dates and digests only."""

    handover_id: str = Field(min_length=1, max_length=100)
    bast_number: str = Field(min_length=1, max_length=100)
    agreement_id: str
    program: str
    status: Literal["due", "certified"]
    due_reason: Literal["purpose-ended", "agreement-ended"] | None = Field(
        default=None, description="what made the certificate due (null: certified before either happened)")
    due_since: datetime | None = None
    due_by: datetime | None = Field(default=None, description="the deadline (P3KE_DELIVERY_DISPOSAL_CERTIFICATE_DAYS "
                                    "after due_since)")
    certificate_number: str | None = Field(default=None, max_length=100)
    certificate_sha256: Sha256 | None = Field(default=None, description="the signed certificate PDF")
    issued_sha256: Sha256 | None = Field(default=None, description="the certificate as issued, before signing")
    signer: Signer | None = Field(default=None, description="party 2's signatory who signed it")
    destroyed_at: datetime | None = None
    occurred_at: datetime


class HandoverMilestone(Contract):
    """A handover reached a milestone that starts the retention period of what was built for it (UU PDP Art. 16(2),
    43-44): the recipient's first download of the package, the revocation of the handover, or the end of its
    purpose. Targeting times the disposal of the extract the package was built from by it. Ids and times only;
    published once per milestone per handover."""

    handover_id: str = Field(min_length=1, max_length=100)
    extract_id: str = Field(min_length=1, max_length=200, description="the targeting extract the package was built "
                            "from")
    agreement_id: str
    milestone: Literal["package-downloaded", "handover-revoked", "purpose-ended"] = Field(
        description="`package-downloaded`: the first download only; `handover-revoked`: party 1 revoked the "
                    "handover; `purpose-ended`: the handover's purpose was declared ended")
    occurred_at: datetime


PRINCIPAL_FIELDS = ("actor", "published_by", "requested_by", "submitted_by")


def acting_principal(data: BaseModel) -> Actor | None:
    """The person or account an event's data says acted (who a signer vouches for), if it names one."""
    for name in PRINCIPAL_FIELDS:
        value = getattr(data, name, None)
        if isinstance(value, Actor):
            return value
    return None
