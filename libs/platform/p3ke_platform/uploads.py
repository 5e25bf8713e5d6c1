"""A file sent as the raw body of an HTTP request, streamed to disk: never the whole upload in memory.

Every service that takes files (ingest's snapshots, feedback's data balikan) receives them the same way
and refuses the same mistakes with the same reasons (`Refused`, for the service to audit or answer):
a multipart form (415), a body over the limit, declared or counted while it arrives (413), an empty body
(422), a body shorter than its Content-Length or cut off by the client (400), a body whose SHA-256
differs from `X-Content-SHA256` (400), and a ZIP/XLSX over the archive limits (413) or malformed (422),
checked on its central directory before anything decompresses it (`p3ke_platform.tabular.archive_guard`).
A refused upload leaves no file behind. The reasons are messages of the `platform` catalogue (Indonesian unless
English is asked for).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from p3ke_platform.refusal import Refused, messages
from p3ke_platform.tabular.archive_guard import ArchiveLimits, HostileArchive, check_archive, is_zip
from p3ke_platform.tabular.errors import refusal_message

M = messages("platform")  # reasons in the caller's language (PO domain `platform`)


@dataclass(frozen=True)
class Received:
    path: Path
    size: int
    sha256: str


def _check_archive(path: Path, limits: ArchiveLimits) -> None:
    if is_zip(path):
        try:
            check_archive(path, limits, xlsx=True)
        except HostileArchive as exc:
            raise Refused(exc.status, refusal_message(exc), rule=exc.rule) from None


async def receive_file(request: Request, path: Path, *, limit: int,
                       archive: ArchiveLimits | None = None) -> Received:
    """Stream the request body to `path`, hashing it on the way, then check a ZIP/XLSX against `archive`
    (default `ArchiveLimits()`; a service passes `ArchiveLimits.from_settings`); raises Refused (and
    removes `path`)."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise Refused(415, M("upload.multipart"), rule="upload")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, M("upload.too_large", limit=limit), rule="upload")
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, M("upload.too_large", limit=limit), rule="upload")
                digest.update(chunk)
                fh.write(chunk)
        if size == 0:
            raise Refused(422, M("upload.empty"), rule="upload")
        if declared is not None and declared.isdigit() and int(declared) != size:
            raise Refused(400, M("upload.truncated", size=size, declared=int(declared)), rule="upload")
        expected = request.headers.get("x-content-sha256")
        if expected and expected.lower() != digest.hexdigest():
            raise Refused(400, M("upload.sha256_mismatch"), rule="upload")
        await run_in_threadpool(_check_archive, path, archive or ArchiveLimits())
    except ClientDisconnect:
        path.unlink(missing_ok=True)
        raise Refused(400, M("upload.disconnected"), rule="upload") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path=path, size=size, sha256=digest.hexdigest())
