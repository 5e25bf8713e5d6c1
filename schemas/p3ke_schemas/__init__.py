"""The P3KE data-sharing event contract.

A ministry platform needs only this package (or the generated files under `contract/`) to produce
and consume the events: payload models, the CloudEvents 1.0 Kafka binary binding and the topics.
"""

from p3ke_schemas.envelope import (
    CloudEvent,
    EnvelopeError,
    authcontext,
    from_kafka,
    sign_event,
    to_kafka,
    verify_event,
)
from p3ke_schemas.events import (
    Actor,
    AgreedProgram,
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
    PurposeCode,
    RequestedProgram,
    Signer,
    acting_principal,
)
from p3ke_schemas.jcs import CanonicalizationError, canonicalize
from p3ke_schemas.signing import (
    EventSigner,
    Signature,
    SignatureError,
    public_jwk,
    public_key_from_jwk,
    signing_payload,
)
from p3ke_schemas.topics import EVENTS, EventSpec, dlq_topic, spec_for_topic, spec_for_type

__all__ = [
    "EVENTS",
    "Actor",
    "AgreedProgram",
    "ArtefactDisposed",
    "CanonicalizationError",
    "CloudEvent",
    "DataAccess",
    "DatasetUpdated",
    "DisposalStatusChanged",
    "EnvelopeError",
    "EventSigner",
    "EventSpec",
    "ExtractCriteria",
    "ExtractPrepared",
    "ExtractRequested",
    "FeedbackReceived",
    "HandoverMilestone",
    "HandoverSigned",
    "IncidentOpened",
    "ObligationStatusChanged",
    "ProgramCode",
    "PurposeCode",
    "RequestedProgram",
    "Signature",
    "SignatureError",
    "Signer",
    "acting_principal",
    "authcontext",
    "canonicalize",
    "dlq_topic",
    "from_kafka",
    "public_jwk",
    "public_key_from_jwk",
    "sign_event",
    "signing_payload",
    "spec_for_topic",
    "spec_for_type",
    "to_kafka",
    "verify_event",
]
