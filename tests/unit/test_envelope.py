"""CloudEvents 1.0 Kafka binary binding: round trip and precise reasons for every malformed message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from p3ke_schemas import Actor, CloudEvent, DataAccess, EnvelopeError, from_kafka, to_kafka

EVENT = CloudEvent.of(DataAccess(access_id="a1", service="audit", actor=Actor(org="kemnaker", subject="u1"),
                                 action="read", resource_type="extract", resource_id="ex-9", outcome="allowed",
                                 occurred_at=datetime(2026, 1, 2, tzinfo=UTC)), source="urn:test",
                      correlationid="c-1")


def test_round_trip_keeps_every_attribute() -> None:
    key, value, headers = to_kafka(EVENT)
    assert key == b"ex-9"
    names = {name for name, _ in headers}
    assert {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"} <= names
    back = from_kafka(key, value, headers)
    assert (back.id, back.type, back.source, back.data, back.correlationid) == (
        EVENT.id, "p3ke.data-access.v1", "urn:test", EVENT.data, "c-1")


def _headers(**changes: bytes | None) -> list[tuple[str, bytes]]:
    _, _, headers = to_kafka(EVENT)
    out = dict(headers)
    for name, value in changes.items():
        name = name.replace("_dash_", "-")
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return list(out.items())


@pytest.mark.parametrize(("value", "headers", "reason"), [
    (b"x", _headers(ce_id=None), "missing CloudEvents header(s): ce_id"),
    (b"x", _headers(ce_specversion=b"0.3"), "unsupported ce_specversion"),
    (b"x", _headers(content_dash_type=b"application/avro"), "unsupported content-type"),
    (b"x", _headers(ce_type=b"p3ke.other.v1"), "unknown ce_type"),
    (b"", _headers(), "empty message value"),
    (b"{nope", _headers(), "value is not JSON"),
    (b'{"access_id": 1}', _headers(), "does not match its schema"),
    (to_kafka(EVENT)[1], _headers(ce_time=b"yesterday"), "not an RFC 3339 timestamp"),
    (b"x", [("ce_id", b"\xff")], "not UTF-8"),
])
def test_malformed_messages_name_the_problem(value: bytes, headers: list[tuple[str, bytes]], reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        from_kafka(b"k", value, headers)


def test_schema_errors_never_echo_values() -> None:
    value = b'{"access_id": "a", "service": "s", "nik": "3201011201900001"}'
    with pytest.raises(EnvelopeError) as info:
        from_kafka(b"k", value, _headers())
    assert "3201011201900001" not in str(info.value)
