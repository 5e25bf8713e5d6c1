"""`p3ke witness vkey|logs|alarms` on the witness's own configuration and database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p3ke_platform.cli import main
from p3ke_platform.tlog.dev_keys import development_witness_vkey
from tests.unit.witness.support import ORIGIN, SigningLog, witness_app


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SigningLog:
    log = SigningLog().grow(64)
    for name in [k for k in __import__("os").environ if k.startswith("P3KE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("P3KE_ENV", "test")
    monkeypatch.setenv("P3KE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("P3KE_WITNESS_LOGS", json.dumps([log.vkey]))
    return log


def test_vkey_prints_the_cosignature_verifier_key(log: SigningLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["witness", "vkey"]) == 0
    assert capsys.readouterr().out == development_witness_vkey() + "\n"


def test_logs_and_alarms(log: SigningLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = witness_app(tmp_path, [log])
    assert main(["witness", "alarms"]) == 0
    assert "tidak ada alarm / no alarms" in capsys.readouterr().out
    assert app.add(log.request(0)).status_code == 200
    assert app.add(log.rewritten(64).request(64)).status_code == 409  # a fork
    capsys.readouterr()  # the app's own log lines

    assert main(["witness", "logs", "--json"]) == 0
    [state] = json.loads(capsys.readouterr().out)["logs"]
    assert (state["origin"], state["cosigned_size"], state["alarms"]) == (ORIGIN, 64, 1)

    assert main(["witness", "alarms"]) == 3
    out, err = capsys.readouterr()
    assert "FORK p3ke.test/audit" in out and log.note() in out.replace("\n    ", "\n")
    assert "the log forked or rolled back" in err
    assert main(["witness", "alarms", "--json", "--origin", ORIGIN]) == 3
    [alarm] = json.loads(capsys.readouterr().out)["alarms"]
    assert alarm["offered_note"] == log.rewritten(64).note(64)
    assert main(["witness", "alarms", "--origin", "other.example/log"]) == 0


def test_a_bad_configuration_is_exit_2_naming_the_setting(log: SigningLog, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("P3KE_WITNESS_LOGS", "nonsense")
    assert main(["witness", "vkey"]) == 2
    assert "P3KE_WITNESS_LOGS" in capsys.readouterr().err
