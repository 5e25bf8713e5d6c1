"""A batch's signatures checked by helper processes give exactly what the worker's own check gives: the same
verified signatures, the same refusals, in order; a helper that dies is replaced and its share checked here."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

from p3ke_platform.event_keys import dev_signer
from p3ke_platform.messaging import signature_pool
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


def test_the_helpers_check_every_signature_of_a_large_batch_and_the_worker_none(monkeypatch: Any) -> None:
    """The worker's own interpreter is what limits it when it is behind: a large batch is checked in the helpers only
    (`check_all` in this process is never called), and a small one here only (no helper started)."""
    here: list[int] = []

    def counted(messages: Any, public_key_for: Any) -> Any:
        here.append(len(messages))
        return check_all(messages, public_key_for)

    monkeypatch.setattr(signature_pool, "check_all", counted)
    pool = SignaturePool(KEYS, processes=1, min_batch=64)
    try:
        assert len(asyncio.run(pool.check(_batch(200)))) == 200
        assert here == [] and pool._pool is not None
        small = SignaturePool(KEYS, processes=1, min_batch=64)
        assert len(asyncio.run(small.check(_batch(10)))) == 10
        assert here == [10] and small._pool is None
    finally:
        pool.close()


def test_a_large_batch_is_with_the_helpers_when_start_returns() -> None:
    """`start` hands a large batch over at once: the helpers check it while the worker goes on with its own work (it
    parses the envelopes) before it awaits the answer. Seen from the helpers' CPU time while this thread, which runs the
    event loop, is kept busy elsewhere."""
    batch = _batch(2000)  # about 0.2 s of CPU to check
    pool = SignaturePool(KEYS, processes=1, min_batch=64)

    async def scenario() -> tuple[float, list[Any]]:
        await pool.check(_batch(64))  # the helper started and warm
        assert pool._pool is not None
        helpers = list(pool._pool._processes)
        before = sum(_cpu_seconds(pid) for pid in helpers)
        answer = pool.start(batch)
        time.sleep(3.0)  # the event loop does not turn: nothing is handed over from here on
        during = sum(_cpu_seconds(pid) for pid in helpers) - before
        return during, await answer

    try:
        during, checked = asyncio.run(scenario())
    finally:
        pool.close()
    assert during > 0.05, f"the helper used {during:.3f} s of CPU before the answer was awaited"
    assert [_outcome(x) for x in checked] == [_outcome(x) for x in check_all(batch, KEYS.get)]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        again = asyncio.run(pool.check(batch))  # the pool may learn of the death before or after taking work
        assert [_outcome(x) for x in again] == [_outcome(x) for x in check_all(batch, KEYS.get)]
        asyncio.run(pool.check(batch))  # a live pool again
        assert pool._pool is not None
        for pid in list(pool._pool._processes):  # killed, and time for the pool to notice: it refuses new work
            os.kill(pid, signal.SIGKILL)
        time.sleep(1.0)
        again = asyncio.run(pool.check(batch))
        assert [_outcome(x) for x in again] == [_outcome(x) for x in check_all(batch, KEYS.get)]
    finally:
        pool.close()


def test_helpers_end_when_their_worker_is_killed() -> None:
    code = ("import asyncio, os, sys, time\n"
            "from tests.unit.test_signature_pool import KEYS, _batch\n"
            "from p3ke_platform.messaging.signature_pool import SignaturePool\n"
            "pool = SignaturePool(KEYS, processes=2, min_batch=64)\n"
            "asyncio.run(pool.check(_batch(130)))\n"
            "print(' '.join(map(str, pool._pool._processes)), flush=True)\n"
            "time.sleep(60)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        helpers = [int(pid) for pid in worker.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(helpers) == 2 and all(_alive(pid) for pid in helpers)
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in helpers)
    finally:
        worker.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] not in "ZX"  # a zombie has ended
    except FileNotFoundError:
        return False
