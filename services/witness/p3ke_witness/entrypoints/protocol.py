"""`POST /add-checkpoint`: the C2SP tlog-witness endpoint a log calls. No bearer token: the spec authenticates
the request by the log's signature on the checkpoint. The body is text (at most 16 KiB); the answers are the
spec's (200 cosignature lines, 409 `text/x.tlog.size`, 400/403/404/422 with a short text for people)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from p3ke_platform.tlog.witness_protocol import MAX_BODY_BYTES, PATH
from p3ke_witness.entrypoints.deps import Ctx
from p3ke_witness.service_layer.add_checkpoint import TEXT, add_checkpoint

router = APIRouter(tags=["tlog-witness"])

_BODY = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}
_ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"description": "the cosignature line(s)", "content": {"text/plain": {}}},
    400: {"description": "malformed, or the old size is above the checkpoint's", "content": {"text/plain": {}}},
    403: {"description": "no valid signature of a trusted key of the log", "content": {"text/plain": {}}},
    404: {"description": "an origin this witness does not witness", "content": {"text/plain": {}}},
    409: {"description": "the size this witness knows (another old size, or a fork)",
          "content": {"text/x.tlog.size": {}}},
    413: {"description": "a body over 16 KiB", "content": {"text/plain": {}}},
    422: {"description": "the consistency proof does not verify (a fork)", "content": {"text/plain": {}}},
}


@router.post(PATH, summary="Cosign a log's checkpoint (C2SP tlog-witness add-checkpoint)", response_class=Response,
             openapi_extra=_BODY, responses=_ANSWERS)
async def add_checkpoint_route(request: Request, ctx: Ctx) -> Response:
    body = await _body(request)
    if body is None:
        return Response(f"permintaan lebih dari {MAX_BODY_BYTES} byte / the request is over {MAX_BODY_BYTES} bytes\n",
                        status_code=413, media_type=TEXT)
    answer = await asyncio.to_thread(add_checkpoint, ctx, body)
    # the content type as given (Starlette would add a charset to text/x.tlog.size, which the spec does not have)
    return Response(answer.body, status_code=answer.status, headers={"content-type": answer.content_type})


async def _body(request: Request) -> bytes | None:
    """The request body, or None when it is over the limit (declared, or counted as it arrives)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
