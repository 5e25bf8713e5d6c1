"""The subject hash key ring (P3KE_SUBJECT_HASH_KEYS): parsing, bilingual errors that never show a secret, the
legacy single key as k1, the file form, the stable perturbation secret, the pairs file, key ids in data-access
events, and the additive `subject_key_id` field (an event without it still validates, by model and JSON Schema)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from p3ke_platform.audit_client import access_event
from p3ke_platform.settings import ConfigurationError, load_settings
from p3ke_platform.subject_keys import (
    KeyRingError,
    PairsHeader,
    legacy_ring,
    parse_key_ring,
    read_pairs,
    subject_ref,
    subject_refs,
    write_pairs,
)
from p3ke_schemas import Actor, DataAccess
from p3ke_schemas.generate import CONTRACT_DIR

OLD = "the-old-subject-key-0123456789"
NEW = "the-new-subject-key-9876543210"
NIK = "3201000000000007"


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUBJECT_HASH_KEY", "SUBJECT_HASH_KEYS", "PERTURBATION_KEY"):
        monkeypatch.delenv(f"P3KE_{name}", raising=False)
        monkeypatch.delenv(f"P3KE_{name}_FILE", raising=False)


def test_the_ring_lists_keys_current_first_and_refs_under_each() -> None:
    ring = parse_key_ring(f" k2:{NEW} ,\nk1:{OLD}\n")
    assert ring.ids == ("k2", "k1") and ring.current.id == "k2"
    assert ring.ref(NIK) == subject_ref(NEW, NIK)
    assert ring.refs(NIK) == {"k2": subject_ref(NEW, NIK), "k1": subject_ref(OLD, NIK)}
    assert ring.get(None) is ring.get("k1") and ring.get("k9") is None
    assert list(ring.pairs([NIK, " ", ""], "k1")) == [(subject_ref(OLD, NIK), subject_ref(NEW, NIK))]
    assert NEW not in repr(ring) and OLD not in repr(ring.keys)


@pytest.mark.parametrize(("text", "says"), [
    ("", "no key given"),
    (f"k2{NEW}", "entry 1 is not <id>:<secret>"),
    (f"k2:{NEW},K 1:{OLD}", "the key id of entry 2"),
    ("k2:short-secret", "shorter than 16"),
    (f"k2:{NEW},k2:{OLD}", "appears twice"),
    (f"k2:{NEW},k1:{NEW}", "reuses another key's secret"),
])
def test_a_malformed_ring_is_refused_bilingually_without_the_secret(text: str, says: str) -> None:
    with pytest.raises(KeyRingError) as caught:
        parse_key_ring(text)
    message = str(caught.value)
    assert message.startswith("P3KE_SUBJECT_HASH_KEYS: ") and " / " in message and says in message
    assert NEW not in message and OLD not in message
    with pytest.raises(ConfigurationError, match="P3KE_SUBJECT_HASH_KEYS"):
        load_settings(subject_hash_keys=text or " ")


def test_the_legacy_single_key_is_k1_and_keeps_every_derivation() -> None:
    settings = load_settings(subject_hash_key=OLD)
    assert settings.subject_key_ring == legacy_ring(OLD) and settings.subject_key_ring.current.id == "k1"
    assert settings.perturbation_secret == OLD  # targeting's record key and selection order: as before


def test_a_rotated_ring_changes_references_but_not_the_perturbation(tmp_path: Path) -> None:
    ring_file = tmp_path / "keys"
    ring_file.write_text(f"k2:{NEW}\nk1:{OLD}\n")
    settings = load_settings(subject_hash_keys_file=ring_file, service="targeting")
    assert settings.subject_key_ring.ids == ("k2", "k1")
    assert settings.subject_hash_key == NEW  # every new reference: the current key
    assert settings.perturbation_secret == OLD  # k1's, as it was first built
    # the legacy setting may stay while it is the ring's k1; another value contradicts the ring
    assert load_settings(subject_hash_key=OLD, subject_hash_keys=f"k2:{NEW},k1:{OLD}").subject_hash_key == NEW
    with pytest.raises(ConfigurationError, match="set one of them") as caught:
        load_settings(subject_hash_key="yet-another-secret-000000", subject_hash_keys=f"k2:{NEW},k1:{OLD}")
    assert "Indonesian" not in str(caught.value) and "atur salah satu" in str(caught.value)
    with pytest.raises(ConfigurationError, match="P3KE_SUBJECT_HASH_KEYS"):
        load_settings(subject_hash_keys_file=ring_file, subject_hash_keys=f"k3:{NEW}")


def test_retiring_k1_needs_the_perturbation_key_in_targeting_only() -> None:
    with pytest.raises(ConfigurationError, match="P3KE_PERTURBATION_KEY") as caught:
        load_settings(subject_hash_keys=f"k2:{NEW}", service="targeting")
    assert " / " in str(caught.value) and NEW not in str(caught.value)
    kept = load_settings(subject_hash_keys=f"k2:{NEW}", perturbation_key=OLD, service="targeting")
    assert kept.perturbation_secret == OLD
    assert load_settings(subject_hash_keys=f"k2:{NEW}", service="audit").subject_key_ring.ids == ("k2",)


def test_the_pairs_file_round_trips_and_names_a_bad_line() -> None:
    out = io.StringIO()
    ring = parse_key_ring(f"k2:{NEW},k1:{OLD}")
    assert write_pairs(out, ring.pairs([NIK, NIK], "k1"), PairsHeader("k1", "k2")) == 1
    assert NIK not in out.getvalue()
    header, pairs = read_pairs(io.StringIO(out.getvalue()))
    assert header == PairsHeader("k1", "k2") and list(pairs) == [(subject_ref(OLD, NIK), subject_ref(NEW, NIK))]
    with pytest.raises(KeyRingError, match="the first line"):
        read_pairs(io.StringIO("pairs\n"))
    _, pairs = read_pairs(io.StringIO(f"p3ke-subject-ref-pairs v1 k1 k2\n{'a' * 64} {NIK}\n"))
    with pytest.raises(KeyRingError, match="line 2") as caught:
        list(pairs)
    assert NIK not in str(caught.value)
    with pytest.raises(KeyRingError, match="the same"):
        list(ring.pairs([NIK], "k2", "k2"))


def test_data_access_names_its_key_and_an_event_without_it_stays_valid() -> None:
    fields = {"service": "delivery", "actor": Actor(org="kemnaker", subject="u"), "action": "download",
              "resource_type": "package", "resource_id": "ho-1", "outcome": "allowed", "at": datetime.now(UTC)}
    named = access_event(**fields, subject_hash_key=NEW, subject_niks=[NIK], subject_key_id="k2")
    assert named.subject_key_id == "k2" and named.subject_refs == [subject_ref(NEW, NIK)]
    assert access_event(**fields).subject_key_id is None  # no subjects, no key
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.data-access.v1.json").read_text())
    jsonschema.validate(named.model_dump(mode="json"), schema)
    old = {k: v for k, v in named.model_dump(mode="json").items() if k != "subject_key_id"}  # before key ids
    jsonschema.validate(old, schema)
    assert DataAccess.model_validate(old).subject_key_id is None  # read as k1 by the audit log
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**old, "subject_key_id": "K 2"}, schema)


def test_subject_refs_in_bulk_equal_hmac_sha256_by_an_independent_library() -> None:
    """`subject_refs` computes RFC 2104 itself from precomputed states: it must give, for every key length (shorter
    than a block, exactly one, longer: hashed first), the HMAC-SHA256 of the `cryptography` package and `subject_ref`,
    NIKs stripped as `subject_ref` strips them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    def independent(key: str, nik: str) -> str:
        mac = HMAC(key.encode(), hashes.SHA256())
        mac.update(nik.strip().encode())
        return mac.finalize().hex()

    niks = ["3201014101900001", " 3273020202020002\n", "1101010101010003"]
    for key in (NEW, "k" * 64, "a-key-longer-than-one-sha256-block-" + "x" * 40):
        assert subject_refs(key, niks) == [independent(key, n) for n in niks] == [subject_ref(key, n) for n in niks]
    assert subject_refs(NEW, []) == []
