"""The envelope file format against an independent implementation, both ways: tests/interop/envelope is a small Go
program using only Go's standard library (crypto/hkdf, crypto/aes, crypto/cipher's GCM). What Python encrypts, Go
decrypts; what Go encrypts, Python decrypts; and each refuses the other's tampered output. A build failure is a
failed test, never a skip."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from p3ke_platform.envelope import HEADER_BYTES, DataKey, EnvelopeError, encrypt_file, open_decrypted
from tests.integration.helpers.go_interop import BIN, go_environment

MODULE = Path(__file__).resolve().parents[1] / "interop" / "envelope"
SEG = 4096
AAD = b"p3ke-delivery/package/ho-7/P3KE_pkh.zip"


@functools.cache
def go_envelope() -> Path:
    go = shutil.which("go")
    assert go, "go is not installed: the envelope interop test needs Go >= 1.24 (crypto/hkdf; https://go.dev/dl/)"
    BIN.mkdir(parents=True, exist_ok=True)
    out = BIN / "p3ke-envelope"
    done = subprocess.run([go, "build", "-o", str(out), "."], cwd=MODULE, env=go_environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"go build in {MODULE} failed:\n{done.stderr[-4000:]}"
    return out


def go(action: str, key: DataKey, data: bytes, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(go_envelope()), action, key.secret.hex(), AAD.hex(), *extra], input=data,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("size", [0, 1, SEG, 3 * SEG + 5])
def test_go_decrypts_what_python_encrypts(tmp_path: Path, size: int) -> None:
    key = DataKey("k", "handover", "ho-7", secrets.token_bytes(32))
    plain = os.urandom(size)
    (tmp_path / "plain").write_bytes(plain)
    encrypt_file(tmp_path / "plain", tmp_path / "enc", key, AAD, segment_size=SEG)
    opened = go("decrypt", key, (tmp_path / "enc").read_bytes())
    assert opened.returncode == 0, opened.stderr.decode()
    assert opened.stdout == plain
    tampered = bytearray((tmp_path / "enc").read_bytes())
    tampered[HEADER_BYTES] ^= 1
    refused = go("decrypt", key, bytes(tampered))
    assert refused.returncode == 1 and b"segment 0" in refused.stderr
    wrong = go("decrypt", DataKey("k", "handover", "ho-7", secrets.token_bytes(32)), (tmp_path / "enc").read_bytes())
    assert wrong.returncode == 1


@pytest.mark.parametrize("size", [0, 7, SEG, 2 * SEG + 1])
def test_python_decrypts_what_go_encrypts(tmp_path: Path, size: int) -> None:
    key = DataKey("k", "handover", "ho-7", secrets.token_bytes(32))
    plain = os.urandom(size)
    sealed = go("encrypt", key, plain, str(SEG))
    assert sealed.returncode == 0, sealed.stderr.decode()
    path = tmp_path / "from-go.enc"
    path.write_bytes(sealed.stdout)
    with open_decrypted(path, key, AAD) as stream:
        assert stream.read() == plain
    path.write_bytes(sealed.stdout[:-1])  # Go's file, its last byte gone
    with pytest.raises(EnvelopeError), open_decrypted(path, key, AAD) as stream:
        stream.read()
