"""Generate the committed contract files from the models: one JSON Schema per event and AsyncAPI 3.0.

`python -m p3ke_schemas.generate` writes them; `--check` exits 1 when the committed files drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from p3ke_schemas.envelope import CONTENT_TYPE, SPECVERSION
from p3ke_schemas.topics import EVENTS, EventSpec

CONTRACT_DIR = Path(__file__).parent / "contract"
ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DLQ_HEADERS = {
    "p3ke_dlq_reason": "why the message could not be applied",
    "p3ke_dlq_topic": "the topic it was read from",
    "p3ke_dlq_partition": "its partition",
    "p3ke_dlq_offset": "its offset",
    "p3ke_dlq_consumer": "the consumer group that rejected it",
    "p3ke_dlq_failed_at": "when (RFC 3339)",
}


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(p.title() for p in rest)


def _pascal(name: str) -> str:
    return "".join(p.title() for p in name.split("-"))


def event_json_schema(spec: EventSpec) -> dict[str, Any]:
    schema = spec.model.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:p3ke:schema:{spec.type}",
        **schema,
    }
    schema["description"] = (schema.get("description") or spec.summary).strip()
    return schema


def _component_schemas() -> dict[str, Any]:
    """Every payload model, with nested models hoisted so that refs point into components."""
    out: dict[str, Any] = {}
    for spec in EVENTS:
        schema = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            out[name] = sub
        out[spec.model.__name__] = schema
    return dict(sorted(out.items()))


def _ce_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_id": {"type": "string", "description": "unique per event; consumers deduplicate on it"},
            "ce_source": {"type": "string", "description": "the producing service or platform"},
            "ce_type": {"type": "string", "description": "equal to the topic name"},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": {"type": "string"},
            "ce_dataschema": {"type": "string"},
            "ce_correlationid": {"type": "string", "description": "ties events of one business flow"},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
        },
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in EVENTS:
        cid, mid = _camel(spec.name), _pascal(spec.name)
        messages[mid] = {
            "name": mid,
            "title": spec.name,
            "summary": spec.summary,
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{spec.model.__name__}"},
            "bindings": {"kafka": {
                "key": {"type": "string", "description": f"the aggregate id: payload field {spec.key_field}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }},
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
            "`p3ke_dlq_*` headers saying why it was rejected.",
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
        "summary": "A message that could not be parsed, validated or applied.",
        "headers": {"type": "object", "properties": {
            name: {"type": "string", "description": desc} for name, desc in DLQ_HEADERS.items()
        }},
        "payload": {"description": "the original message value, unchanged (may not be JSON)"},
    }
    schemas = {"CloudEventHeaders": _ce_headers(), **_component_schemas()}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:p3ke:data-sharing",
        "info": {
            "title": "P3KE data sharing (Kemenko PMK - Kemnaker)",
            "version": CONTRACT_VERSION,
            "description": "Events of the PKS No. 003/PKS/DEP.1/KEMENKO/PMK/02/2023 data-sharing platform. "
            "Every message is a CloudEvents 1.0 event in the Kafka binary binding, keyed by its "
            "aggregate id. No event carries personal data of a data subject.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "`make run` (port varies)"},
            "production": {"host": "p3ke-kafka-kafka-bootstrap:9093", "protocol": "kafka-secure",
                           "description": "Strimzi cluster, TLS and SCRAM per KafkaUser"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def rendered() -> dict[Path, str]:
    files = {
        CONTRACT_DIR / "jsonschema" / f"{spec.type}.json": json.dumps(event_json_schema(spec), indent=2)
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
