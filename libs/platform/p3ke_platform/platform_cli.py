"""`p3ke platform request` and `p3ke events verify|dead-letters`: a ministry platform's side of the contract.

- `p3ke platform request` builds an `extract-requested` from options or a JSON file, signs it with the platform's
  private key (PEM, `--key`, `--kid`) and publishes it to Kafka, as party 2's platform does; it prints the ce_id
  and the request_id. `--out FILE` writes the signed message instead of publishing it.
- `p3ke events verify FILE` checks a message (written by `--out`, or an example of the AsyncAPI document) as a
  consumer would: signature, key, producer, principal, claimed time.
- `p3ke events dead-letters TOPIC` lists a dead-letter topic's messages with their reasons (operators; locally,
  the walkthrough).

A message file is JSON: `{"topic", "key", "headers": {name: value}, "payload": {...}}`. Output holds ids, key ids
and reasons only: nothing of a data subject (the events carry none).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from p3ke_platform import console, purpose_text
from p3ke_platform.console import EXIT_NEGATIVE, EXIT_USAGE, CommandError
from p3ke_platform.ids import random_id
from p3ke_platform.settings import Settings, load_settings
from p3ke_schemas import CloudEvent, EnvelopeError, EventSigner, ExtractRequested, sign_event
from p3ke_schemas.signing import load_private_key, thumbprint
from p3ke_schemas.topics import DLQ_SUFFIX, EventSpec, spec_for_type

PLATFORM_SOURCE = "urn:kemnaker:pusdatik:platform"
REQUESTER_ROLE = "program-officer"  # the role the agreement grants request-extract (and download-package)


# -- building, signing, publishing -----------------------------------------------------------------------------


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _actor(subject: str, org: str, roles: list[str] | None, service_account: bool) -> dict[str, Any]:
    return {"org": org, "subject": subject, "roles": roles or [REQUESTER_ROLE], "service_account": service_account}


def request_payload(base: Mapping[str, Any], args: argparse.Namespace, agreement_id: Callable[[], str],
                    now: datetime) -> ExtractRequested:
    """The request: the file's fields, the options over them, `requested_at` now (a platform's claimed time must be
    within minutes of the broker's receipt), and the agreement's id unless given."""
    body = dict(base)
    criteria = dict(body.get("criteria") or {})
    options = {"request_id": args.request_id, "program": args.program, "quota": args.quota,
               "fields": _split(args.fields), "justification": args.justification, "purpose": args.purpose,
               "dataset_version_id": args.dataset_version, "agreement_id": args.agreement}
    body.update({k: v for k, v in options.items() if v is not None})
    for name, value in (("deciles", _split(args.deciles)), ("region_codes", _split(args.regions))):
        if value is not None:
            criteria[name] = [int(v) for v in value] if name == "deciles" and all(v.isdigit() for v in value) \
                else value
    body["criteria"] = criteria
    if args.requested_by:
        body["requested_by"] = _actor(args.requested_by, args.org, args.roles, args.service_account)
    if args.recipient:
        body["recipient"] = _actor(args.recipient, args.org, args.recipient_roles, False)
    body.setdefault("request_id", random_id("req", 20))
    if "agreement_id" not in body:
        body["agreement_id"] = agreement_id()
    body["requested_at"] = now.isoformat()
    if "requested_by" not in body:
        raise CommandError(console.text("request.who_asks"), code=EXIT_USAGE)
    try:
        request = ExtractRequested.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                             for err in exc.errors(include_url=False, include_input=False)[:8])
        raise CommandError(console.text("request.invalid", problems=problems), code=EXIT_USAGE) from None
    if request.purpose is None:
        raise CommandError(console.text("request.purpose_missing"), code=EXIT_USAGE)
    refused = purpose_text.refusal(request.justification)
    if refused is not None:  # checked before it is signed and published: Kafka would keep it
        raise CommandError(refused, code=EXIT_USAGE)
    return request


def load_signer(key_file: Path, kid: str | None) -> EventSigner:
    try:
        private = load_private_key(key_file.read_bytes())
    except ValueError as exc:
        raise CommandError(console.text("key.invalid", file=key_file, error=exc), code=EXIT_USAGE) from None
    return EventSigner(kid or thumbprint(private.public_key()), private)


def message_document(spec: EventSpec, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    return {"topic": spec.topic, "key": key.decode(), "headers": {k: v.decode() for k, v in headers},
            "payload": json.loads(value)}


def _configured_agreement_id() -> str:
    from p3ke_platform.agreement import load_agreement

    settings = load_settings()
    return load_agreement(settings.agreement_dir, manifest=settings.agreement_manifest).base.id


def _settings(bootstrap: str | None) -> Settings:
    return load_settings(kafka_bootstrap=bootstrap) if bootstrap else load_settings()


def _producer(settings: Settings) -> Any:
    from p3ke_platform.messaging.producer import make_producer

    return make_producer(settings, linger_ms=0, client_id="p3ke-platform-cli")


def _publish(settings: Settings, topic: str, key: bytes, value: bytes,
             headers: list[tuple[str, bytes]]) -> tuple[int, int]:
    producer = _producer(settings)
    try:
        sent = producer.send(topic, key=key, value=value, headers=headers).get(timeout=60)
        return int(sent.partition), int(sent.offset)
    except Exception as exc:  # kafka-python's errors: one line, no traceback
        raise CommandError(console.text("publish.failed", topic=topic, bootstrap=settings.kafka_bootstrap,
                                        error=exc)) from None
    finally:
        producer.close(timeout=10)


def _request(args: argparse.Namespace) -> int:
    base: dict[str, Any] = {}
    if args.file is not None:
        try:
            base = json.loads(args.file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CommandError(console.text("json.invalid", file=args.file, error=exc), code=EXIT_USAGE) from None
        if not isinstance(base, dict):
            raise CommandError(console.text("json.not_request", file=args.file), code=EXIT_USAGE)
    signer = load_signer(args.key, args.kid)
    data = request_payload(base, args, _configured_agreement_id, datetime.now(UTC))
    event = CloudEvent.of(data, source=args.source)
    key, value, headers = sign_event(event, signer)
    spec = event.spec
    result: dict[str, Any] = {"topic": spec.topic, "request_id": data.request_id, "ce_id": event.id,
                              "kid": signer.kid, "alg": signer.alg}
    if args.out is not None:
        args.out.write_text(json.dumps(message_document(spec, key, value, headers), indent=2) + "\n",
                            encoding="utf-8")
        result["written_to"] = str(args.out)
    else:
        settings = _settings(args.bootstrap)
        result["partition"], result["offset"] = _publish(settings, spec.topic, key, value, headers)
    console.emit(result, args.json, _request_summary)
    return 0


def _request_summary(r: Mapping[str, Any]) -> list[str]:
    where = console.text("request.written", file=r["written_to"]) if "written_to" in r else \
        console.text("request.published", topic=r["topic"], partition=r["partition"], offset=r["offset"])
    return [console.text("request.summary", request=r["request_id"], kid=r["kid"], alg=r["alg"], where=where),
            f"  request_id {r['request_id']}", f"  ce_id      {r['ce_id']}"]


# -- reading and checking messages -----------------------------------------------------------------------------


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(k), str(v).encode()) for k, v in items]


def read_message(path: Path) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of a message file; the key defaults to the aggregate id (an AsyncAPI example)."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CommandError(console.text("json.invalid", file=path, error=exc), code=EXIT_USAGE) from None
    if not isinstance(doc, dict) or "headers" not in doc or "payload" not in doc:
        raise CommandError(console.text("json.not_message", file=path), code=EXIT_USAGE)
    headers = _headers(doc["headers"])
    value = json.dumps(doc["payload"], ensure_ascii=False).encode()
    key = doc.get("key")
    return (str(key).encode() if key is not None else None), value, headers


def _origin_check(settings: Settings) -> Any:
    from p3ke_platform.agreement import load_agreement
    from p3ke_platform.event_keys import KeyRing
    from p3ke_platform.messaging.origin import OriginCheck

    parties = load_agreement(settings.agreement_dir, manifest=settings.agreement_manifest).base.parties
    return OriginCheck(KeyRing.configured(settings, parties), {p.party: p.org for p in parties},
                       timedelta(seconds=settings.event_clock_skew_s))


def _verify(args: argparse.Namespace) -> int:
    from p3ke_platform.messaging.origin import OriginRefused
    from p3ke_schemas import from_kafka

    key, value, headers = read_message(args.file)
    try:
        event = from_kafka(key, value, headers)
    except EnvelopeError as exc:
        raise CommandError(console.text("event.invalid", error=exc), code=EXIT_NEGATIVE) from None
    if key is None:
        key = event.key.encode()
    received = event.time
    if args.received_at:
        try:
            received = datetime.fromisoformat(args.received_at.replace("Z", "+00:00"))
        except ValueError:
            raise CommandError(console.text("received_at.invalid", value=repr(args.received_at)),
                               code=EXIT_USAGE) from None
        received = received if received.tzinfo else received.replace(tzinfo=UTC)
    check = _origin_check(load_settings())
    result: dict[str, Any] = {"type": event.type, "ce_id": event.id, "key": key.decode(),
                              "authtype": event.authtype, "authid": event.authid}
    try:
        verified = check.verify(key, value, headers, event, received)
    except OriginRefused as exc:
        result.update(accepted=False, kind=exc.kind, reason=exc.reason)
    else:
        signature = verified.signature
        assert signature is not None
        owner = check.ring.get(signature.kid)
        result.update(accepted=True, kid=signature.kid, alg=signature.alg, owner=owner.owner if owner else None)
    console.emit(result, args.json, _verify_summary)
    return 0 if result["accepted"] else EXIT_NEGATIVE


def _verify_summary(r: Mapping[str, Any]) -> str:
    if r["accepted"]:
        return console.text("verify.accepted", type=r["type"], id=r["ce_id"], owner=r["owner"], kid=r["kid"],
                            alg=r["alg"], authtype=r["authtype"], authid=r["authid"])
    return console.text("verify.refused", type=r["type"], id=r["ce_id"], kind=r["kind"], reason=r["reason"])


def _dlq_topic(name: str) -> str:
    if name.endswith(DLQ_SUFFIX):
        name = name[: -len(DLQ_SUFFIX)]
    try:
        return spec_for_type(name).dlq
    except KeyError:
        raise CommandError(console.text("dlq.unknown", name=repr(name)), code=EXIT_USAGE) from None


def _messages(settings: Settings, topic: str) -> list[Any]:
    """Every message on `topic`, from the beginning (a dead-letter topic is small)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, **settings.kafka_client_options(), auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1500)
    try:
        return list(consumer)
    finally:
        consumer.close()


def _dead_letter(message: Any) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in (message.headers or [])}
    return {"key": message.key.decode(errors="replace") if message.key else None,
            "consumer": headers.get("p3ke_dlq_consumer"), "reason": headers.get("p3ke_dlq_reason"),
            "ce_id": headers.get("ce_id"), "ce_type": headers.get("ce_type"),
            "failed_at": headers.get("p3ke_dlq_failed_at"), "partition": message.partition,
            "offset": message.offset}


def _dead_letters(args: argparse.Namespace) -> int:
    topic = _dlq_topic(args.topic)
    settings = _settings(args.bootstrap)
    deadline = time.monotonic() + args.wait
    while True:
        found = [d for d in map(_dead_letter, _messages(settings, topic))
                 if (args.key is None or d["key"] == args.key)
                 and (args.consumer is None or d["consumer"] == args.consumer)]
        if found or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if not found:
        filters = ([console.text("dlq.with_key", key=args.key)] if args.key else []) + \
            ([console.text("dlq.from_consumer", consumer=args.consumer)] if args.consumer else [])
        raise CommandError(" ".join([console.text("dlq.none", topic=topic), *filters]), code=EXIT_NEGATIVE)
    console.emit({"topic": topic, "dead_letters": found}, args.json,
                 lambda r: [f"{d['consumer']}: {d['reason']}" for d in r["dead_letters"]])
    return 0


# -- the command line --------------------------------------------------------------------------------------------


def _guarded(command: str, body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    return lambda args: console.guard(command, args, lambda: body(args))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `platform` (request) and `events` (verify, dead-letters) to the top-level CLI."""
    platform = sub.add_parser("platform", help="act as a ministry platform: publish a signed extract request",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = platform.add_subparsers(dest="platform_action", required=True, metavar="{request}")
    req = actions.add_parser("request", help="build, sign and publish an extract-requested (party 2's platform)")
    req.add_argument("file", nargs="?", type=Path, help="JSON of an extract-requested; the options override it")
    req.add_argument("--request-id", help="unique per request (default: a new one); the same id with the same "
                     "content is the same request, with other content it is refused")
    req.add_argument("--program", help="e.g. padat_karya")
    req.add_argument("--quota", type=int, help="at most this many persons")
    req.add_argument("--fields", help="comma-separated P3KE fields allowed for the program, e.g. nik,nama")
    req.add_argument("--deciles", help="comma-separated welfare deciles 1-4 (criteria.deciles)")
    req.add_argument("--regions", help="comma-separated Kemendagri region codes (criteria.region_codes)")
    req.add_argument("--purpose", help="the purpose code (one of the program's purposes in the agreement, or the "
                     "purpose of a written approval), e.g. seleksi_calon_peserta")
    req.add_argument("--justification", help=f"a short note for the BAST ({purpose_text.MIN_CHARS} to "
                     f"{purpose_text.MAX_CHARS} characters, one line; no NIK-like number, no person's name)")
    req.add_argument("--dataset-version", help="pin a dataset version (default: the current one)")
    req.add_argument("--requested-by", metavar="SUBJECT", help="the account that asks (its id, not a name)")
    req.add_argument("--org", default="kemnaker", help="the requester's and recipient's org (default kemnaker)")
    req.add_argument("--role", dest="roles", action="append", help=f"the requester's role (default {REQUESTER_ROLE})")
    req.add_argument("--service-account", action="store_true", help="the requester is the platform's own account")
    req.add_argument("--recipient", metavar="SUBJECT", help="the person the package is released to")
    req.add_argument("--recipient-role", dest="recipient_roles", action="append",
                     help=f"the recipient's role (default {REQUESTER_ROLE})")
    req.add_argument("--agreement", help="agreement id (default: the configured agreement's)")
    req.add_argument("--key", type=Path, required=True, help="the platform's private key (PKCS#8 PEM, Ed25519 "
                     "or P-256), e.g. $P2_PLATFORM_KEY after `source var/local/dev.env`")
    req.add_argument("--kid", help="its key id as pinned in the agreement (default: the RFC 7638 thumbprint)")
    req.add_argument("--source", default=PLATFORM_SOURCE, help=f"ce_source (default {PLATFORM_SOURCE})")
    req.add_argument("--bootstrap", help="Kafka brokers (default P3KE_KAFKA_BOOTSTRAP; TLS/SASL from P3KE_KAFKA_*)")
    req.add_argument("--out", type=Path, help="write the signed message to this JSON file instead of publishing")
    console.add_output_options(req, progress=False)
    req.set_defaults(func=_guarded("p3ke platform request", _request))

    events = sub.add_parser("events", help="check a signed message; read a dead-letter topic")
    actions = events.add_subparsers(dest="events_action", required=True, metavar="{verify,dead-letters}")
    verify = actions.add_parser("verify", help="check a message file as a consumer would (exit 3: refused)")
    verify.add_argument("file", type=Path, help="message JSON {key, headers, payload}; - for stdin")
    verify.add_argument("--received-at", help="when the broker received it (ISO 8601; default its ce_time)")
    console.add_output_options(verify, progress=False)
    verify.set_defaults(func=_guarded("p3ke events verify", _verify))
    dead = actions.add_parser("dead-letters", help="list a dead-letter topic's messages and reasons")
    dead.add_argument("topic", help="a topic or event name, e.g. extract-requested (its .dlq is read)")
    dead.add_argument("--key", help="only messages with this Kafka key (the aggregate id)")
    dead.add_argument("--consumer", help="only those dead-lettered by this consumer group, e.g. p3ke-targeting")
    dead.add_argument("--wait", type=float, default=30.0, help="seconds to wait for one to arrive (default 30)")
    dead.add_argument("--bootstrap", help="Kafka brokers (default P3KE_KAFKA_BOOTSTRAP)")
    console.add_output_options(dead, progress=False)
    dead.set_defaults(func=_guarded("p3ke events dead-letters", _dead_letters))
