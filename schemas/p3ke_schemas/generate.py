"""Generate the committed contract files from the models: one JSON Schema per event and AsyncAPI 3.0.

`python -m p3ke_schemas.generate` writes them; `--check` exits 1 when the committed files drift.

Besides the models, two sources feed the documents, so that a ministry's engineers can implement a client from
them alone:

* the agreement as signed (the bundled `pks-p3ke-2023.yaml` of the platform, read as a file): its id (the value of
  every `agreement_id`), the programs and the fields each may receive, and the roles granted each action;
* the development event keys (derived from a published seed, as `p3ke_platform.event_keys` derives them), which
  sign one example of every message. Ed25519 signatures are deterministic and the examples use fixed ids and
  times, so the files change only when the contract does.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from p3ke_schemas.envelope import CONTENT_TYPE, SPECVERSION, CloudEvent, sign_event
from p3ke_schemas.events import (
    Actor,
    ArtefactDisposed,
    DataAccess,
    DatasetUpdated,
    DisposalStatusChanged,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    FeedbackReceived,
    HandoverMilestone,
    HandoverSigned,
    IncidentOpened,
    ObligationStatusChanged,
    ProgramCode,
    Signer,
)
from p3ke_schemas.signing import ALGORITHMS, development_signer, public_jwk
from p3ke_schemas.topics import ALL_SERVICES, EVENTS, EventSpec, spec_for_type

CONTRACT_DIR = Path(__file__).parent / "contract"
AGREEMENT_FILE = (Path(__file__).resolve().parents[2] / "libs" / "platform" / "p3ke_platform" / "agreement" / "data"
                  / "pks-p3ke-2023.yaml")
ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.1.0"
KAFKA_BINDING_VERSION = "0.5.0"
DLQ_HEADERS = {
    "p3ke_dlq_reason": "why the message could not be applied; a refusal for its origin reads "
                       "`origin not proven (<kind>): <reason>`",
    "p3ke_dlq_topic": "the topic it was read from",
    "p3ke_dlq_partition": "its partition",
    "p3ke_dlq_offset": "its offset",
    "p3ke_dlq_consumer": "the consumer group that rejected it (`p3ke-<service>`)",
    "p3ke_dlq_failed_at": "when (RFC 3339)",
}
ORIGIN_REFUSALS = {
    "unsigned": "no `ce_signature` header",
    "unknown-key": "the `kid` is not a key the deployment trusts",
    "bad-signature": "the signature does not verify (the message changed after signing, or another key signed it)",
    "key-not-valid": "the key is outside its validity window on the day the broker received the message",
    "principal": "`ce_authtype`/`ce_authid` missing or not the actor the data names, or a platform key vouching "
                 "for a person of the other party",
    "wrong-producer": "the key's owner may not produce this event type",
    "key-mismatch": "the Kafka key is not the aggregate id",
    "time": "a platform's `ce_time` or claimed time (`requested_at`, ...) is more than 5 minutes "
            "(`P3KE_EVENT_CLOCK_SKEW_S`) from the broker's receipt",
}
"""The kinds of `OriginRefused` in p3ke_platform.messaging.origin (a contract test keeps them equal)."""

PLATFORM_ACCESS = {
    "party-1 platform": {"user": "kemenkopmk-platform", "produces": (),
                         "consumes": ("dataset-updated", "feedback-received", "obligation-status-changed",
                                      "incident-opened")},
    "party-2 platform": {"user": "kemnaker-platform", "produces": ("extract-requested",),
                         "consumes": ("extract-prepared", "handover-signed", "obligation-status-changed",
                                      "incident-opened")},
}
"""The ministry platforms' KafkaUsers (deploy/k8s, tools/k8s/manifests.py PLATFORMS; a contract test keeps them
equal). No platform may read a dead-letter topic."""

PLATFORM_SOURCE = {"party-1 platform": "urn:kemenkopmk:p3ke:platform",
                   "party-2 platform": "urn:kemnaker:pusdatik:platform"}
"""The `ce_source` the examples (and `p3ke platform request`) use for a platform; informational only."""

SUBJECTS = {
    "dataset-updated": "the `dataset_version_id`",
    "extract-requested": "not set (neither path sets it)",
    "extract-prepared": "not set; only the rejection that answers a dead-lettered request carries the "
                        "`request_id`",
    "handover-signed": "the `handover_id`",
    "feedback-received": "the `batch_id`",
    "data-access": "the `resource_id` (as written in the payload)",
    "obligation-status-changed": "the `obligation_id`",
    "incident-opened": "the `incident_id`",
    "artefact-disposed": "the `artefact_id`",
    "disposal-status-changed": "the `handover_id`",
    "handover-milestone": "the `handover_id`",
}
"""What each producer puts in `ce_subject` (the services' `uow.emit(..., subject=...)` calls)."""

CORRELATIONS = {
    "dataset-updated": "not set (published by ingest's background validation job)",
    "extract-requested": "targeting: the correlation id of the API call that submitted the request; a platform "
                         "may set its own, which nothing echoes",
    "extract-prepared": "not set: targeting's worker does not carry the request's `ce_correlationid` over. Match "
                        "the outcome to the request by the Kafka key (= `request_id`)",
    "handover-signed": "the correlation id of the API call that uploaded the second signature",
    "feedback-received": "the correlation id of the API call that uploaded the batch",
    "data-access": "the correlation id of the API call that made the access; not set for accesses made by a "
                   "worker or a background job",
    "obligation-status-changed": "not set (published by the audit service's notification job after the sweep "
                                 "that recorded the change)",
    "incident-opened": "not set (published by the audit service's notification job after the incident was "
                       "recorded)",
    "artefact-disposed": "not set (published by the owning service's disposal job, `retention-disposal`)",
    "disposal-status-changed": "`due`: the correlation id of the API call that declared the purpose ended, not set "
                               "when the agreement's end made it due (delivery's `delivery-disposal-due` job); "
                               "`certified`: that of the API call that uploaded the signed certificate",
    "handover-milestone": "the correlation id of the API call that recorded the milestone (the download, the "
                          "revocation, the declaration that the purpose ended)",
}
"""Where `ce_correlationid` comes from: the X-Correlation-Id of the HTTP request being served (the caller's, else a
new one), bound while the service handles it; workers and jobs bind none."""


# -- the agreement as signed, read from the platform's bundled file --------------------------------------------


@dataclass(frozen=True)
class AgreementFacts:
    agreement_id: str
    parties: dict[int, str]  # party number -> org code
    programs: dict[str, tuple[str, ...]]  # program code -> fields it may receive, in the agreement's order
    articles: dict[str, str]  # program code -> article of the PKS
    grants: dict[str, tuple[tuple[str, str], ...]]  # action -> (org, role) pairs granted it

    @property
    def field_names(self) -> list[str]:
        """Every field any program may receive (the names a request may use)."""
        return list(dict.fromkeys(f for fields in self.programs.values() for f in fields))

    def roles_for(self, action: str, party: int) -> list[str]:
        return [role for org, role in self.grants.get(action, ()) if org == self.parties[party]]


def agreement_facts(path: Path = AGREEMENT_FILE) -> AgreementFacts:
    import yaml  # a dependency of the platform, present wherever the contract is generated (the repository)

    if not path.is_file():
        raise SystemExit(f"p3ke_schemas.generate: {path} not found; the contract is generated in the repository")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    grants: dict[str, list[tuple[str, str]]] = {}
    for grant in doc["roles"]:
        for action in grant["actions"]:
            grants.setdefault(action, []).append((grant["org"], grant["role"]))
    return AgreementFacts(
        agreement_id=str(doc["id"]),
        parties={int(p["party"]): str(p["org"]) for p in doc["parties"]},
        programs={str(p["code"]): tuple(p["fields"]) for p in doc["programs"]},
        articles={str(p["code"]): str(p["article"]) for p in doc["programs"]},
        grants={action: tuple(pairs) for action, pairs in grants.items()},
    )


# -- the development event keys --------------------------------------------------------------------------------

PLATFORMS = tuple(PLATFORM_ACCESS)
dev_signer = development_signer  # the published derivation (p3ke_schemas.signing), shared with p3ke_platform


def dev_public_keys() -> list[dict[str, Any]]:
    return [{"kid": (signer := dev_signer(owner)).kid, "owner": owner, "jwk": public_jwk(signer.public_key())}
            for owner in (*ALL_SERVICES, *PLATFORMS)]


# -- signed examples -------------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def _sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _example(name: str, summary: str, data: BaseModel, owner: str, *, ce_id: str, time: datetime,
             subject: str | None = None, correlationid: str | None = None) -> dict[str, Any]:
    """A message as a producer with `owner`'s development key puts it on the topic: headers, value, key."""
    source = PLATFORM_SOURCE.get(owner) or f"urn:p3ke:service:{owner}"
    event = CloudEvent.of(data, source=source, id=ce_id, time=time, subject=subject, correlationid=correlationid)
    key, value, headers = sign_event(event, dev_signer(owner), owner)
    return {"name": name, "summary": f"{summary}. Kafka key `{key.decode()}`", "payload": json.loads(value),
            "headers": {k: v.decode() for k, v in headers}}


def message_examples(facts: AgreementFacts) -> dict[str, list[dict[str, Any]]]:
    """Examples of every message, keyed by event name (and `dead-letter`), each signed with a development key."""
    p1, p2 = facts.parties[1], facts.parties[2]
    asker = facts.roles_for("request-extract", 2)[0]
    steward = Actor(org=p1, subject="dev-p1-data-steward", roles=facts.roles_for("publish-dataset", 1)[:1])
    platform = Actor(org=p2, subject="kemnaker-platform", roles=[asker], service_account=True)
    officer = Actor(org=p2, subject="dev-p2-program-officer", roles=[asker])
    recipient = Actor(org=p2, subject="dev-p2-program-officer", roles=facts.roles_for("download-package", 2)[:1])
    agreement = facts.agreement_id
    program = ProgramCode.PADAT_KARYA
    fields = list(facts.programs[program.value])
    version = f"dv-{T0:%Y%m%dT%H%M%SZ}-{_sha('snapshot')[:10]}"
    criteria = ExtractCriteria(region_codes=["32"], deciles=[1], age_min=18, age_max=60)
    justification = "Padat karya desa 2026, tahap 1 (Jawa Barat)"

    def request(request_id: str, by: Actor, at: datetime, to: Actor | None = None) -> ExtractRequested:
        return ExtractRequested(request_id=request_id, agreement_id=agreement, program=program, criteria=criteria,
                                quota=150, fields=fields, justification=justification,
                                purpose="seleksi_calon_peserta", requested_by=by,
                                dataset_version_id=None, requested_at=at, recipient=to)

    platform_request = request("kemnaker-pk-2026-0001", platform, _at(2, 2), recipient)
    api_request = request("demo-pk-1", officer, _at(2, 2, 30))
    extract_id = "ext-" + _sha("p3ke-extract:kemnaker-pk-2026-0001")[:32]
    handover_id = "ho-3f2a9c41d07b6e85"
    asked = {"requester": platform, "recipient": recipient, "request_path": "platform",
             "justification": justification, "purpose": "seleksi_calon_peserta", "fields": fields,
             "criteria": criteria.model_copy(update={"reference_date": date(2026, 3, 2)})}
    not_allowed = next((f for f in facts.field_names if f not in fields), "alamat")
    conflict = f"request_id {platform_request.request_id} is already used by a different extract request"
    out: dict[str, list[dict[str, Any]]] = {
        "dataset-updated": [_example(
            "published", "Ingest published a validated snapshot (signed by ingest, for party 1's data steward)",
            DatasetUpdated(dataset_version_id=version, agreement_id=agreement,
                           snapshot_uri=f"file:///var/lib/p3ke/ingest/snapshots/{version}.parquet",
                           snapshot_sha256=_sha("snapshot"), individuals=9_214, families=3_000,
                           counts_by_desil={"1": 2_311, "2": 2_298, "3": 2_305, "4": 2_300},
                           counts_by_province={"32": 5_120, "33": 4_094}, published_by=steward, published_at=T0,
                           changes=None),
            "ingest", ce_id="0b6f7c1e-3d2a-4f5b-9c8d-1e2f3a4b5c6d", time=T0, subject=version)],
        "extract-requested": [
            _example("from-party-2-platform",
                     "Party 2's platform asks, signed with its platform key, for its service account; the package "
                     "goes to the named recipient",
                     platform_request, "party-2 platform", ce_id="7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                     time=_at(2, 2)),
            _example("from-targeting-api",
                     "A program officer submitted the request through targeting's HTTP API; targeting publishes it, "
                     "signed with its key, for the officer",
                     api_request, "targeting", ce_id="5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", time=_at(2, 2, 30),
                     correlationid="4c0f2a7e9b1d4e6f8a3c5b7d9e1f0a2b")],
        "extract-prepared": [
            _example("accepted", "Targeting froze the extract (signed by targeting, for itself: system)",
                     ExtractPrepared(request_id=platform_request.request_id, extract_id=extract_id,
                                     agreement_id=agreement, program=program, status="accepted",
                                     dataset_version_id=version, rules_version="2026.1+4be1c0a9d2f3",
                                     record_count=150, counts_by_desil={"1": 150}, counts_by_region={"32": 150},
                                     file_uri=f"file:///var/lib/p3ke/targeting/extracts/{extract_id}.parquet",
                                     file_sha256=_sha("extract"), prepared_at=_at(2, 2, 0, 7), **asked),
                     "targeting", ce_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", time=_at(2, 2, 0, 7)),
            _example("rejected", "The agreement's policy refused the request; the reason says why",
                     ExtractPrepared(request_id="demo-pk-2", agreement_id=agreement, program=program,
                                     status="rejected",
                                     reason=f"field '{not_allowed}' is not allowed for program {program} (Art. 10(1) "
                                            f"data minimisation); allowed: {', '.join(fields)}",
                                     dataset_version_id=version, rules_version="2026.1+4be1c0a9d2f3",
                                     prepared_at=_at(2, 2, 40, 2),
                                     **{**asked, "requester": officer, "recipient": None, "request_path": "api",
                                        "criteria": ExtractCriteria(), "fields": ["nik", not_allowed]}),
                     "targeting", ce_id="2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", time=_at(2, 2, 40, 2)),
            _example("dead-lettered-request",
                     "A reused request_id with other content: the message was dead-lettered and answered with a "
                     "rejection (the first request stands)",
                     ExtractPrepared(request_id=platform_request.request_id, agreement_id=agreement, program=program,
                                     status="rejected", reason=f"the request was not processed: {conflict}",
                                     prepared_at=_at(2, 3)),
                     "targeting", ce_id="6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f", time=_at(2, 3),
                     subject=platform_request.request_id)],
        "handover-signed": [_example(
            "signed", "Both parties signed the BAST (signed by delivery, for itself: system)",
            HandoverSigned(handover_id=handover_id, bast_number="001/BAST-P3KE/PK/III/2026", agreement_id=agreement,
                           extract_id=extract_id, program=program, record_count=150, package_sha256=_sha("package"),
                           bast_sha256=_sha("bast"),
                           signers=[Signer(party=1, org=p1, signatory_id="sig-kemenkopmk-deputi",
                                           certificate_sha256=_sha("cert-1"), signed_at=_at(3, 2)),
                                    Signer(party=2, org=p2, signatory_id="sig-kemnaker-kabarenbang",
                                           certificate_sha256=_sha("cert-2"), signed_at=_at(3, 3))],
                           signed_at=_at(3, 3)),
            "delivery", ce_id="3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", time=_at(3, 3), subject=handover_id,
            correlationid="8f7e6d5c4b3a4f2e9d1c0b9a8f7e6d5c")],
        "feedback-received": [_example(
            "received", "Party 2's data balikan, counts only (signed by feedback, for the officer who uploaded it)",
            FeedbackReceived(batch_id="fb-1a2b3c4d5e6f7a8b9c0d", handover_id=handover_id, agreement_id=agreement,
                             program=program, rows=142, rows_rejected=1,
                             counts_by_match_class={"in_extract": 138, "in_p3ke_not_delivered": 2,
                                                    "not_in_p3ke": 1, "duplicate": 1},
                             counts_by_status={"enrolled": 120, "completed": 21}, counts_by_region={"32": 141},
                             submitted_by=officer, received_at=_at(30, 4)),
            "feedback", ce_id="4f5a6b7c-8d9e-4f0a-b1c2-d3e4f5a6b7c8", time=_at(30, 4),
            subject="fb-1a2b3c4d5e6f7a8b9c0d", correlationid="1d2c3b4a5f6e4d7c8b9a0f1e2d3c4b5a")],
        "data-access": [_example(
            "download", "Delivery recorded the recipient's download of the package (for the recipient)",
            DataAccess(access_id="a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d", service="delivery", actor=recipient,
                       action="download", resource_type="package", resource_id=handover_id,
                       agreement_id=agreement, program=program, purpose=justification, outcome="allowed",
                       record_count=150, occurred_at=_at(3, 5)),
            "delivery", ce_id="5a6b7c8d-9e0f-4a1b-c2d3-e4f5a6b7c8d9", time=_at(3, 5), subject=handover_id,
            correlationid="0a1b2c3d4e5f4a6b7c8d9e0f1a2b3c4d")],
        "obligation-status-changed": [_example(
            "overdue", "A liaison officer change was not notified within 6 working days (Art. 13(2))",
            ObligationStatusChanged(obligation_id="liaison-kemnaker-20260302-1a2b3c", agreement_id=agreement,
                                    kind="liaison-change-notice", article="Pasal 13 ayat (2)", responsible_org=p2,
                                    due_date=date(2026, 3, 10), status="overdue", change="status",
                                    occurred_at=_at(11, 3)),
            "audit", ce_id="6b7c8d9e-0f1a-4b2c-83d4-e5f6a7b8c9d0", time=_at(11, 3),
            subject="liaison-kemnaker-20260302-1a2b3c")],
        "incident-opened": [_example(
            "forged-event", "An incident opened automatically from a forged-event refusal: counts only",
            IncidentOpened(incident_id="inc-5d6e7f8a9b0c1d2e", source="forged-event", discovered_at=_at(2, 4),
                           due_at=_at(5, 4), data_kinds=[], subject_count=None, resource_count=1,
                           occurred_at=_at(2, 4, 1)),
            "audit", ce_id="7c8d9e0f-1a2b-4c3d-94e5-f6a7b8c9d0e1", time=_at(2, 4, 1),
            subject="inc-5d6e7f8a9b0c1d2e")],
        "artefact-disposed": [_example(
            "raw-upload", "Ingest destroyed a raw upload 30 days after the version made from it was published",
            ArtefactDisposed(artefact_id="dataset-upload:up-3c4d5e6f7a8b", kind="raw-upload",
                             resource_type="dataset-upload", resource_id="up-3c4d5e6f7a8b", sha256=_sha("upload"),
                             rule_kind="raw-upload", trigger="published", due_at=_at(31, 0),
                             service="ingest", disposed_at=_at(31, 1)),
            "ingest", ce_id="8d9e0f1a-2b3c-4d4e-a5f6-a7b8c9d0e1f2", time=_at(31, 1),
            subject="dataset-upload:up-3c4d5e6f7a8b")],
        "disposal-status-changed": [
            _example("due", "Party 2's program officer declared the handover's purpose ended: the disposal "
                     "certificate is due within 30 days",
                     DisposalStatusChanged(handover_id=handover_id, bast_number="001/BAST-P3KE/PK/III/2026",
                                           agreement_id=agreement, program=program, status="due",
                                           due_reason="purpose-ended", due_since=_at(20, 2), due_by=_at(20, 2)
                                           + timedelta(days=30), occurred_at=_at(20, 2)),
                     "delivery", ce_id="9e0f1a2b-3c4d-4e5f-86a7-b8c9d0e1f2a3", time=_at(20, 2), subject=handover_id,
                     correlationid="2b3c4d5e6f7a4b8c9d0e1f2a3b4c5d6e"),
            _example("certified", "Party 2's signatory signed the disposal certificate and delivery verified it",
                     DisposalStatusChanged(handover_id=handover_id, bast_number="001/BAST-P3KE/PK/III/2026",
                                           agreement_id=agreement, program=program, status="certified",
                                           due_reason="purpose-ended", due_since=_at(20, 2), due_by=_at(20, 2)
                                           + timedelta(days=30), certificate_number="001/BAP-P3KE/PK/III/2026",
                                           certificate_sha256=_sha("disposal-signed"),
                                           issued_sha256=_sha("disposal-issued"),
                                           signer=Signer(party=2, org=p2, signatory_id="sig-kemnaker-kabarenbang",
                                                         certificate_sha256=_sha("cert-2"), signed_at=_at(27, 3)),
                                           destroyed_at=_at(26, 7), occurred_at=_at(27, 3)),
                     "delivery", ce_id="0f1a2b3c-4d5e-4f6a-97b8-c9d0e1f2a3b4", time=_at(27, 3), subject=handover_id,
                     correlationid="3c4d5e6f7a8b4c9d0e1f2a3b4c5d6e7f")],
        "handover-milestone": [_example(
            "package-downloaded", "The recipient downloaded the package for the first time: the extract's retention "
            "period starts",
            HandoverMilestone(handover_id=handover_id, extract_id=extract_id, agreement_id=agreement,
                              milestone="package-downloaded", occurred_at=_at(3, 5)),
            "delivery", ce_id="1a2b3c4d-5e6f-4a7b-88c9-d0e1f2a3b4c5", time=_at(3, 5), subject=handover_id,
            correlationid="0a1b2c3d4e5f4a6b7c8d9e0f1a2b3c4d")],
    }
    forged = _example("forged-request",
                      "Refused for its origin: party 1's platform key vouching for an account of party 2",
                      request("kemnaker-pk-2026-0002", platform, _at(2, 4)), "party-1 platform",
                      ce_id="8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e", time=_at(2, 4))
    extract_requested = spec_for_type("extract-requested")
    forged["headers"].update({
        "p3ke_dlq_reason": f"origin not proven (principal): party-1 platform's key 'dev-party-1-platform' may vouch "
                           f"only for people of {p1}, not for an account of {p2}",
        "p3ke_dlq_topic": extract_requested.topic, "p3ke_dlq_partition": "3", "p3ke_dlq_offset": "41",
        "p3ke_dlq_consumer": "p3ke-targeting", "p3ke_dlq_failed_at": "2026-03-02T04:00:00.412000+00:00"})
    forged["summary"] += f"; on {extract_requested.dlq}: the original message, unchanged, plus `p3ke_dlq_*`"
    out["dead-letter"] = [forged]
    return out


# -- JSON Schema ------------------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(p.title() for p in rest)


def _pascal(name: str) -> str:
    return "".join(p.title() for p in name.split("-"))


def _described(prop: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    """`prop` with a description (a bare `$ref` is wrapped: siblings of `$ref` are ignored before 2019-09)."""
    out = {"allOf": [prop]} if set(prop) == {"$ref"} else dict(prop)
    out["description"] = (f"{out['description']}. " if out.get("description") else "") + text
    out.update(extra)
    return out


def _annotate(schema: dict[str, Any], spec: EventSpec, facts: AgreementFacts) -> dict[str, Any]:
    """The agreement's values and the contract's rules, on the properties of an event's schema."""
    schema = copy.deepcopy(schema)
    props = schema.get("properties", {})
    asker = ", ".join(facts.roles_for("request-extract", 2)) or "none"
    downloader = ", ".join(facts.roles_for("download-package", 2)) or "none"
    if "agreement_id" in props:
        props["agreement_id"] = _described(
            props["agreement_id"], f"the agreement's id: `{facts.agreement_id}` (the `id` of the agreement the "
            "deployment applies; a request naming another agreement is rejected)", examples=[facts.agreement_id])
    if spec.model is ExtractRequested:
        by_program = "; ".join(f"{code}: {', '.join(fields)}" for code, fields in facts.programs.items())
        props["fields"] = _described(
            props["fields"], "P3KE field names, each allowed for the program (Art. 10(1)); any other is rejected "
            f"with the list of allowed ones. By program: {by_program}",
            examples=[list(facts.programs[ProgramCode.PADAT_KARYA.value])])
        props["fields"]["items"] = {**props["fields"]["items"], "examples": facts.field_names}
        props["request_id"] = _described(
            props["request_id"], "chosen by the requester, unique per request: the same request_id with the same "
            "content again (agreement, program, criteria, quota, fields, justification, dataset version, "
            "recipient) is the same request and is decided once; with other content it is dead-lettered and "
            "answered by extract-prepared `rejected` (the first request stands)")
        props["requested_by"] = _described(
            props["requested_by"], f"who asks: `org` {facts.parties[2]}, `roles` including {asker} (the role the "
            "agreement grants request-extract); a platform's own account has `service_account: true`. The "
            "signature's `ce_authid` is its `subject`, `ce_authtype` `service_account` or `user`")
        props["requested_at"] = _described(
            props["requested_at"], "with a time zone; on the platform path within 5 minutes of the broker's "
            "receipt (P3KE_EVENT_CLOCK_SKEW_S)")
        props["recipient"] = _described(props["recipient"], f"its `roles` must include {downloader}")
    if spec.model is ExtractPrepared:
        props["file_uri"] = _described(
            props["file_uri"], "internal to party 1 (a `file://` path on the services' shared storage): party 2 "
            "never fetches it. Party 2 receives the package from delivery's API after both parties sign the BAST "
            "(handover-signed): the package password once (POST /v1/handovers/{id}/password) and an expiring "
            "personal download link (POST /v1/handovers/{id}/package/links), for the requester or the named "
            "recipient only")
    return schema


def event_json_schema(spec: EventSpec, facts: AgreementFacts | None = None) -> dict[str, Any]:
    schema = spec.model.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:p3ke:schema:{spec.type}",
        **schema,
    }
    schema["description"] = (schema.get("description") or spec.summary).strip()
    return _annotate(schema, spec, facts or agreement_facts())


def _component_schemas(facts: AgreementFacts) -> dict[str, Any]:
    """Every payload model, with nested models hoisted so that refs point into components."""
    out: dict[str, Any] = {}
    for spec in EVENTS:
        schema = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            out[name] = sub
        out[spec.model.__name__] = _annotate(schema, spec, facts)
    return dict(sorted(out.items()))


# -- AsyncAPI ---------------------------------------------------------------------------------------------------

SIGNATURE_FORMAT = (
    "JWS (RFC 7515) compact serialisation with a detached, unencoded payload (RFC 7797): "
    "`BASE64URL(protected) + '..' + BASE64URL(signature)`. The protected header is "
    '`{"alg":"EdDSA"|"ES256","b64":false,"crit":["b64"],"kid":"<key id>"}`. The payload signed is the RFC 8785 '
    "(JCS) canonical JSON of one object: every `ce_*` header except `ce_signature`, named without the `ce_` "
    "prefix; `datacontenttype`: the `content-type` header; `data`: the message value parsed as JSON. The JWS "
    "signing input is `ASCII(BASE64URL(protected)) + '.' + payload`. EdDSA is Ed25519 (RFC 8037); ES256 "
    "signatures are r||s, 64 bytes. Other headers (e.g. `p3ke_dlq_*`) and the Kafka key are not signed. "
    "p3ke-schemas implements it: `sign_event` / `verify_event`."
)


def _ce_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode. Every value is "
        "UTF-8 text; each header appears once. Every event is signed: a consumer dead-letters a message "
        "without a valid `ce_signature` by a key whose owner may produce the type.",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_authtype", "ce_authid", "ce_signature"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_id": {"type": "string", "description": "unique per event (a UUID); consumers deduplicate on it, so "
                      "a re-sent message keeps its ce_id"},
            "ce_source": {"type": "string", "format": "uri-reference", "description":
                          "the producer: `urn:p3ke:service:<service>` for the services; a ministry platform names "
                          "itself (e.g. `urn:kemnaker:pusdatik:platform`). Informational: the signing key, not "
                          "the source, decides who produced the event"},
            "ce_type": {"type": "string", "description": "equal to the topic name, e.g. `p3ke.extract-requested.v1`"},
            "ce_time": {"type": "string", "format": "date-time", "description":
                        "when the producer made the event, RFC 3339 with an offset; on a platform's event within "
                        "5 minutes of the broker's receipt (the topics stamp LogAppendTime)"},
            "ce_subject": {"type": "string", "description":
                           "the aggregate the event is about, when the producer sets it: see each message"},
            "ce_dataschema": {"type": "string", "format": "uri", "description":
                              "`urn:p3ke:schema:<ce_type>`: the `$id` of the JSON Schema of the value "
                              "(contract/jsonschema/<ce_type>.json)"},
            "ce_correlationid": {"type": "string", "description":
                                 "ties the event to the HTTP call that caused it (its X-Correlation-Id); not "
                                 "carried from a consumed event to the events it causes: see each message"},
            "ce_authtype": {"type": "string", "enum": ["user", "service_account", "system"], "description":
                            "CloudEvents authcontext: who the signer vouches for. `user` or `service_account` for "
                            "the actor the data names (`published_by`, `requested_by`, `submitted_by`, `actor`), "
                            "`system` for an event naming no actor"},
            "ce_authid": {"type": "string", "description":
                          "the actor's `subject` (account id), or for `system` the producing service's name"},
            "ce_signature": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$",
                             "description": SIGNATURE_FORMAT},
            "content-type": {"type": "string", "const": CONTENT_TYPE,
                             "description": "signed as `datacontenttype`"},
        },
    }


def _message_description(spec: EventSpec) -> str:
    lines = [spec.summary, "",
             f"- Kafka key: the payload's `{spec.key_field}` (UTF-8).",
             f"- Signed by the key of: {', '.join(spec.producers)}.",
             f"- `ce_subject`: {SUBJECTS[spec.name]}.",
             f"- `ce_correlationid`: {CORRELATIONS[spec.name]}.",
             f"- `ce_dataschema`: `urn:p3ke:schema:{spec.type}`."]
    return "\n".join(lines)


def _platform_lines() -> list[str]:
    lines = []
    for owner, access in PLATFORM_ACCESS.items():
        writes = ", ".join(f"`{spec_for_type(n).topic}`" for n in access["produces"]) or "nothing"
        reads = ", ".join(f"`{spec_for_type(n).topic}`" for n in access["consumes"]) or "nothing"
        lines.append(f"- {owner} (KafkaUser `{access['user']}`): writes {writes}; reads {reads}.")
    return lines


def _description(facts: AgreementFacts) -> str:
    p1, p2 = facts.parties[1], facts.parties[2]
    asker = ", ".join(f"`{r}`" for r in facts.roles_for("request-extract", 2))
    downloader = ", ".join(f"`{r}`" for r in facts.roles_for("download-package", 2))
    programs = [f"| `{code}` | {facts.articles[code]} | {', '.join(f'`{f}`' for f in fields)} |"
                for code, fields in facts.programs.items()]
    producers = [f"- `{spec.topic}`: {', '.join(spec.producers)}" for spec in EVENTS]
    refusals = [f"- `{kind}`: {text}" for kind, text in ORIGIN_REFUSALS.items()]
    return "\n".join([
        "Events of the PKS No. 003/PKS/DEP.1/KEMENKO/PMK/02/2023 data-sharing platform between Kemenko PMK "
        f"(party 1, `{p1}`) and Kemnaker (party 2, `{p2}`). No event carries personal data of a data subject.",
        "",
        "## On the wire",
        "- CloudEvents 1.0, Kafka protocol binding, binary content mode: attributes in `ce_*` headers, the data as "
        "the message value (UTF-8 JSON; any formatting), `content-type: application/json`.",
        "- Header values are UTF-8 text. The Kafka key is the UTF-8 aggregate id (each message's key field); a "
        "consumer dead-letters a message whose key is not it.",
        "- Consumers apply each `ce_id` once; a message that cannot be parsed, validated, verified or applied goes "
        "to `<topic>.dlq`.",
        "",
        "## Signatures",
        "Every message carries `ce_authtype`, `ce_authid` and `ce_signature` (see CloudEventHeaders). "
        + SIGNATURE_FORMAT,
        "",
        "A consumer accepts a message only if the key named by `kid` is pinned in its deployment (services: "
        "P3KE_EVENT_TRUST_FILE; ministry platforms: the agreement's `parties[].platform_keys`), valid on the day "
        "the broker received it, owned by a producer of the type:",
        *producers,
        "",
        "and `ce_authtype`/`ce_authid` name the actor the data names. A platform key vouches only for its own "
        f"party's accounts (party 2's key: `requested_by.org` = `{p2}`, `ce_authid` = `requested_by.subject`). "
        "Otherwise the message is dead-lettered with `p3ke_dlq_reason` `origin not proven (<kind>): <reason>` and "
        "recorded in the audit log as a refusal (`action` refusal, `resource_id` the aggregate id):",
        *refusals,
        "",
        "## Values",
        f"- `agreement_id`: `{facts.agreement_id}`.",
        f"- `requested_by.roles` must include {asker} (the role granted `request-extract`); a named `recipient`'s "
        f"roles {downloader} (granted `download-package`). Both `org` `{p2}`.",
        "- `fields`: each must be allowed for the program (agreement as signed; an addendum or a written approval "
        "may change it, `p3ke agreement show`):",
        "",
        "| program | article | fields |",
        "|---|---|---|",
        *programs,
        "",
        "## Extract requests",
        "- `request_id` is the requester's: the same id with the same content again is the same request, decided "
        "once; with other content it is dead-lettered and answered by a `rejected` extract-prepared whose reason "
        "begins `the request was not processed:` (the first request stands).",
        "- The outcome is extract-prepared with the same Kafka key (`request_id`): `accepted` or `rejected` with "
        "the `reason`. It carries no `ce_correlationid` and no `ce_subject`.",
        "- A message refused for its origin is answered to no one (no extract-prepared): the requester sees it in "
        "the audit log; the request is absent from targeting's `GET /v1/extract-requests/{id}`.",
        "- `file_uri` is internal to party 1. Party 2 receives the package from delivery's HTTP API after "
        "handover-signed: the password once and an expiring personal download link, for the requester or the "
        "named recipient only.",
        "",
        "## Access to the topics",
        "Services connect over TLS with SASL/SCRAM-SHA-512, ministry platforms with mutual TLS; each KafkaUser may "
        "write and read only its topics:",
        *_platform_lines(),
        "",
        "Dead-letter topics are written by the consumers and read by no service and no platform: only the "
        f"deployment's operators (party 1, `{p1}`) read them, with a temporary KafkaUser, to replay "
        "(deploy/k8s/README.md, 'Replay a dead-letter topic').",
        "",
        "## Examples and development keys",
        "Every message has an example signed with a development key (`x-p3ke-development-keys`). Their private keys "
        "are public (Ed25519 from SHA-256 of a published seed and the owner's name), so they are trusted only "
        "where P3KE_EVENT_DEV_KEYS=true (local and test, never production). `make run` writes the platforms' "
        "private keys to `var/local/dev-keys/`.",
    ])


def asyncapi_document() -> dict[str, Any]:
    facts = agreement_facts()
    examples = message_examples(facts)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in EVENTS:
        cid, mid = _camel(spec.name), _pascal(spec.name)
        messages[mid] = {
            "name": mid,
            "title": spec.name,
            "summary": spec.summary,
            "description": _message_description(spec),
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{spec.model.__name__}"},
            "bindings": {"kafka": {
                "key": {"type": "string", "description": f"the aggregate id: payload field {spec.key_field}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }},
            "examples": examples[spec.name],
        }
        channels[cid] = {
            "address": spec.topic,
            "title": spec.topic,
            "description": f"{spec.summary} Produced by {', '.join(spec.producers)}; "
            f"consumed by {', '.join(spec.consumers)}.",
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"}},
            "bindings": {"kafka": {
                "topic": spec.topic, "partitions": spec.partitions, "replicas": 3,
                "topicConfiguration": {"retention.ms": spec.retention_days * 86_400_000,
                                       "cleanup.policy": ["delete"]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }},
        }
        channels[cid + "Dlq"] = {
            "address": spec.dlq,
            "title": spec.dlq,
            "description": f"Dead letters of {spec.topic}: the original key, value and headers, plus "
            "`p3ke_dlq_*` headers saying why it was rejected. Read only by the deployment's operators.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        }
        operations[f"send{mid}"] = {
            "action": "send",
            "title": f"Publish {spec.name}",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{mid}"}],
        }
        operations[f"receive{mid}"] = {
            "action": "receive",
            "title": f"Consume {spec.name}",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{mid}"}],
        }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "dead letter",
        "summary": "A message that could not be parsed, validated, verified or applied.",
        "headers": {"type": "object", "description": "the original headers (`ce_*` unchanged, so the signature "
                    "still verifies), plus:", "properties": {
                        name: {"type": "string", "description": desc} for name, desc in DLQ_HEADERS.items()
                    }},
        "payload": {"description": "the original message value, unchanged (may not be JSON)"},
        "examples": examples["dead-letter"],
    }
    schemas = {"CloudEventHeaders": _ce_headers(), **_component_schemas(facts)}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:p3ke:data-sharing",
        "info": {
            "title": "P3KE data sharing (Kemenko PMK - Kemnaker)",
            "version": CONTRACT_VERSION,
            "description": _description(facts),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka",
                      "description": "`make run`: plaintext, no authentication; the address varies "
                      "(`P3KE_KAFKA_BOOTSTRAP` in var/local/dev.env)"},
            "production": {"host": "p3ke-kafka-bootstrap:9093", "protocol": "kafka-secure",
                           "description": "inside the cluster, for the services: Strimzi listener `tls`, TLS and "
                           "SASL/SCRAM-SHA-512 per KafkaUser (`p3ke-<service>`)",
                           "security": [{"$ref": "#/components/securitySchemes/saslScram"}]},
            "platforms": {"host": "{externalBootstrap}:9094", "protocol": "kafka-secure",
                          "description": "from outside the cluster, for the ministry platforms: Strimzi listener "
                          "`external`, mutual TLS with the platform's KafkaUser certificate",
                          "variables": {"externalBootstrap": {
                              "default": "p3ke-kafka-external-bootstrap",
                              "description": "the load balancer address of the listener, given to each platform "
                                             "with its certificate and the cluster CA"}},
                          "security": [{"$ref": "#/components/securitySchemes/mutualTls"}]},
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {
                "saslScram": {"type": "scramSha512", "description":
                              "SASL/SCRAM-SHA-512 over TLS (security.protocol SASL_SSL): a service's KafkaUser "
                              "`p3ke-<service>`; the password is in the Secret of that name, the brokers' CA in "
                              "`p3ke-cluster-ca-cert`"},
                "mutualTls": {"type": "X509", "description":
                              "TLS with a client certificate (security.protocol SSL): a ministry platform's "
                              "KafkaUser (`kemnaker-platform`, `kemenkopmk-platform`), certificate `user.crt` and "
                              "key `user.key` issued by the clients CA, with the cluster CA, handed over out of "
                              "band. Transport security only: every event is also signed (`ce_signature`)"},
            },
        },
        "x-p3ke-development-keys": dev_public_keys(),
        "x-p3ke-agreement": {
            "agreement_id": facts.agreement_id,
            "parties": {str(n): org for n, org in facts.parties.items()},
            "programs": {code: {"article": facts.articles[code], "fields": list(fields)}
                         for code, fields in facts.programs.items()},
            "roles": {action: [{"org": org, "role": role} for org, role in facts.grants.get(action, ())]
                      for action in ("request-extract", "download-package")},
            "signature_algorithms": list(ALGORITHMS),
        },
    }


def rendered() -> dict[Path, str]:
    facts = agreement_facts()
    files = {
        CONTRACT_DIR / "jsonschema" / f"{spec.type}.json": json.dumps(event_json_schema(spec, facts), indent=2)
        for spec in EVENTS
    }
    files[CONTRACT_DIR / "asyncapi.json"] = json.dumps(asyncapi_document(), indent=2)
    return {path: text + "\n" for path, text in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    args = parser.parse_args(argv)
    files = rendered()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    known = set(files)
    extra = [p for p in (CONTRACT_DIR / "jsonschema").glob("*.json") if p not in known]
    if args.check:
        for path in [*stale, *extra]:
            print(f"contract drift: {path} (run `make schemas`)", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in extra:
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} contract files under {CONTRACT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
