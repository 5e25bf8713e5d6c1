"""The origin check a consumer runs before applying an event: signed by a trusted key, whose owner may produce
the event type and vouch for the person named, at a time the broker's receipt bears out; and keys as
configuration (trust file, the agreement's platform keys, development keys never in production)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from p3ke_platform.event_keys import KeyRing, TrustedKey, dev_keys, dev_signer, service_signer, trust_file_text
from p3ke_platform.messaging.origin import OriginCheck, OriginRefused
from p3ke_platform.settings import ConfigurationError, Settings
from p3ke_schemas import (
    Actor,
    CloudEvent,
    DataAccess,
    EventSigner,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    from_kafka,
    sign_event,
)

NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
OFFICER = Actor(org="kemnaker", subject="svc-pusdatik", roles=["program-officer"], service_account=True)
ORGS = {1: "kemenkopmk", 2: "kemnaker"}


def _check(ring: KeyRing | None = None) -> OriginCheck:
    return OriginCheck(ring or KeyRing(dev_keys()), ORGS, timedelta(minutes=5))


def _request(**changes: object) -> CloudEvent:
    data = ExtractRequested(request_id="rq-1", agreement_id="pks-p3ke-2023", program="padat_karya",
                            criteria=ExtractCriteria(), quota=10, fields=["nik"], justification="padat karya 2026",
                            requested_by=OFFICER, requested_at=NOW)
    return CloudEvent.of(data.model_copy(update=changes), source="urn:kemnaker:platform", time=NOW)


def _verify(event: CloudEvent, signer: EventSigner, owner: str, at: datetime = NOW,
            check: OriginCheck | None = None) -> CloudEvent:
    key, value, headers = sign_event(event, signer, owner)
    return (check or _check()).verify(key, value, headers, from_kafka(key, value, headers), at)


def test_a_platform_request_signed_by_its_party_goes_through() -> None:
    verified = _verify(_request(), dev_signer("party-2 platform"), "party-2 platform", NOW + timedelta(seconds=40))
    assert verified.signature is not None and verified.signature.kid == "dev-party-2-platform"


@pytest.mark.parametrize(("owner", "event", "kind", "reason"), [
    ("delivery", _request(), "wrong-producer", "belongs to delivery, which may not produce extract-requested"),
    ("party-1 platform", _request(), "principal", "may vouch only for people of kemenkopmk, not for an account of "
                                                  "kemnaker"),
    ("party-2 platform", _request(requested_at=NOW - timedelta(days=365)), "time",
     "requested_at is 365 day(s) before the broker received the event (at most 5 minute(s) allowed)"),
    ("party-2 platform", CloudEvent.of(ExtractPrepared(request_id="rq-1", agreement_id="a", program="padat_karya",
                                                       status="rejected", prepared_at=NOW), source="x", time=NOW),
     "wrong-producer", "party-2 platform, which may not produce extract-prepared (its producers: targeting)"),
    ("targeting", CloudEvent.of(DataAccess(access_id="a", service="feedback", actor=OFFICER, action="read",
                                           resource_type="r", resource_id="1", outcome="allowed", occurred_at=NOW),
                                source="urn:p3ke:service:feedback", time=NOW),
     "wrong-producer", "a data-access event in the name of 'feedback' is signed by targeting's key"),
])
def test_refusals_name_their_reason(owner: str, event: CloudEvent, kind: str, reason: str) -> None:
    with pytest.raises(OriginRefused, match=re.escape(reason)) as refused:
        _verify(event, dev_signer(owner), owner)
    assert refused.value.kind == kind


def test_the_authcontext_must_name_the_actor_and_the_kafka_key_the_aggregate() -> None:
    event = _request()
    key, value, headers = sign_event(event.__class__(**{**event.__dict__, "authtype": "user", "authid": "someone"}),
                                     dev_signer("party-2 platform"))
    with pytest.raises(OriginRefused, match="do not name the actor"):
        _check().verify(key, value, headers, from_kafka(key, value, headers), NOW)
    key, value, headers = sign_event(event, dev_signer("party-2 platform"), "party-2 platform")
    with pytest.raises(OriginRefused, match="Kafka key"):
        _check().verify(b"another", value, headers, from_kafka(key, value, headers), NOW)


def test_a_key_verifies_only_inside_its_window() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    ring = KeyRing([TrustedKey("p2-2027", "party-2 platform", private.public_key(), not_before=NOW,
                               not_after=NOW + timedelta(days=30))])
    check = _check(ring)
    _verify(_request(), EventSigner("p2-2027", private), "party-2 platform", NOW, check)
    later = NOW + timedelta(days=31)
    with pytest.raises(OriginRefused, match="is not valid on 2027-01-03") as refused:
        _verify(_request(requested_at=later), EventSigner("p2-2027", private), "party-2 platform", later, check)
    assert refused.value.kind == "key-not-valid"


def _pem(private: ed25519.Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


def test_production_trusts_only_configured_keys(tmp_path: Path) -> None:
    own = ed25519.Ed25519PrivateKey.generate()
    trust = tmp_path / "trust.json"
    trust.write_text(trust_file_text([("targeting-2026", "targeting", own.public_key())]))
    settings = Settings(event_dev_keys=False, event_trust_file=trust,
                        event_signing_key_file=_pem(own, tmp_path / "k.pem"), event_signing_key_id="targeting-2026")
    ring = KeyRing.configured(settings, [])
    assert list(ring.keys) == ["targeting-2026"]
    assert service_signer(settings, "targeting", ring).kid == "targeting-2026"
    with pytest.raises(ConfigurationError, match="not pinned for delivery"):
        service_signer(settings, "delivery", ring)
    # a development key pinned in a production trust file is refused: its private half is public
    dev = dev_signer("targeting")
    trust.write_text(trust_file_text([("t", "targeting", dev.public_key())]))
    prod = settings.model_construct(**{**settings.__dict__, "env": "production"})
    with pytest.raises(ConfigurationError, match="development keys"):
        KeyRing.configured(prod, [])
    trust.write_text(json.dumps({"keys": [{"kid": "x", "owner": "party-2 platform", "jwk": {}}]}))
    with pytest.raises(ConfigurationError, match="platform keys belong in the agreement"):
        KeyRing.configured(settings, [])


def test_the_agreement_gives_each_party_its_platform_keys() -> None:
    from p3ke_platform.agreement.model import Party, PlatformKey
    from p3ke_schemas import public_jwk

    private = ed25519.Ed25519PrivateKey.generate()
    pk = PlatformKey(kid="kemnaker-2026", jwk=public_jwk(private.public_key()), valid_from="2026-01-01",
                     valid_until="2026-12-31")
    party = Party(party=2, org="kemnaker", name="Kementerian Ketenagakerjaan", name_en="Ministry of Manpower",
                  unit="Pusdatik", unit_en="Data centre", address="Jakarta", role="data-user", platform_keys=(pk,))
    ring = KeyRing.configured(Settings(event_dev_keys=False), [party])
    key = ring.get("kemnaker-2026")
    assert key is not None and key.owner == "party-2 platform"
    assert key.valid_at(datetime(2026, 12, 31, 16, 59, tzinfo=UTC))  # 23:59 in Jakarta, the last day
    assert not key.valid_at(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="private part"):
        PlatformKey(kid="k", jwk={**public_jwk(private.public_key()), "d": "x"}, valid_from="2026-01-01")
