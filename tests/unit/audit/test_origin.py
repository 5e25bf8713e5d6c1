"""The origin evidence of an entry (format 2): what the handler keeps of a verified signature, how `verify`
rebuilds the signed bytes from it, and every way an entry's origin fails (named, without payload values)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from p3ke_audit.domain.entry import ORDER
from p3ke_audit.domain.origin import (
    DERIVED,
    OriginChecker,
    OriginError,
    check_entry,
    event_columns,
    evidence,
    signed_event,
    signing_payload,
)
from p3ke_audit.service_layer.handlers import entry_row
from p3ke_platform.event_keys import KeyRing, TrustedKey, dev_keys, dev_signer
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_schemas import (
    Actor,
    CloudEvent,
    DataAccess,
    DatasetUpdated,
    EventSigner,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    FeedbackReceived,
    HandoverSigned,
    Signature,
    Signer,
    canonicalize,
    sign_event,
    verify_event,
)

RING = KeyRing(dev_keys())
T = datetime(2026, 3, 2, 3, 4, 5, 678901, tzinfo=UTC)
OFFICER = Actor(org="kemnaker", subject="officer-1", roles=["signatory", "program-officer"])


def _signed(event: CloudEvent, owner: str, signer: EventSigner | None = None,
            ring: KeyRing = RING) -> CloudEvent:
    signer = signer or dev_signer(owner)
    return verify_event(*sign_event(event, signer, owner), lambda kid: ring.public_key(kid) or (
        signer.public_key() if kid == signer.kid else None))


def _access(i: int = 1, service: str = "targeting", **kw: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "access_id": f"acc-{i}", "service": service, "actor": OFFICER, "action": "export",
        "resource_type": "extract", "resource_id": f"ext-{i}", "outcome": "allowed", "record_count": 42,
        "program": "padat_karya", "agreement_id": "PKS-003", "occurred_at": T - timedelta(minutes=1),
        "subject_refs": ["ab" * 32], "purpose": "Pemadanan — ünïcode 𝄞"}
    fields.update(kw)
    return CloudEvent.of(DataAccess(**fields), source=f"urn:p3ke:service:{service}", time=T)


def _events() -> list[tuple[CloudEvent, str]]:
    """One event of every type of the contract, with an owner allowed to sign it."""
    signers = [Signer(party=p, org=o, signatory_id=f"sig-{p}", certificate_sha256="ab" * 32, signed_at=T)
               for p, o in ((1, "kemenkopmk"), (2, "kemnaker"))]
    steward = Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])
    return [
        (CloudEvent.of(DatasetUpdated(
            dataset_version_id="dv-1", agreement_id="PKS-003", snapshot_uri="s3://x/y", snapshot_sha256="cd" * 32,
            individuals=10, families=3, counts_by_desil={"1": 4}, published_by=steward, published_at=T),
            source="urn:p3ke:service:ingest", time=T), "ingest"),
        (CloudEvent.of(ExtractRequested(
            request_id="rq-1", agreement_id="PKS-003", program="padat_karya",
            criteria=ExtractCriteria(region_codes=["32"], reference_date=T.date()), quota=100, fields=["nik"],
            justification="Penyaluran program padat karya", requested_by=OFFICER, requested_at=T),
            source="urn:p3ke:platform:party-2", time=T), "party-2 platform"),
        (CloudEvent.of(ExtractRequested(
            request_id="rq-2", agreement_id="PKS-003", program="program_lain", criteria=ExtractCriteria(),
            quota=5, fields=["nik"], justification="Program di luar Pasal 3", requested_by=OFFICER,
            requested_at=T), source="urn:p3ke:service:targeting", time=T), "targeting"),
        (CloudEvent.of(ExtractPrepared(
            request_id="rq-1", extract_id="ext-1", agreement_id="PKS-003", program="padat_karya", status="accepted",
            record_count=100, prepared_at=T, requester=OFFICER), source="urn:p3ke:service:targeting", time=T),
         "targeting"),
        (CloudEvent.of(HandoverSigned(
            handover_id="ho-1", bast_number="BAST-1", agreement_id="PKS-003", extract_id="ext-1",
            program="padat_karya", record_count=100, package_sha256="cd" * 32, bast_sha256="ef" * 32,
            signers=signers, signed_at=T), source="urn:p3ke:service:delivery", time=T), "delivery"),
        (CloudEvent.of(FeedbackReceived(
            batch_id="fb-1", handover_id="ho-1", agreement_id="PKS-003", program="padat_karya", rows=7,
            counts_by_match_class={"matched": 7}, submitted_by=OFFICER, received_at=T),
            source="urn:p3ke:service:feedback", time=T), "feedback"),
        (_access(), "targeting"),
        (_access(2, service="audit", actor=Actor(org="kemenkopmk", subject="auditor-1")), "audit"),
    ]


def _row(event: CloudEvent, leaf: int = 0) -> dict[str, Any]:
    row, _ = entry_row(event)
    return {**row, "leaf_index": leaf, "kafka_partition": None}


@pytest.mark.parametrize(("event", "owner"), _events(), ids=lambda v: getattr(v, "type", v))
def test_every_event_type_keeps_evidence_that_verifies_again(event: CloudEvent, owner: str) -> None:
    signed = _signed(event, owner)
    assert signed.signature is not None
    row = _row(signed)
    assert row["key_id"] == signed.signature.kid and row["signature"] == signed.signature.jws
    # the stored envelope and payload rebuild the signed bytes, byte for byte, both ways
    rebuilt = canonicalize({**json.loads(row["envelope"]), "data": json.loads(row["payload"])})
    assert rebuilt == signing_payload(row["envelope"], row["payload"]) == signed.signature.payload
    assert "data" not in json.loads(row["envelope"]) and json.loads(row["envelope"])["id"] == event.id
    check_entry(RING, row)
    # the columns verify derives from the signed event are the ones the handler derived
    again = signed_event(json.loads(row["envelope"]), row["payload"])
    assert event_columns(again) == event_columns(signed)
    assert set(event_columns(signed)) == set(DERIVED)


def test_the_handler_refuses_an_event_without_a_verified_signature() -> None:
    with pytest.raises(RejectEvent, match="signature was not verified"):
        entry_row(_access())
    signed = _signed(_access(), "targeting")
    assert signed.signature is not None
    not_canonical = dataclasses.replace(signed.signature, payload=signed.signature.payload.replace(b",", b", ", 1))
    with pytest.raises(RejectEvent, match="cannot be kept as evidence"):
        entry_row(dataclasses.replace(signed, signature=not_canonical))
    with pytest.raises(RejectEvent, match="cannot be kept as evidence"):
        entry_row(dataclasses.replace(signed, signature=dataclasses.replace(signed.signature,
                                                                            payload=b'{"id":"x"}')))


names = st.text(alphabet=st.sampled_from("abcdz0189éßﬀ𝄞Aa"), min_size=1, max_size=6).filter(
    lambda n: n[:1].isalnum() and n != "data")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, st.text(max_size=10), max_size=8), json_values)
def test_the_envelope_and_the_data_rebuild_the_signed_bytes(attributes: dict[str, str], data: Any) -> None:
    """JCS({**envelope, "data": payload}) from the two JCS texts, "data" placed among any member names."""
    signed = canonicalize({**attributes, "data": data})
    envelope, payload = canonicalize(attributes).decode(), canonicalize(data).decode()
    assert signing_payload(envelope, payload) == signed
    kept = evidence(Signature(kid="k", alg="EdDSA", jws="a..b", payload=signed))
    assert (kept["envelope"], kept["payload"]) == (envelope, payload)


# --- every way an entry's origin fails -----------------------------------------------------------------------


def _good() -> dict[str, Any]:
    return _row(_signed(_access(), "targeting"), leaf=7)


def _fails(row: dict[str, Any], reason: str, ring: KeyRing = RING) -> None:
    with pytest.raises(OriginError, match=reason) as failure:
        check_entry(ring, row)
    assert "Pemadanan" not in str(failure.value) and "ab" * 32 not in str(failure.value)  # no payload values


def _with(**changes: Any) -> dict[str, Any]:
    return {**_good(), **changes}


def _resigned(event: CloudEvent, signer: EventSigner, owner: str = "targeting") -> dict[str, Any]:
    """The entry of `event` signed by `signer`, as a consumer that skipped (or forged) the origin check writes it."""
    forged = verify_event(*sign_event(event, signer, owner), lambda _: signer.public_key())
    return _row(forged, leaf=7)


ROGUE = EventSigner("rogue-1", Ed25519PrivateKey.generate())
FAILURES: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "unknown key": (lambda: _resigned(_access(), ROGUE), "'rogue-1' is not a key this deployment pins"),
    "a pinned key id, another key": (lambda: _resigned(_access(), EventSigner("dev-targeting", ROGUE.private_key)),
                                     "does not verify"),
    "no signature": (lambda: _with(signature=None), "evidence is incomplete"),
    "no envelope": (lambda: _with(envelope=None), "evidence is incomplete"),
    "key_id of another key": (lambda: _with(key_id="dev-ingest"), "names key 'dev-targeting', the entry's key_id"),
    "not a detached JWS": (lambda: _with(signature=_good()["signature"].replace("..", ".x.")), "not a detached JWS"),
    "signature of other data": (lambda: _with(payload=_good()["payload"].replace('"record_count":42',
                                                                                 '"record_count":43'),
                                              record_count=43), "does not verify"),
    "signature of another envelope": (lambda: _with(envelope=_good()["envelope"].replace(
        "urn:p3ke:service:targeting", "urn:p3ke:service:targetinh"), source="urn:p3ke:service:targetinh"),
        "does not verify"),
    "another event's signature": (lambda: _with(signature=_resigned(_access(9), dev_signer("targeting"))["signature"]),
                                  "does not verify"),
    "a column changed": (lambda: _with(actor_subject="someone-else"), "column actor_subject differs"),
    "an instant changed": (lambda: _with(occurred_at=T), "column occurred_at differs"),
    "the event id changed": (lambda: _with(event_id="forged-1"), "column event_id differs"),
    "a count's type": (lambda: _with(record_count="42"), "column record_count differs"),
    "data-access of another service": (lambda: _resigned(_access(service="delivery"), dev_signer("targeting")),
                                       "in the name of 'delivery' is signed by targeting's key"),
    "a type the owner may not produce": (
        lambda: _row(_signed(_events()[0][0], "targeting"), leaf=7), "belongs to targeting, which may not produce"),
    "envelope not JSON": (lambda: _with(envelope="{not json"), "not JSON"),
    "data not the event's": (lambda: _with(payload='{"a":1}'), "does not verify"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_an_origin_that_does_not_hold_is_named(case: str) -> None:
    check_entry(RING, _good())
    make, reason = FAILURES[case]
    _fails(make(), reason)


def test_the_key_must_be_valid_when_the_entry_was_recorded() -> None:
    good = _good()
    public = dev_signer("targeting").public_key()
    recorded = good["recorded_at"]

    def ring(starts: datetime | None, ends: datetime | None) -> KeyRing:
        others = [k for k in dev_keys() if k.kid != "dev-targeting"]
        return KeyRing([*others, TrustedKey("dev-targeting", "targeting", public, starts, ends)])

    check_entry(ring(recorded - timedelta(days=1), recorded + timedelta(seconds=1)), good)
    _fails(good, "was not valid when the entry was recorded", ring(recorded + timedelta(seconds=1), None))
    # recorded after the key's end, but the event was signed (its time) while the key was valid: a consumer
    # catching up after a rotation
    check_entry(ring(None, T + timedelta(seconds=1)), good)
    _fails(good, "was not valid", ring(None, T))
    # a signed time after the recorded one does not help
    _fails({**good, "recorded_at": T - timedelta(days=1)}, "was not valid",
           ring(T - timedelta(hours=2), T + timedelta(hours=1)))


def test_an_ecdsa_p256_key_and_an_algorithm_that_does_not_match_the_key() -> None:
    hsm = EventSigner("hsm-targeting-1", ec.generate_private_key(ec.SECP256R1()))
    ring = KeyRing([*dev_keys(), TrustedKey("hsm-targeting-1", "targeting", hsm.public_key())])
    row = _row(_signed(_access(), "targeting", hsm, ring), leaf=3)
    check_entry(ring, row)
    _fails({**row, "payload": row["payload"].replace("42", "41"), "record_count": 41}, "does not verify", ring)
    swapped = KeyRing([*dev_keys(), TrustedKey("hsm-targeting-1", "targeting", ROGUE.public_key())])
    _fails(row, "is an EdDSA key, the signature says ES256", swapped)


def test_the_checker_reads_rows_at_an_offset() -> None:
    """`verify` hands it rows as it selects them: the leaf hash first, then the values in ORDER."""
    good = _good()
    checker = OriginChecker(RING, offset=1)
    checker.check([b"leaf", *(good[name] for name in ORDER)])
    job, problem = checker.prepare([b"leaf", *({**good, "service": "ingest"}[name] for name in ORDER)])
    assert problem == "its column service differs from the signed event" and job[1] == "EdDSA"
    with pytest.raises(OriginError, match="column service differs"):
        checker.check([b"leaf", *({**good, "service": "ingest"}[name] for name in ORDER)])
