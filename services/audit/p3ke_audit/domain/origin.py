"""The origin evidence of an entry (format 2) and its verification against the deployment's pinned keys.

An entry keeps what the consumer verified before the handler ran: `envelope` (the JCS of the signed
CloudEvents attributes), `payload` (the JCS of the data as signed), `signature` (the detached JWS of
`ce_signature`) and `key_id` (its `kid`). The bytes the JWS covers are

    signing_payload(envelope, payload) = envelope with the member "data":<payload> inserted in key order
                                        = JCS({**envelope, "data": payload})

(the member names of an envelope are the CloudEvents attribute names; JCS orders members by UTF-16 code
units, and removing or inserting one member of a JCS object leaves every other member's text as it is). So
anyone holding the producer's public key verifies an entry's origin from its columns alone, and the leaf
hash commits to all of them.

`OriginChecker.prepare` does everything but the signature arithmetic for one entry: the JWS and its key
(pinned, of the kid the entry names, valid when the entry was recorded, allowed to produce the event type),
the event parsed again from the signed attributes and data as the worker parses a Kafka message, and every column
the entry derives from the event compared with the stored one. It returns the signature check to run
(`verify_signatures`, which releases the GIL, so a caller runs batches on several threads) and the first
other check that fails; a signature that does not verify is the reason given first.
Reasons name columns and key ids, never payload values.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pydantic import ValidationError

from p3ke_audit.domain.entry import ORDER
from p3ke_schemas import CloudEvent, DataAccess, Signature, SignatureError, acting_principal
from p3ke_schemas.envelope import CONTENT_TYPE, SPECVERSION
from p3ke_schemas.signing import SIGNATURE_HEADER, PublicKey, algorithm_of, read_signature
from p3ke_schemas.topics import spec_for_type

if TYPE_CHECKING:
    from p3ke_platform.event_keys import KeyRing

# The columns an entry derives from its event (besides the evidence, `payload` and `recorded_at`).
DERIVED: tuple[str, ...] = (
    "event_id", "event_type", "source", "service", "actor_org", "actor_subject", "actor_roles", "action",
    "resource_type", "resource_id", "outcome", "program", "agreement_id", "record_count", "occurred_at",
)

_scan_string = json.decoder.scanstring  # C: (text, index after the opening quote) -> (str, index after it)
_scan_value = json.JSONDecoder().raw_decode  # (text, index) -> (value, end); no whitespace skipped
_loads = json.loads
try:
    from _json import encode_basestring as _json_string  # C; escapes exactly what JCS escapes
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _json_string
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_NOT_CANONICAL = "the envelope is not canonical JSON (RFC 8785)"


class OriginError(ValueError):
    """The entry's origin evidence does not hold; the text says why (no payload values)."""


@dataclass(frozen=True)
class OriginFailure:
    """An entry whose origin does not verify, as `p3ke audit verify` and the bundle verifier name it."""

    leaf_index: int
    event_id: str | None
    reason: str
    seq: int | None = None  # the database key (None in an exported bundle, which has none)

    def describe(self) -> str:
        seq = f"seq {self.seq}, " if self.seq is not None else ""
        return (f"entry at leaf {self.leaf_index} ({seq}event {str(self.event_id)[:64]}) has no valid "
                f"origin signature: {self.reason}")


def unsigned_warning(count: int, ranges: list[list[int]]) -> list[str]:
    """The warning for format 1 entries (no origin evidence) from before events were signed, by leaf runs."""
    if not count:
        return []
    listed = ", ".join(f"{lo}..{hi}" if hi > lo else f"{lo}" for lo, hi in ranges[:10])
    more = " …" if len(ranges) > 10 else ""
    return [f"{count} entries without origin evidence (format 1, recorded before events were signed): "
            f"leaves {listed}{more}"]


def unsigned_after_signed(first_signed_leaf: int) -> str:
    """The reason given for an entry of format 1 (no evidence) recorded after the signed ones began."""
    return (f"it has no origin evidence (format 1) but was recorded after signed entries began at leaf "
            f"{first_signed_leaf}: a row written around the signature check")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_columns(event: CloudEvent) -> dict[str, Any]:
    """The columns of `DERIVED` as the entry of `event` stores them."""
    data = event.data
    actor = acting_principal(data)
    spec = event.spec
    row: dict[str, Any] = {
        "event_id": event.id, "event_type": event.type, "source": event.source,
        "service": None, "action": None, "outcome": None,
        "actor_org": actor.org if actor else None,
        "actor_subject": actor.subject if actor else None,
        "actor_roles": f" {' '.join(sorted(actor.roles))} " if actor is not None and actor.roles else None,
        "resource_type": spec.name, "resource_id": str(getattr(data, spec.key_field)), "record_count": 0,
        "program": str(getattr(data, "program", None) or "") or None,
        "agreement_id": getattr(data, "agreement_id", None),
        "occurred_at": _utc(event.time),
    }
    if isinstance(data, DataAccess):
        row.update(service=data.service, action=data.action, resource_type=data.resource_type,
                   resource_id=data.resource_id, outcome=data.outcome, record_count=data.record_count,
                   occurred_at=_utc(data.occurred_at))
    return row


def _after(name: str, other: str) -> bool:
    """`name` sorts after `other` in JCS order (UTF-16 code units)."""
    if name.isascii() and other.isascii():
        return name > other
    return name.encode("utf-16-be") > other.encode("utf-16-be")


def _envelope_members(envelope: str) -> tuple[dict[str, str], int]:
    """The attributes of an envelope (a JSON object of text members) and the index where "data" goes: before
    the first member whose name sorts after it in JCS order, else before the closing brace.

    A member's text `,"name":` (or `{"name":` first) is found by searching for it: the quote after the comma
    cannot be inside a string (it would be escaped) nor close one (a name starts with a letter or digit), so
    it is that member's start. The envelope itself is not required to be canonical here: the rebuilt bytes
    are then not what any producer signed, and the signature does not verify."""
    try:
        members = _loads(envelope)
    except ValueError:
        raise OriginError("the envelope is not JSON") from None
    if type(members) is not dict or envelope[:1] != "{":
        raise OriginError("the envelope is not a JSON object")
    if "data" in members or not all(type(v) is str for v in members.values()):
        raise OriginError("the envelope's members are not text attributes (or one is named data)")
    for name in members:
        if _after(name, "data"):
            if not name[:1].isalnum():
                raise OriginError("the envelope has an attribute name that does not start with a letter or digit")
            text = _json_string(name) + ":"
            if envelope.startswith(text, 1):
                return members, 1
            at = envelope.find("," + text)
            if at < 0:
                raise OriginError(_NOT_CANONICAL)
            return members, at + 1
    return members, len(envelope) - 1


def signing_payload(envelope: str, payload: str) -> bytes:
    """What the entry's signature covers: JCS({**envelope, "data": payload}), from the two JCS texts."""
    members, at = _envelope_members(envelope)
    return _splice(envelope, payload, at, bool(members)).encode()


def _splice(envelope: str, payload: str, at: int, nonempty: bool) -> str:
    if at == len(envelope) - 1:  # after every member
        return envelope[:at] + (',"data":' if nonempty else '"data":') + payload + "}"
    return envelope[:at] + '"data":' + payload + "," + envelope[at:]


def _data_member(text: str) -> tuple[int, int, int]:
    """(start of the member "data", start of its value, end of its value) in the JCS text of an event."""
    if text[:1] != "{" or text[-1:] != "}":
        raise OriginError("the signed payload is not a JSON object")
    i, end = 1, len(text) - 1
    while i < end:
        if text[i] != '"':
            raise OriginError("the signed payload is not canonical JSON")
        start = i
        name, i = _scan_string(text, i + 1)
        if text[i] != ":":
            raise OriginError("the signed payload is not canonical JSON")
        value_start = i + 1
        _, i = _scan_string(text, i + 2) if text[value_start] == '"' else _scan_value(text, value_start)
        if name == "data":
            return start, value_start, i
        if text[i] != "," and i != end:
            raise OriginError("the signed payload is not canonical JSON")
        i += 1
    raise OriginError("the signed payload has no data")


def evidence(signature: Signature) -> dict[str, str]:
    """The columns an entry keeps of a verified signature: envelope, payload, signature, key_id.

    The signed payload is JCS (the consumer canonicalised the message itself, `signing_payload` of
    p3ke_schemas.signing); the data member's value is cut out of it as `payload` and the rest is `envelope`,
    so JCS({**json.loads(envelope), "data": json.loads(payload)}) is the signed payload byte for byte. That is
    asserted here the way `verify` rebuilds it (OriginError if not)."""
    try:
        text = signature.payload.decode()
        start, value_start, value_end = _data_member(text)
        payload = text[value_start:value_end]
        if text[start - 1] == ",":
            envelope = text[:start - 1] + text[value_end:]
        elif text[value_end] == ",":
            envelope = text[:start] + text[value_end + 1:]
        else:
            envelope = "{}"
        if signing_payload(envelope, payload) != signature.payload:
            raise OriginError("the signed payload is not canonical JSON (RFC 8785)")
    except (ValueError, IndexError) as exc:
        if isinstance(exc, OriginError):
            raise
        raise OriginError(f"the signed payload is not JSON an entry can keep: {str(exc)[:100]}") from None
    return {"envelope": envelope, "payload": payload, "signature": signature.jws, "key_id": signature.kid}


def _signature_bytes(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise OriginError("the signature is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise OriginError("the signature is not base64url") from None


def signed_event(attributes: Mapping[str, str], payload: str) -> CloudEvent:
    """The event the signed attributes and data describe, parsed as `from_kafka` parses a Kafka message (the
    same checks, the same data model): what the worker handed the handler."""
    missing = [name for name in ("specversion", "id", "source", "type") if not attributes.get(name)]
    if missing:
        raise OriginError(f"the signed event lacks the attribute(s) {', '.join(missing)}")
    if attributes["specversion"] != SPECVERSION:
        raise OriginError(f"the signed event has specversion {attributes['specversion'][:20]!r}")
    if attributes.get("datacontenttype", CONTENT_TYPE).split(";")[0].strip() != CONTENT_TYPE:
        raise OriginError("the signed event's datacontenttype is not application/json")
    try:
        spec = spec_for_type(attributes["type"])
    except KeyError:
        raise OriginError(f"the signed event's type {attributes['type'][:100]!r} is unknown") from None
    try:
        data = spec.model.model_validate_json(payload)
    except ValidationError:
        raise OriginError(f"the signed data is not a valid {spec.name} event") from None
    time_text = attributes.get("time")
    if not time_text:
        raise OriginError("the signed event has no time")
    try:
        when = datetime.fromisoformat(time_text)
    except ValueError:
        raise OriginError("the signed event's time is not an RFC 3339 timestamp") from None
    return CloudEvent(type=spec.type, source=attributes["source"], data=data, id=attributes["id"], time=when,
                      subject=attributes.get("subject"), correlationid=attributes.get("correlationid"),
                      authtype=attributes.get("authtype"), authid=attributes.get("authid"))


SignatureJob = tuple[PublicKey, str, bytes, bytes]  # (key, alg, signature, signing input)


def verify_signature(job: SignatureJob) -> bool:
    key, alg, signature, message = job
    try:
        if alg == "EdDSA":
            key.verify(signature, message)  # type: ignore[call-arg]
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, message, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_signatures(jobs: Sequence[SignatureJob]) -> list[int]:
    """The positions in `jobs` whose signature does not verify (the arithmetic releases the GIL)."""
    return [i for i, job in enumerate(jobs) if not verify_signature(job)]


class OriginChecker:
    """Checks entries (their values in `ORDER`, from position `offset` of a row) against a key ring."""

    BAD_SIGNATURE = ("the signature does not verify over the entry's envelope and payload (signed by another "
                     "key, or the event was changed after signing)")

    def __init__(self, keys: KeyRing, offset: int = 0) -> None:
        self.keys = keys
        self._protected: dict[str, tuple[str, str] | str] = {}  # protected header text -> (kid, alg) or problem
        self._key_alg: dict[str, str] = {}  # kid -> the algorithm of its pinned key
        at = {name: ORDER.index(name) + offset for name in ORDER}
        self._at = at
        self._derived = tuple((name, at[name]) for name in DERIVED)
        self._e, self._s, self._k, self._p, self._r = (at[n] for n in ("envelope", "signature", "key_id", "payload",
                                                                          "recorded_at"))

    def _header(self, protected: str, jws: str) -> tuple[str, str]:
        known = self._protected.get(protected)
        if known is None:
            try:
                _, header, _ = read_signature({SIGNATURE_HEADER: jws})
                known = (header["kid"], header["alg"])
            except SignatureError as exc:
                known = str(exc)
            if len(self._protected) < 10_000:
                self._protected[protected] = known
        if isinstance(known, str):
            raise OriginError(known)
        return known

    def prepare(self, row: Sequence[Any]) -> tuple[SignatureJob, str | None]:
        """Every check of the entry but the signature arithmetic: the signature check to run, and the first
        other check that fails (None if all hold). OriginError if there is no signature check to run (the
        evidence, the JWS or its key do not hold)."""
        envelope, jws, key_id, payload = row[self._e], row[self._s], row[self._k], row[self._p]
        if not (isinstance(envelope, str) and isinstance(jws, str) and isinstance(key_id, str)
                and isinstance(payload, str)):
            raise OriginError("its origin evidence is incomplete (envelope, signature and key_id are required)")
        parts = jws.split(".")
        if len(parts) != 3 or parts[1] != "":
            raise OriginError("the signature is not a detached JWS (<protected>..<signature>)")
        kid, alg = self._header(parts[0], jws)
        if kid != key_id:
            raise OriginError(f"the signature names key {kid[:80]!r}, the entry's key_id {key_id[:80]!r}")
        key = self.keys.get(kid)
        if key is None:
            raise OriginError(f"key {kid[:80]!r} is not a key this deployment pins (no pinned key signed it)")
        key_alg = self._key_alg.get(kid)
        if key_alg is None:
            key_alg = self._key_alg[kid] = algorithm_of(key.public_key)
        if key_alg != alg:
            raise OriginError(f"key {kid[:80]!r} is an {key_alg} key, the signature says {alg}")
        members, at = _envelope_members(envelope)
        message = parts[0].encode() + b"." + _splice(envelope, payload, at, bool(members)).encode()
        job = (key.public_key, alg, _signature_bytes(parts[2]), message)
        try:
            self._event(key, members, payload, row)
        except OriginError as exc:
            return job, str(exc)
        return job, None

    def _event(self, key: Any, members: Mapping[str, str], payload: str, row: Sequence[Any]) -> None:
        """The signed event, its producer and its time against the key, and the entry's columns against it."""
        event = signed_event(members, payload)
        self._key_valid(key, row[self._r], members.get("time"))
        spec = event.spec
        if key.owner not in spec.producers:
            raise OriginError(f"key {key.kid[:80]!r} belongs to {key.owner}, which may not produce {spec.name}")
        data = event.data
        if isinstance(data, DataAccess) and data.service != key.owner:
            raise OriginError(f"a data-access event in the name of {data.service[:40]!r} is signed by "
                              f"{key.owner}'s key {key.kid[:80]!r}")
        for name, value in event_columns(event).items():
            stored = row[self._at[name]]
            if isinstance(value, datetime):
                same = isinstance(stored, datetime) and _utc(stored) == value
            else:
                same = stored == value and type(stored) is type(value)
            if not same:
                raise OriginError(f"its column {name} differs from the signed event")

    def check(self, row: Sequence[Any]) -> None:
        """One entry, signature included; OriginError naming what fails (a signature that does not verify
        first: a forged entry's other differences follow from it)."""
        job, problem = self.prepare(row)
        if not verify_signature(job):
            raise OriginError(self.BAD_SIGNATURE)
        if problem is not None:
            raise OriginError(problem)

    def _key_valid(self, key: Any, recorded_at: Any, signed_time: str | None) -> None:
        """The key was valid when the log recorded the entry, or (an entry recorded after a rotation by a
        consumer that was catching up) at the event's signed time, if that is not later."""
        if key.not_before is None and key.not_after is None:
            return
        if not isinstance(recorded_at, datetime):
            raise OriginError("its recorded_at is not an instant")
        recorded = _utc(recorded_at)
        if key.valid_at(recorded):
            return
        try:
            signed = datetime.fromisoformat(signed_time) if signed_time else None
        except ValueError:
            signed = None
        if signed is not None and signed.tzinfo is not None and signed <= recorded and key.valid_at(signed):
            return
        raise OriginError(f"key {key.kid[:80]!r} of {key.owner} was not valid when the entry was recorded "
                          f"({recorded.isoformat()}; valid {key.window()})")


def check_entry(keys: KeyRing, row: Mapping[str, Any]) -> None:
    """One entry (a mapping of its columns), signature included; OriginError naming what fails."""
    OriginChecker(keys).check([row.get(name) for name in ORDER])
