"""The P3KE data-sharing event contract.

A ministry platform needs only this package (or the generated files under `contract/`) to produce
and consume the events: payload models, the CloudEvents 1.0 Kafka binary binding and the topics.
"""

from p3ke_schemas.envelope import CloudEvent, EnvelopeError, from_kafka, to_kafka
from p3ke_schemas.events import (
    Actor,
    DataAccess,
    DatasetUpdated,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    FeedbackReceived,
    HandoverSigned,
    ProgramCode,
    RequestedProgram,
    Signer,
)
from p3ke_schemas.topics import EVENTS, EventSpec, dlq_topic, spec_for_topic, spec_for_type

__all__ = [
    "EVENTS",
    "Actor",
    "CloudEvent",
    "DataAccess",
    "DatasetUpdated",
    "EnvelopeError",
    "EventSpec",
    "ExtractCriteria",
    "ExtractPrepared",
    "ExtractRequested",
    "FeedbackReceived",
    "HandoverSigned",
    "ProgramCode",
    "RequestedProgram",
    "Signer",
    "dlq_topic",
    "from_kafka",
    "spec_for_topic",
    "spec_for_type",
    "to_kafka",
]
