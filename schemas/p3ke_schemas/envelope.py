"""CloudEvents 1.0 in the Kafka protocol binding, binary content mode.

Attributes travel as `ce_*` headers, the data as the JSON message value, `content-type` as a header,
and the Kafka key is the aggregate id (the `partitionkey` extension).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from p3ke_schemas.events import acting_principal
from p3ke_schemas.signing import EventSigner, PublicKey, Signature, sign_headers, verify_headers
from p3ke_schemas.topics import EVENTS, EventSpec, spec_for_type

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type")


class EnvelopeError(ValueError):
    """A Kafka message that is not a valid P3KE CloudEvent; the text says why (no payload values)."""


@dataclass(frozen=True)
class CloudEvent:
    type: str
    source: str
    data: BaseModel
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    correlationid: str | None = None
    authtype: str | None = None  # CloudEvents authcontext: who the signer vouches for
    authid: str | None = None
    signature: Signature | None = field(default=None, compare=False)  # set once a consumer verified it

    @property
    def spec(self) -> EventSpec:
        return spec_for_type(self.type)

    @property
    def key(self) -> str:
        return str(getattr(self.data, self.spec.key_field))

    @classmethod
    def of(cls, data: BaseModel, source: str, **attrs: Any) -> CloudEvent:
        for spec in EVENTS:
            if isinstance(data, spec.model):
                return cls(type=spec.type, source=source, data=data, **attrs)
        raise TypeError(f"{type(data).__name__} is not an event payload of the contract")



def to_kafka(event: CloudEvent, signer: EventSigner | None = None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers) for a Kafka producer; signed (`ce_signature`) when a signer is given."""
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": event.id,
        "ce_source": event.source,
        "ce_type": event.type,
        "ce_time": event.time.isoformat(),
        "content-type": CONTENT_TYPE,
        "ce_dataschema": f"urn:p3ke:schema:{event.type}",
    }
    if event.subject:
        headers["ce_subject"] = event.subject
    if event.correlationid:
        headers["ce_correlationid"] = event.correlationid
    value = event.data.model_dump_json().encode()
    encoded = [(k, v.encode()) for k, v in headers.items()]
    if signer is not None:
        encoded = sign_headers(signer, encoded, value, authtype=event.authtype, authid=event.authid)
    else:
        encoded += [(f"ce_{k}", v.encode()) for k, v in (("authtype", event.authtype), ("authid", event.authid)) if v]
    return event.key.encode(), value, encoded


def authcontext(data: BaseModel, producer: str) -> tuple[str, str]:
    """(authtype, authid) a producer's signature vouches for: the actor the data names, else the producer."""
    person = acting_principal(data)
    if person is None:
        return "system", producer
    return ("service_account" if person.service_account else "user"), person.subject


def sign_event(event: CloudEvent, signer: EventSigner,
               producer: str | None = None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of `event`, signed by `signer`: what a ministry platform publishes.

    Without an authcontext on the event, the signature vouches for the actor the data names (or, for data
    that names none, for `producer`)."""
    if not event.authid:
        authtype, authid = authcontext(event.data, producer or event.source)
        event = replace(event, authtype=authtype, authid=authid)
    return to_kafka(event, signer)


def verify_event(key: bytes | None, value: bytes | None, headers: Any,
                 public_key_for: Callable[[str], PublicKey | None]) -> CloudEvent:
    """Parse a Kafka message and verify its signature; the event, with `signature` set.

    Raises EnvelopeError (not a valid event) or SignatureError (unsigned, unknown key, does not verify).
    Whether the key's owner may produce this event type is the consumer's own rule (see the topics table).
    """
    event = from_kafka(key, value, headers)
    return replace(event, signature=verify_headers(headers, value or b"", public_key_for))


def _header_dict(headers: Any) -> dict[str, str]:
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    out: dict[str, str] = {}
    for name, raw in items:
        key = name.decode() if isinstance(name, bytes) else str(name)
        try:
            out[key] = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"header {key!r} is not UTF-8") from exc
    return out


def from_kafka(key: bytes | None, value: bytes | None, headers: Any) -> CloudEvent:
    """Parse and validate one Kafka message; raise EnvelopeError naming what is wrong."""
    attrs = _header_dict(headers)
    missing = [h for h in REQUIRED_HEADERS if not attrs.get(h)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    if attrs["ce_specversion"] != SPECVERSION:
        raise EnvelopeError(f"unsupported ce_specversion {attrs['ce_specversion']!r}, expected {SPECVERSION}")
    content_type = attrs.get("content-type", CONTENT_TYPE).split(";")[0].strip()
    if content_type != CONTENT_TYPE:
        raise EnvelopeError(f"unsupported content-type {content_type!r}, expected {CONTENT_TYPE}")
    try:
        spec = spec_for_type(attrs["ce_type"])
    except KeyError as exc:
        raise EnvelopeError(f"unknown ce_type {attrs['ce_type']!r}") from exc
    if not value:
        raise EnvelopeError("empty message value")
    try:
        data = spec.model.model_validate_json(value)  # parse and validate in one pass (pydantic-core)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors(include_url=False, include_input=False)):
            raise EnvelopeError("value is not JSON") from exc
        raise EnvelopeError(f"{spec.type} does not match its schema: {_describe(exc)}") from exc
    try:
        when = datetime.fromisoformat(attrs["ce_time"]) if attrs.get("ce_time") else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time {attrs['ce_time']!r} is not an RFC 3339 timestamp") from exc
    return CloudEvent(
        type=spec.type, source=attrs["ce_source"], data=data, id=attrs["ce_id"], time=when,
        subject=attrs.get("ce_subject"), correlationid=attrs.get("ce_correlationid"),
        authtype=attrs.get("ce_authtype"), authid=attrs.get("ce_authid"),
    )


def _describe(exc: ValidationError) -> str:
    """Field paths and error kinds only: input values could be personal data and are left out."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
