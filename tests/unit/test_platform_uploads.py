"""p3ke_platform.uploads: a raw request body streamed to disk, and the same refusals in every service."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from p3ke_platform.refusal import Refused
from p3ke_platform.uploads import receive_file

LIMIT = 1000


def _client(tmp_path: Path) -> TestClient:
    app = FastAPI()

    @app.post("/up")
    async def up(request: Request) -> dict[str, object]:
        try:
            got = await receive_file(request, tmp_path / "file.part", limit=LIMIT)
        except Refused as refused:
            raise HTTPException(refused.status, refused.reason) from None
        return {"size": got.size, "sha256": got.sha256, "stored": got.path.read_bytes().decode()}

    return TestClient(app)


def test_a_body_is_stored_with_its_size_and_digest(tmp_path: Path) -> None:
    body = b"nik;nama\n"
    r = _client(tmp_path).post("/up", content=body, headers={"X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert r.status_code == 200
    assert r.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "stored": body.decode()}


@pytest.mark.parametrize(("body", "headers", "status", "reason"), [
    (b"", {}, 422, "the upload is empty"),
    (b"x" * (LIMIT + 1), {}, 413, "larger than 1,000 bytes"),
    (b"abc", {"X-Content-SHA256": "0" * 64}, 400, "does not match X-Content-SHA256"),
    (b"abc", {"Content-Type": "multipart/form-data; boundary=x"}, 415, "not as a form"),
])
def test_a_bad_upload_is_refused_with_the_reason_and_leaves_no_file(tmp_path: Path, body: bytes,
                                                                   headers: dict[str, str], status: int,
                                                                   reason: str) -> None:
    r = _client(tmp_path).post("/up", content=body, headers=headers)
    assert r.status_code == status and reason in r.json()["detail"]
    assert not (tmp_path / "file.part").exists()


def test_an_oversize_declared_length_is_refused_before_reading(tmp_path: Path) -> None:
    def body() -> object:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover

    r = _client(tmp_path).post("/up", content=body(), headers={"Content-Length": str(LIMIT * 10)})
    assert r.status_code == 413
