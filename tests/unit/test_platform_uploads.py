"""p3ke_platform.uploads: a raw request body streamed to disk, and the same refusals in every service, in
Indonesian unless English is asked for (PO domain `platform`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from p3ke_platform.api_errors import install_error_handlers, refusal_exception
from p3ke_platform.refusal import Refused
from p3ke_platform.uploads import receive_file

LIMIT = 1000


def _client(tmp_path: Path) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/up")
    async def up(request: Request) -> dict[str, object]:
        try:
            got = await receive_file(request, tmp_path / "file.part", limit=LIMIT)
        except Refused as refused:
            raise refusal_exception(refused) from None
        return {"size": got.size, "sha256": got.sha256, "stored": got.path.read_bytes().decode()}

    return TestClient(app)


def test_a_body_is_stored_with_its_size_and_digest(tmp_path: Path) -> None:
    body = b"nik;nama\n"
    r = _client(tmp_path).post("/up", content=body, headers={"X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert r.status_code == 200
    assert r.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "stored": body.decode()}


@pytest.mark.parametrize(("body", "headers", "status", "code", "reason"), [
    (b"", {}, 422, "upload.empty", "Unggahan kosong; kirim berkas sebagai isi permintaan"),
    (b"x" * (LIMIT + 1), {}, 413, "upload.too_large",
     "Berkas lebih besar dari 1000 byte; kirim berkas yang lebih kecil"),
    (b"abc", {"X-Content-SHA256": "0" * 64}, 400, "upload.sha256_mismatch",
     "SHA-256 unggahan tidak cocok dengan header X-Content-SHA256"),
    (b"abc", {"Content-Type": "multipart/form-data; boundary=x"}, 415, "upload.multipart", "bukan sebagai formulir"),
])
def test_a_bad_upload_is_refused_with_the_reason_and_leaves_no_file(tmp_path: Path, body: bytes,
                                                                   headers: dict[str, str], status: int, code: str,
                                                                   reason: str) -> None:
    r = _client(tmp_path).post("/up", content=body, headers=headers)
    assert r.status_code == status and reason in r.json()["detail"]
    assert r.json()["code"] == code and r.json()["rule"] == "upload" and r.headers["X-P3KE-Refusal"] == "upload"
    assert not (tmp_path / "file.part").exists()


def test_a_refusal_is_in_english_on_request(tmp_path: Path) -> None:
    r = _client(tmp_path).post("/up", content=b"", headers={"Accept-Language": "en"})
    assert r.status_code == 422 and r.headers["Content-Language"] == "en"
    assert r.json() == {"detail": "the upload is empty: send the file as the request body (curl --data-binary @file)",
                        "code": "upload.empty", "rule": "upload"}


def test_an_oversize_declared_length_is_refused_before_reading(tmp_path: Path) -> None:
    def body() -> object:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover

    r = _client(tmp_path).post("/up", content=body(), headers={"Content-Length": str(LIMIT * 10)})
    assert r.status_code == 413
