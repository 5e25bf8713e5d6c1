"""A batch's signatures checked by helper processes give exactly what the worker's own check gives: the same
verified signatures, the same refusals, in order; a helper that dies is replaced and its share checked here."""

from __future__ import annotations

import asyncio
import os
import signal

from p3ke_platform.event_keys import dev_signer
from p3ke_platform.messaging.signature_pool import SignaturePool, check_all
from p3ke_schemas.signing import Signature, SignatureError, sign_headers

SIGNER = dev_signer("ingest")
KEYS = {SIGNER.kid: SIGNER.public_key()}


def _batch(n: int) -> list[tuple[list[tuple[str, bytes]], bytes]]:
    out = []
    for i in range(n):
        value = b'{"n": %d}' % i
        headers = sign_headers(SIGNER, [("ce_id", f"e-{i}".encode()), ("ce_type", b"t")], value)
        if i % 7 == 3:
            value = b'{"n": -1}'  # changed after signing
        if i % 11 == 5:
            headers = [h for h in headers if h[0] != "ce_signature"]  # not signed
        out.append((headers, value))
    return out


def _outcome(item: Signature | SignatureError) -> str:
    return f"ok {item.kid} {item.payload!r}" if isinstance(item, Signature) else f"refused {item}"


def test_helpers_check_a_batch_like_the_worker() -> None:
    batch = _batch(200)
    pool = SignaturePool(KEYS, processes=2, min_batch=64)
    try:
        pooled = asyncio.run(pool.check(batch))
        assert pool._pool is not None  # the helpers did take part
    finally:
        pool.close()
    inline = check_all(batch, KEYS.get)
    assert [_outcome(x) for x in pooled] == [_outcome(x) for x in inline]
    assert sum(isinstance(x, SignatureError) for x in pooled) == len([i for i in range(200)
                                                                      if i % 7 == 3 or i % 11 == 5])
    assert "not signed" in str(pooled[5]) and "does not match" in str(pooled[3])


def test_small_batches_never_start_helpers() -> None:
    pool = SignaturePool(KEYS, processes=2, min_batch=64)
    assert [_outcome(x) for x in asyncio.run(pool.check(_batch(10)))] == [
        _outcome(x) for x in check_all(_batch(10), KEYS.get)]
    assert pool._pool is None


def test_a_dead_helper_is_replaced_and_nothing_is_lost() -> None:
    batch = _batch(130)
    pool = SignaturePool(KEYS, processes=1, min_batch=64)
    try:
        asyncio.run(pool.check(batch))
        assert pool._pool is not None
        for pid in list(pool._pool._processes):  # kill the helper between batches
            os.kill(pid, signal.SIGKILL)
        again = asyncio.run(pool.check(batch))
        assert [_outcome(x) for x in again] == [_outcome(x) for x in check_all(batch, KEYS.get)]
    finally:
        pool.close()
