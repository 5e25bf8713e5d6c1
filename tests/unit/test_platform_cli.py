"""`p3ke platform request` and `p3ke events verify|dead-letters`: a ministry platform builds, signs and publishes an
extract request; a message is checked as a consumer would; a dead-letter topic is read (no broker: the Kafka
client is replaced at the module's seams)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from p3ke_platform import platform_cli
from p3ke_platform.cli import build_parser, main
from p3ke_platform.event_keys import KeyRing, dev_keys, write_dev_platform_keys
from p3ke_schemas import from_kafka, verify_event
from p3ke_schemas.generate import CONTRACT_DIR

JUSTIFICATION = "Pelatihan berbasis kompetensi 2026, angkatan 1"
RING = KeyRing(dev_keys())


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name in ("P3KE_AGREEMENT_DIR", "P3KE_ENV", "P3KE_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    return write_dev_platform_keys(tmp_path / "dev-keys")


def _request_args(key: Path, kid: str, *extra: str) -> list[str]:
    return ["platform", "request", "--request-id", "demo-platform-1", "--program", "pelatihan_berbasis_kompetensi",
            "--deciles", "1,2", "--regions", "32,3273", "--quota", "100", "--fields", "nik,nama,pendidikan",
            "--justification", JUSTIFICATION, "--purpose", "seleksi_calon_peserta",
            "--requested-by", "kemnaker-platform", "--service-account",
            "--recipient", "dev-p2-program-officer", "--key", str(key), "--kid", kid, *extra]


def _read(path: Path) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    doc = json.loads(path.read_text())
    return doc["key"].encode(), json.dumps(doc["payload"]).encode(), [(k, v.encode()) for k, v in
                                                                      doc["headers"].items()]


def test_both_commands_are_registered() -> None:
    parser = build_parser()
    assert parser.parse_args(["platform", "request", "--key", "k.pem"]).platform_action == "request"
    assert parser.parse_args(["events", "verify", "m.json"]).events_action == "verify"
    assert parser.parse_args(["events", "dead-letters", "extract-requested"]).events_action == "dead-letters"


def test_a_request_from_options_is_signed_for_the_platform_account(keys: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "message.json"
    before = datetime.now(UTC)
    assert main(_request_args(keys["party-2 platform"], "dev-party-2-platform", "--out", str(out))) == 0
    key, value, headers = _read(out)
    event = verify_event(key, value, headers, RING.public_key)
    data = event.data
    assert key == b"demo-platform-1" and json.loads(out.read_text())["topic"] == "p3ke.extract-requested.v1"
    assert event.signature is not None and event.signature.kid == "dev-party-2-platform"
    assert (event.authtype, event.authid) == ("service_account", "kemnaker-platform")
    assert event.source == "urn:kemnaker:pusdatik:platform"
    assert data.agreement_id == "pks-p3ke-2023"  # the configured (bundled) agreement's id
    assert data.criteria.deciles == [1, 2] and data.criteria.region_codes == ["32", "3273"]
    assert data.fields == ["nik", "nama", "pendidikan"] and data.quota == 100
    assert data.requested_by.roles == ["program-officer"] and data.requested_by.service_account
    assert data.recipient is not None and data.recipient.subject == "dev-p2-program-officer"
    assert not data.recipient.service_account
    assert before <= data.requested_at <= datetime.now(UTC) and before <= event.time <= datetime.now(UTC)
    shown = capsys.readouterr().out
    assert "  request_id demo-platform-1" in shown and f"  ce_id      {event.id}" in shown
    assert JUSTIFICATION not in shown


def test_a_request_file_is_completed_and_the_options_override_it(keys: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "permintaan.json"
    body.write_text(json.dumps({
        "program": "padat_karya", "quota": 50, "fields": ["nik"], "justification": "Padat karya desa 2026",
        "purpose": "seleksi_calon_peserta",
        "criteria": {"deciles": [1]}, "requested_at": "2020-01-01T00:00:00+00:00",
        "requested_by": {"org": "kemnaker", "subject": "dev-p2-program-officer", "roles": ["program-officer"]}}))
    out = tmp_path / "message.json"
    code = main(["platform", "request", str(body), "--quota", "40", "--key", str(keys["party-2 platform"]),
                 "--kid", "dev-party-2-platform", "--out", str(out), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    event = verify_event(*_read(out), RING.public_key)
    assert event.data.quota == 40 and event.data.criteria.deciles == [1]
    assert result["request_id"] == event.data.request_id and event.data.request_id.startswith("req-")
    assert result["ce_id"] == event.id and result["kid"] == "dev-party-2-platform" and result["alg"] == "EdDSA"
    assert datetime.now(UTC) - event.data.requested_at < timedelta(minutes=1), "requested_at is the time it is sent"
    assert (event.authtype, event.authid) == ("user", "dev-p2-program-officer")


def test_without_a_kid_the_key_is_named_by_its_thumbprint(keys: dict[str, Path], tmp_path: Path) -> None:
    from p3ke_schemas.signing import load_private_key, thumbprint

    out = tmp_path / "message.json"
    args = _request_args(keys["party-2 platform"], "x", "--out", str(out))
    args.remove("--kid")
    args.remove("x")
    assert main(args) == 0
    _, _, headers = _read(out)
    private = load_private_key(keys["party-2 platform"].read_bytes())
    protected = dict(headers)["ce_signature"].decode().split("..")[0]
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    assert header["kid"] == thumbprint(private.public_key())


@pytest.mark.parametrize(("change", "message"), [
    (["--justification", "short"], "justification: String should have at least 10 characters"),
    (["--quota", "0"], "quota: Input should be greater than 0"),
    (["--deciles", "7"], "criteria.deciles.0: Input should be less than or equal to 4"),
    (["--justification", "Padat karya 2026 untuk NIK 3201 0101 0101 0001"], "justification memuat angka mirip NIK"),
    (["--justification", "Padat karya titipan Bapak Budi Santoso"], "justification tampaknya memuat nama orang"),
    (["--justification", "Padat karya desa 2026 " * 13], "justification terlalu panjang: 286 karakter"),
])
def test_an_invalid_request_is_refused_naming_the_field(keys: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str], change: list[str],
                                                        message: str) -> None:
    assert main([*_request_args(keys["party-2 platform"], "dev-party-2-platform", "--out",
                                str(tmp_path / "m.json")), *change]) == 2
    err = capsys.readouterr().err
    assert message in err and "short" not in err.replace("String should", "").replace("a short note", "")
    assert "3201" not in err and "Budi" not in err  # the refused text is never echoed
    assert not (tmp_path / "m.json").exists()


def test_a_request_needs_a_purpose_code(keys: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = _request_args(keys["party-2 platform"], "dev-party-2-platform", "--out", str(tmp_path / "m.json"))
    at = args.index("--purpose")
    del args[at:at + 2]
    assert main(args) == 2
    assert "untuk tujuan apa? --purpose KODE" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_no_requester_and_a_bad_key_file_are_usage_errors(keys: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = _request_args(keys["party-2 platform"], "k", "--out", str(tmp_path / "m.json"))
    at = args.index("--requested-by")
    del args[at:at + 2]
    assert main(args) == 2
    assert "--requested-by" in capsys.readouterr().err
    (tmp_path / "bad.pem").write_text("not a key")
    assert main(_request_args(tmp_path / "bad.pem", "k", "--out", str(tmp_path / "m.json"))) == 2
    assert "--key" in capsys.readouterr().err
    assert main(_request_args(tmp_path / "missing.pem", "k")) == 2
    assert "berkas tidak ada" in capsys.readouterr().err  # Bahasa Indonesia unless English is asked for
    assert main(["--lang", "en", *_request_args(tmp_path / "missing.pem", "k")]) == 2
    assert "no such file" in capsys.readouterr().err


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
        self.closed = False

    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self.sent.append((topic, key, value, headers))
        return SimpleNamespace(get=lambda timeout: SimpleNamespace(partition=4, offset=17))

    def close(self, timeout: float) -> None:
        self.closed = True


def test_a_request_is_published_to_the_topic_keyed_by_its_id(keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    producer = _Producer()
    used: list[str] = []

    def make(settings: Any) -> _Producer:
        used.append(settings.kafka_bootstrap)
        return producer

    monkeypatch.setattr(platform_cli, "_producer", make)
    assert main(_request_args(keys["party-2 platform"], "dev-party-2-platform", "--bootstrap", "127.0.0.1:19092",
                              "--json")) == 0
    [(topic, key, value, headers)] = producer.sent
    assert used == ["127.0.0.1:19092"] and producer.closed
    assert topic == "p3ke.extract-requested.v1" and key == b"demo-platform-1"
    event = verify_event(key, value, headers, RING.public_key)
    result = json.loads(capsys.readouterr().out)
    assert result == {"topic": topic, "request_id": "demo-platform-1", "ce_id": event.id,
                      "kid": "dev-party-2-platform", "alg": "EdDSA", "partition": 4, "offset": 17}


def test_a_failed_publication_is_one_line(keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    class Broken(_Producer):
        def send(self, topic: str, **_: Any) -> Any:
            raise RuntimeError("KafkaTimeoutError: failed to update metadata")

    monkeypatch.setattr(platform_cli, "_producer", lambda settings: Broken())
    assert main(_request_args(keys["party-2 platform"], "dev-party-2-platform")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tidak dapat menerbitkan ke p3ke.extract-requested.v1" in err


def test_verify_accepts_a_platform_request_and_refuses_a_forged_one(keys: dict[str, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    good, forged = tmp_path / "good.json", tmp_path / "forged.json"
    assert main(_request_args(keys["party-2 platform"], "dev-party-2-platform", "--out", str(good))) == 0
    assert main(_request_args(keys["party-1 platform"], "dev-party-1-platform", "--out", str(forged))) == 0
    capsys.readouterr()
    assert main(["events", "verify", str(good)]) == 0
    assert capsys.readouterr().out.startswith("terverifikasi: p3ke.extract-requested.v1 ")
    assert main(["events", "verify", str(good), "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("verified: p3ke.extract-requested.v1 ")
    assert main(["events", "verify", str(forged), "--json"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert result["accepted"] is False and result["kind"] == "principal"
    assert "may vouch only for people of kemenkopmk, not for an account of kemnaker" in result["reason"]
    late = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert main(["events", "verify", str(good), "--received-at", late, "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["kind"] == "time"
    doc = json.loads(good.read_text())
    doc["payload"]["quota"] = 10_000
    good.write_text(json.dumps(doc))
    assert main(["events", "verify", str(good), "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["kind"] == "bad-signature"


def test_verify_reads_the_contracts_examples(keys: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((CONTRACT_DIR / "asyncapi.json").read_text())
    example = doc["components"]["messages"]["HandoverSigned"]["examples"][0]
    path = tmp_path / "example.json"
    path.write_text(json.dumps(example))  # no key: the aggregate id
    assert main(["--lang=en", "events", "verify", str(path)]) == 0
    assert "signed by delivery's key dev-delivery (EdDSA), vouching for system delivery" in capsys.readouterr().out
    path.write_text(json.dumps({"payload": {}}))
    assert main(["events", "verify", str(path)]) == 2


def _dead(key: str, consumer: str, reason: str, offset: int) -> SimpleNamespace:
    headers = [("ce_id", b"e-1"), ("ce_type", b"p3ke.extract-requested.v1"),
               ("p3ke_dlq_consumer", consumer.encode()), ("p3ke_dlq_reason", reason.encode()),
               ("p3ke_dlq_failed_at", b"2026-03-02T04:00:00+00:00")]
    return SimpleNamespace(key=key.encode(), headers=headers, partition=0, offset=offset)


def test_dead_letters_lists_the_reasons_for_a_key(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    read: list[str] = []
    messages = [_dead("demo-forged-1", "p3ke-targeting", "origin not proven (principal): not theirs", 0),
                _dead("demo-forged-1", "p3ke-audit", "origin not proven (principal): not theirs", 1),
                _dead("other", "p3ke-targeting", "value is not JSON", 2)]

    def fake(settings: Any, topic: str) -> list[SimpleNamespace]:
        read.append(topic)
        return messages

    monkeypatch.setattr(platform_cli, "_messages", fake)
    assert main(["events", "dead-letters", "extract-requested", "--key", "demo-forged-1", "--consumer",
                 "p3ke-targeting", "--wait", "0"]) == 0
    assert capsys.readouterr().out == "p3ke-targeting: origin not proven (principal): not theirs\n"
    assert read == ["p3ke.extract-requested.v1.dlq"]
    assert main(["events", "dead-letters", "p3ke.extract-requested.v1.dlq", "--key", "demo-forged-1", "--wait", "0",
                 "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["dead_letters"]
    assert [d["consumer"] for d in found] == ["p3ke-targeting", "p3ke-audit"] and found[0]["ce_id"] == "e-1"
    assert main(["events", "dead-letters", "extract-requested", "--key", "nothing", "--wait", "0"]) == 3
    assert "tidak ada dead letter di p3ke.extract-requested.v1.dlq dengan kunci nothing" in capsys.readouterr().err
    assert main(["events", "dead-letters", "extract-requested", "--key", "nothing", "--wait", "0", "--lang", "en"]) == 3
    assert "no dead letter on p3ke.extract-requested.v1.dlq with key nothing" in capsys.readouterr().err
    assert main(["events", "dead-letters", "no-such-event", "--wait", "0"]) == 2


def test_the_dev_env_names_kafka_and_the_platform_keys(tmp_path: Path) -> None:
    from p3ke_platform.devstack.seed import write_dev_env, write_dev_keys

    written = write_dev_keys(tmp_path / "dev-keys")
    values = write_dev_env(tmp_path / "dev.env", tmp_path / "services", {"targeting": {"api": "http://t"}},
                           kafka_bootstrap="127.0.0.1:19092", platform_keys=written)
    text = (tmp_path / "dev.env").read_text()
    assert "export P3KE_KAFKA_BOOTSTRAP=127.0.0.1:19092" in text
    assert values["P2_PLATFORM_KEY"] == str(tmp_path / "dev-keys" / "dev-party-2-platform.pem")
    assert values["P2_PLATFORM_KID"] == "dev-party-2-platform" and values["P1_PLATFORM_KID"] == "dev-party-1-platform"
    assert f"export P1_PLATFORM_KEY={tmp_path / 'dev-keys' / 'dev-party-1-platform.pem'}" in text
    key, value, headers = _signed_with(Path(values["P2_PLATFORM_KEY"]), values["P2_PLATFORM_KID"])
    assert from_kafka(key, value, headers).authid == "kemnaker-platform"
    verify_event(key, value, headers, RING.public_key)


def _signed_with(key_file: Path, kid: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    from p3ke_schemas import Actor, CloudEvent, ExtractCriteria, ExtractRequested, sign_event

    data = ExtractRequested(request_id="r-1", agreement_id="pks-p3ke-2023", program="padat_karya",
                            criteria=ExtractCriteria(), quota=1, fields=["nik"], justification=JUSTIFICATION,
                            requested_by=Actor(org="kemnaker", subject="kemnaker-platform",
                                               roles=["program-officer"], service_account=True),
                            requested_at=datetime.now(UTC))
    return sign_event(CloudEvent.of(data, source="urn:test"), platform_cli.load_signer(key_file, kid))
