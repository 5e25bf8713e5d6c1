"""`p3ke bast dev-ca|sign --json`: one JSON document on stdout; errors as an error document, exit 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from p3ke_delivery.adapters.bast_pdf import render
from p3ke_platform.cli import main
from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2


def test_dev_ca_and_sign_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "ca"
    assert main(["bast", "dev-ca", "--out", str(ca), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["development_only"] is True and written["ca"] == str(ca / "ca.pem")
    assert written["mapping"] == str(ca / "signatory-certificates.yaml")
    assert {SIG_1, SIG_2} <= set(written["signatories"])
    for files in written["signatories"].values():
        assert all(Path(files[k]).is_file() for k in ("key", "cert", "pkcs12"))
    assert written["environment"]["P3KE_DELIVERY_TRUST_ANCHORS"] == written["ca"]

    assert main(["bast", "dev-ca", "--out", str(ca), "--json"]) == 2  # will not overwrite silently
    captured = capsys.readouterr()
    assert "--force" in captured.err and json.loads(captured.out)["error"]["exit_code"] == 2

    bast = tmp_path / "bast.pdf"
    bast.write_bytes(render(CONTENT))
    signer = written["signatories"][SIG_1]
    assert main(["bast", "sign", str(bast), "--party", "1", "--key", signer["key"], "--cert", signer["cert"],
                 "--json"]) == 0
    signed = json.loads(capsys.readouterr().out)
    out = tmp_path / "bast-ttd-pihak-1.pdf"
    assert signed == {"output": str(out), "party": 1, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
                      "bytes": out.stat().st_size, "input": str(bast)}

    assert main(["bast", "sign", str(out), "--party", "1", "--key", signer["key"], "--cert", signer["cert"],
                 "--json"]) == 2
    captured = capsys.readouterr()
    assert "already signed" in json.loads(captured.out)["error"]["message"]
    assert captured.err.startswith("p3ke bast sign: ")


def test_human_output_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bast", "dev-ca", "--out", str(tmp_path / "ca")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("DEVELOPMENT ONLY") and "development CA: " in out and "mapping: " in out
    assert "P3KE_DELIVERY_TRUST_ANCHORS=" in out
