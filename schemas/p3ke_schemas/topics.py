"""The topic registry: one topic per event type, `p3ke.<type>.v<major>`, dead letters on `.dlq`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from p3ke_schemas.events import (
    ArtefactDisposed,
    DataAccess,
    DatasetUpdated,
    DisposalStatusChanged,
    ExtractPrepared,
    ExtractRequested,
    FeedbackReceived,
    HandoverMilestone,
    HandoverSigned,
    IncidentOpened,
    ObligationStatusChanged,
)

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class EventSpec:
    name: str  # e.g. "dataset-updated"
    version: int
    model: type[BaseModel]
    key_field: str  # the aggregate id: all events of one aggregate land on one partition, in order
    summary: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = 6
    retention_days: int = 30

    @property
    def type(self) -> str:
        """The CloudEvents `type` attribute; equal to the topic name."""
        return f"p3ke.{self.name}.v{self.version}"

    @property
    def topic(self) -> str:
        return self.type

    @property
    def dlq(self) -> str:
        return dlq_topic(self.topic)


ALL_SERVICES = ("ingest", "targeting", "delivery", "feedback", "audit")

EVENTS: tuple[EventSpec, ...] = (
    EventSpec("dataset-updated", 1, DatasetUpdated, "dataset_version_id",
              "A validated, immutable P3KE snapshot was published by party 1.",
              ("ingest",), ("targeting", "feedback", "audit"), partitions=1, retention_days=3650),
    EventSpec("extract-requested", 1, ExtractRequested, "request_id",
              "Party 2 requests a purpose-bound extract for one of the four programs.",
              ("targeting", "party-2 platform"), ("targeting", "audit")),
    EventSpec("extract-prepared", 1, ExtractPrepared, "request_id",
              "An extract was frozen (accepted) or the request was refused (rejected).",
              ("targeting",), ("delivery", "feedback", "audit")),
    EventSpec("handover-signed", 1, HandoverSigned, "handover_id",
              "Both parties signed the BAST of a handover; the package may be released.",
              ("delivery",), ("feedback", "audit")),
    EventSpec("feedback-received", 1, FeedbackReceived, "batch_id",
              "Party 2 submitted data balikan for a handover; counts by match class.",
              ("feedback",), ("audit",)),
    EventSpec("data-access", 1, DataAccess, "resource_id",
              "One access to personal data, or a refused attempt.",
              ALL_SERVICES, ("audit",), partitions=6, retention_days=90),
    EventSpec("obligation-status-changed", 1, ObligationStatusChanged, "obligation_id",
              "An obligation of the agreement or of UU PDP became due soon or overdue, or reached a reminder.",
              ("audit",), ("audit",), partitions=1, retention_days=365),
    EventSpec("incident-opened", 1, IncidentOpened, "incident_id",
              "A personal-data incident was opened (UU PDP Art. 46): its 72-hour clock, counts only.",
              ("audit",), ("audit",), partitions=1, retention_days=365),
    EventSpec("artefact-disposed", 1, ArtefactDisposed, "artefact_id",
              "An artefact was destroyed under the retention schedule; other services drop their references.",
              ("ingest", "targeting", "delivery", "feedback"), ("audit",), partitions=1, retention_days=365),
    EventSpec("disposal-status-changed", 1, DisposalStatusChanged, "handover_id",
              "Party 2's disposal certificate of a handover became due (purpose or agreement ended) or was certified "
              "(signed by party 2's signatory and verified).",
              ("delivery",), ("audit",), partitions=1, retention_days=3650),
    EventSpec("handover-milestone", 1, HandoverMilestone, "handover_id",
              "A handover's package was first downloaded, the handover was revoked, or its purpose ended: the "
              "retention periods that start there (targeting's extract) begin.",
              ("delivery",), ("targeting", "audit"), partitions=1, retention_days=3650),
)

_BY_TYPE = {spec.type: spec for spec in EVENTS}
_BY_NAME = {spec.name: spec for spec in EVENTS}


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def spec_for_type(event_type: str) -> EventSpec:
    """Look up by CloudEvents type (`p3ke.dataset-updated.v1`) or short name (`dataset-updated`)."""
    spec = _BY_TYPE.get(event_type) or _BY_NAME.get(event_type)
    if spec is None:
        raise KeyError(f"unknown event type {event_type!r}")
    return spec


def spec_for_topic(topic: str) -> EventSpec:
    return spec_for_type(topic)
