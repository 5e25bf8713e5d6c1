"""The contract a ministry's engineers implement from: every message of the AsyncAPI document has an example that is
a real signed message (it verifies with the development keys through p3ke_schemas.verify_event, passes the origin
check a consumer runs, and validates against its JSON Schema), the documented values come from the agreement and
the deployment, and the README's signed example verifies too."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.event_keys import KeyRing, dev_keys
from p3ke_platform.messaging.origin import OriginCheck, OriginRefused
from p3ke_schemas import EVENTS, from_kafka, public_jwk, spec_for_type, verify_event
from p3ke_schemas.generate import (
    CONTRACT_DIR,
    ORIGIN_REFUSALS,
    PLATFORM_ACCESS,
    agreement_facts,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = json.loads((CONTRACT_DIR / "asyncapi.json").read_text())
RING = KeyRing(dev_keys())
ORIGIN = OriginCheck(RING, {1: "kemenkopmk", 2: "kemnaker"}, timedelta(minutes=5))
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _examples() -> list[tuple[str, dict[str, Any]]]:
    return [(name, example) for name, message in DOC["components"]["messages"].items()
            for example in message.get("examples", [])]


def _message(example: dict[str, Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) on the wire: the key is the aggregate id, the value the payload as JSON."""
    headers = [(name, value.encode()) for name, value in example["headers"].items()]
    spec = spec_for_type(example["headers"]["ce_type"])
    return str(example["payload"][spec.key_field]).encode(), json.dumps(example["payload"]).encode(), headers


def test_every_message_has_a_signed_example() -> None:
    messages = DOC["components"]["messages"]
    assert set(messages) == {*(m["name"] for m in messages.values())}
    for name, message in messages.items():
        assert message.get("examples"), f"{name} has no example"
        for example in message["examples"]:
            assert example["headers"].get("ce_signature"), f"{name}/{example['name']} is not signed"
    assert {e["headers"]["ce_type"] for _, e in _examples()} == {spec.type for spec in EVENTS}


@pytest.mark.parametrize(("message", "example"), _examples(), ids=lambda v: v if isinstance(v, str) else v["name"])
def test_each_example_verifies_and_validates(message: str, example: dict[str, Any]) -> None:
    key, value, headers = _message(example)
    spec = spec_for_type(example["headers"]["ce_type"])
    event = verify_event(key, value, headers, RING.public_key)  # the function a ministry platform uses
    assert event.signature is not None
    owner = RING.get(event.signature.kid).owner
    assert f"Kafka key `{key.decode()}`" in example["summary"]
    schema = json.loads((CONTRACT_DIR / "jsonschema" / f"{spec.type}.json").read_text())
    jsonschema.validate(example["payload"], schema, format_checker=FORMATS)
    header_schema = DOC["components"]["schemas"]["CloudEventHeaders"]
    jsonschema.validate({k: v for k, v in example["headers"].items() if not k.startswith("p3ke_dlq_")},
                        header_schema, format_checker=FORMATS)
    assert example["headers"]["ce_dataschema"] == schema["$id"]
    if message == "DeadLetter":  # signed by a real key, but refused for its origin: the reason it was dead-lettered
        with pytest.raises(OriginRefused) as refused:
            ORIGIN.verify(key, value, headers, from_kafka(key, value, headers), event.time)
        assert example["headers"]["p3ke_dlq_reason"] == f"origin not proven ({refused.value.kind}): " \
            f"{refused.value.reason}"
        assert example["headers"]["p3ke_dlq_topic"] == spec.topic
    else:
        assert owner in spec.producers
        assert message == "".join(p.title() for p in spec.name.split("-"))
        ORIGIN.verify(key, value, headers, from_kafka(key, value, headers), event.time)


def test_a_changed_example_no_longer_verifies() -> None:
    _, example = next(e for e in _examples() if e[1]["headers"]["ce_type"] == "p3ke.extract-requested.v1")
    key, value, headers = _message(example)
    tampered = value.replace(b'"quota": 150', b'"quota": 1500')
    assert tampered != value
    with pytest.raises(ValueError, match="does not match the event"):
        verify_event(key, tampered, headers, RING.public_key)


def test_the_published_development_keys_are_the_ones_the_services_trust() -> None:
    published = {k["kid"]: k for k in DOC["x-p3ke-development-keys"]}
    assert {k.kid: public_jwk(k.public_key) for k in dev_keys()} == {kid: k["jwk"] for kid, k in published.items()}


def test_the_documented_values_are_the_agreements() -> None:
    agreement = load_agreement()
    facts = agreement_facts()
    terms = agreement.terms_at(agreement.base.validity.first_day)
    assert facts.agreement_id == agreement.base.id
    assert facts.programs == {p.code: tuple(p.fields) for p in terms.programs}
    policy = Policy(agreement)
    day = agreement.base.validity.first_day
    for role in facts.roles_for("request-extract", 2):
        assert policy.decide("kemnaker", [role], "request-extract", "padat_karya", ["nik"], at=day,
                               purpose="seleksi_calon_peserta").allowed
    for org, role in {(g.org, g.role) for g in terms.roles} - set(facts.grants["request-extract"]):
        assert not policy.decide(org, [role], "request-extract", "padat_karya", ["nik"], at=day).allowed
    documented = DOC["x-p3ke-agreement"]
    assert documented["agreement_id"] == agreement.base.id
    assert {code: p["fields"] for code, p in documented["programs"].items()} == \
        {code: list(fields) for code, fields in facts.programs.items()}
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.extract-requested.v1.json").read_text())
    assert agreement.base.id in schema["properties"]["agreement_id"]["description"]
    for code, fields in facts.programs.items():
        assert f"{code}: {', '.join(fields)}" in schema["properties"]["fields"]["description"]
    assert "program-officer" in schema["properties"]["requested_by"]["description"]


def test_the_documented_refusals_are_the_consumers() -> None:
    source = (ROOT / "libs" / "platform" / "p3ke_platform" / "messaging" / "origin.py").read_text()
    raised = set(re.findall(r'OriginRefused\("([a-z-]+)"', source))
    raised |= {kind for kind in ("unsigned", "unknown-key", "bad-signature") if f'"{kind}"' in source}
    assert raised == set(ORIGIN_REFUSALS)


def test_the_documented_topic_access_is_the_deployments() -> None:
    from tools.k8s.manifests import PLATFORMS as KAFKA_USERS

    assert {a["user"]: {"produces": a["produces"], "consumes": a["consumes"]} for a in PLATFORM_ACCESS.values()} \
        == {user: dict(access) for user, access in KAFKA_USERS.items()}
    for owner, access in PLATFORM_ACCESS.items():
        for name in access["produces"]:
            assert owner in spec_for_type(name).producers


def test_the_servers_have_security_schemes_and_the_headers_the_signature() -> None:
    schemes = DOC["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"scramSha512", "X509"}
    for name in ("production", "platforms"):
        server = DOC["servers"][name]
        assert server["protocol"] == "kafka-secure" and server["security"]
    headers = DOC["components"]["schemas"]["CloudEventHeaders"]
    assert {"ce_authtype", "ce_authid", "ce_signature"} <= set(headers["required"])
    assert "RFC 7797" in headers["properties"]["ce_signature"]["description"]


def _readme_example() -> tuple[bytes, bytes, list[tuple[str, bytes]], str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Topics", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(topic .*?)```", section, re.S)
    assert block, "README.md's Topics section has no signed example"
    fields: dict[str, list[str]] = {}
    current = ""
    for line in block.group(1).splitlines():
        if line[:1].strip():
            current, _, rest = line.partition(" ")
            fields[current] = [rest.strip()]
        else:
            fields[current].append(line.strip())
    headers: list[tuple[str, bytes]] = []
    for line in fields["headers"]:
        if line.startswith(".."):  # ce_signature, split at `..` for width
            name, text = headers.pop()
            headers.append((name, text + line.encode()))
        else:
            name, _, text = line.partition(": ")
            headers.append((name, text.encode()))
    value = json.dumps(json.loads(" ".join(fields["value"]))).encode()
    return fields["key"][0].encode(), value, headers, fields["topic"][0]


def test_the_readme_example_is_a_signed_message() -> None:
    key, value, headers, topic = _readme_example()
    event = verify_event(key, value, headers, RING.public_key)
    assert event.spec.topic == topic and event.signature is not None
    assert RING.get(event.signature.kid).owner == "party-2 platform"
    ORIGIN.verify(key, value, headers, event, event.time)
    schema = json.loads((CONTRACT_DIR / "jsonschema" / f"{topic}.json").read_text())
    jsonschema.validate(json.loads(value), schema, format_checker=FORMATS)


def test_the_readme_topics_section_names_the_signature_and_links_the_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Topics", 1)[1].split("\n## ", 1)[0]
    for needle in ("`ce_authtype`", "`ce_authid`", "`ce_signature`", "RFC 7797", "RFC 8785",
                   "(schemas/p3ke_schemas/contract/asyncapi.json)", "producer of that topic", "`request_id`",
                   f"`{agreement_facts().agreement_id}`", "`p3ke platform request`"):
        assert needle in section, needle
