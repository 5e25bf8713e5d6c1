"""The log's witnesses as configuration: a JSON list or a file of `<vkey> <url>` lines, every key checked at
start-up, a quorum that fits, and production refusing to run unwitnessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.config import AuditSettings
from p3ke_platform.settings import ConfigurationError, load_settings
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.dev_keys import development_witness_vkey
from tests.unit.audit.test_config import _safe


def vkey(name: str) -> str:
    return Witness(name, Ed25519PrivateKey.generate().public_key()).vkey


def test_witnesses_from_json_and_the_default_quorum() -> None:
    none = load_settings(AuditSettings, env="test")
    assert none.audit_witnesses == () and none.witness_quorum == 0
    a, b = vkey("kemnaker.go.id/witness"), vkey("inspektorat.go.id/witness")
    s = load_settings(AuditSettings, env="test", audit_witnesses=json.dumps(
        [{"vkey": a, "url": "https://w.kemnaker.go.id/p3ke/"}, {"vkey": b, "url": "http://10.0.0.7:8106"}]))
    assert [(w.name, w.url) for w in s.audit_witnesses] == [
        ("kemnaker.go.id/witness", "https://w.kemnaker.go.id/p3ke"), ("inspektorat.go.id/witness", "http://10.0.0.7:8106")]
    assert s.audit_witnesses[0].witness == Witness.parse(a) and s.witness_quorum == 1
    assert load_settings(AuditSettings, env="test", audit_witnesses=s.audit_witnesses,
                         audit_witness_quorum=2).witness_quorum == 2


def test_the_environment_variable_is_json(monkeypatch: pytest.MonkeyPatch) -> None:
    a = vkey("w1")
    monkeypatch.setenv("P3KE_AUDIT_WITNESSES", json.dumps([{"vkey": a, "url": "http://127.0.0.1:9"}]))
    assert load_settings(AuditSettings).audit_witnesses[0].vkey == a
    monkeypatch.setenv("P3KE_AUDIT_WITNESSES", '[{"vkey": ')
    with pytest.raises(ConfigurationError, match="P3KE_AUDIT_WITNESSES: Value error, bukan JSON yang sah"):
        load_settings(AuditSettings)


def test_a_witnesses_file_with_comments(tmp_path: Path) -> None:
    a, b = vkey("w1"), vkey("w2")
    path = tmp_path / "witnesses"
    path.write_text(f"# party 2\n{a} https://w1.example/p3ke   # the ministry's\n\n  {b}\thttp://w2:8106\n")
    s = load_settings(AuditSettings, env="test", audit_witnesses_file=path)
    assert [w.vkey for w in s.audit_witnesses] == [a, b] and s.audit_witnesses[1].url == "http://w2:8106"


@pytest.mark.parametrize(("line", "named"), [
    ("w1+00000000+AAAA https://w.example", "baris 2 (line 2): kunci saksi tidak sah"),
    ("{good} ftp://w.example", "baris 2 (line 2): alamat saksi 'ftp://w.example' tidak sah"),
    ("{good}", "baris 2 (line 2): harus berisi '<vkey> <url>'"),
    ("{log} https://w.example", "a witness key is a cosignature/v1 Ed25519 key"),  # the log's own kind of key
])
def test_a_bad_line_stops_start_up_naming_it(tmp_path: Path, line: str, named: str) -> None:
    from p3ke_platform.tlog.note import verifier_key

    good = vkey("w1")
    log = verifier_key("p3ke.local/audit", Ed25519PrivateKey.generate().public_key())
    path = tmp_path / "witnesses"
    path.write_text("# first\n" + line.format(good=good, log=log) + "\n")
    with pytest.raises(ConfigurationError) as failure:
        load_settings(AuditSettings, env="test", audit_witnesses_file=path)
    assert "P3KE_AUDIT_WITNESSES_FILE" in str(failure.value) and named in str(failure.value)


def test_bad_json_entries_name_the_setting(tmp_path: Path) -> None:
    for bad in ([{"vkey": "nonsense", "url": "http://w"}], [{"vkey": vkey("w"), "url": "w.example"}],
                [{"vkey": vkey("w"), "url": "http://w", "extra": 1}]):
        with pytest.raises(ConfigurationError, match="P3KE_AUDIT_WITNESSES"):
            load_settings(AuditSettings, env="test", audit_witnesses=json.dumps(bad))
    with pytest.raises(ConfigurationError, match="tidak dapat dibaca"):
        load_settings(AuditSettings, env="test", audit_witnesses_file=tmp_path / "absent")
    (tmp_path / "w").write_text(f"{vkey('w')} http://w\n")
    with pytest.raises(ConfigurationError, match="salah satu saja"):
        load_settings(AuditSettings, env="test", audit_witnesses_file=tmp_path / "w",
                      audit_witnesses=json.dumps([{"vkey": vkey("x"), "url": "http://x"}]))


def test_the_quorum_fits_the_witnesses() -> None:
    one = json.dumps([{"vkey": vkey("w1"), "url": "http://w1"}])
    with pytest.raises(ConfigurationError, match="P3KE_AUDIT_WITNESS_QUORUM: kuorum 2 melebihi jumlah saksi"):
        load_settings(AuditSettings, env="test", audit_witnesses=one, audit_witness_quorum=2)
    with pytest.raises(ConfigurationError, match="kuorum 1 melebihi"):
        load_settings(AuditSettings, env="test", audit_witness_quorum=1)
    twice = json.loads(one) * 2
    with pytest.raises(ConfigurationError, match="tercantum dua kali"):
        load_settings(AuditSettings, env="test", audit_witnesses=json.dumps(twice))
    assert load_settings(AuditSettings, env="test", audit_witnesses=one, audit_witness_quorum=0).witness_quorum == 0


def test_production_needs_a_real_witness_and_a_quorum(tmp_path: Path) -> None:
    own = {"audit_checkpoint_key_file": tmp_path / "k.pem", "audit_origin": "kemenkopmk.go.id/p3ke/audit",
           "service": "audit", **_safe(tmp_path)}
    with pytest.raises(ConfigurationError, match=r"P3KE_AUDIT_WITNESSES\(_FILE\): produksi memerlukan"):
        load_settings(AuditSettings, **own)
    real = json.dumps([{"vkey": vkey("kemnaker.go.id/p3ke/witness"), "url": "https://w.kemnaker.go.id"}])
    with pytest.raises(ConfigurationError, match="kuorum 0 tidak boleh di produksi"):
        load_settings(AuditSettings, audit_witnesses=real, audit_witness_quorum=0, **own)
    dev = json.dumps([{"vkey": development_witness_vkey(), "url": "https://w.kemnaker.go.id"}])
    with pytest.raises(ConfigurationError, match="kunci saksi pengembangan"):
        load_settings(AuditSettings, audit_witnesses=dev, **own)
    assert load_settings(AuditSettings, audit_witnesses=real, **own).witness_quorum == 1
