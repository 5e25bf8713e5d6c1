"""Checking a batch's event signatures in other processes.

An Ed25519 verification (with the JCS bytes it covers) is the largest single cost of a worker per event (about 50 µs
with libsodium, see `p3ke_schemas.sodium`, and about 30 µs more to build those bytes), and building the bytes holds
the GIL: threads do not help. A batch of at least `min_batch` messages is split between `processes` spawned helper
processes, and the worker checks none of it: its own interpreter is what limits a worker that is behind (it parses
the envelopes, checks the origins and applies the previous batch meanwhile), while a helper's CPU is otherwise idle.
Measured with `bench audit` at 3·10^4 entries, one helper, interleaved (3 pairs): 3,913-4,251 entries/s with the
helper checking every signature against 3,311-3,795/s with the worker checking half, and 6.4-6.8 s of the worker's
CPU against 8.2-9.1 s. Smaller batches (a trickle of single events) are checked in the worker alone: no round trip
added to their latency. `start` hands a batch over at once, so the worker parses the batch's envelopes while the
helpers check it (`bench audit` at 3·10^4 entries, 2 interleaved pairs: a batch's checks took 138-141 ms at the median
against 147 ms when the parsing waited for the signatures).

The helpers know the public keys only (sent once, as JWKs, when they start); they return each message's verified
`Signature` or its `SignatureError`, and the worker decides the rest (key validity, producer, principal, times).
A helper that dies takes its share's answer with it: the pool is rebuilt and the share checked in the worker. A
worker that dies takes its helpers with it (each watches its parent).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from p3ke_platform import heap
from p3ke_platform.logging import describe_error, get_logger
from p3ke_schemas.signing import PublicKey, Signature, SignatureError, public_jwk, public_key_from_jwk, verify_headers

log = get_logger(__name__)

Checked = Signature | SignatureError
Message = tuple[Any, bytes]  # (Kafka headers, value)

_KEYS: dict[str, PublicKey] = {}  # in a helper process: the keys it was started with


def _start_helper(jwks: dict[str, dict[str, str]], parent: int) -> None:
    _KEYS.update({kid: public_key_from_jwk(jwk) for kid, jwk in jwks.items()})
    threading.Thread(target=_end_with, args=(parent,), name="p3ke-helper-parent", daemon=True).start()
    heap.settle()


def _end_with(parent: int) -> None:
    """End this helper when the worker that started it is gone (killed, say, with no time to stop its helpers)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _check_share(messages: Sequence[Message]) -> list[Checked]:
    return check_all(messages, _KEYS.get)


def check_all(messages: Sequence[Message], public_key_for: Any) -> list[Checked]:
    """Each message's verified signature, or the SignatureError saying why it is not one."""
    out: list[Checked] = []
    for headers, value in messages:
        try:
            out.append(verify_headers(headers, value, public_key_for))
        except SignatureError as exc:
            out.append(exc)
    return out


class SignaturePool:
    def __init__(self, keys: dict[str, PublicKey], processes: int, min_batch: int = 64) -> None:
        self.keys = keys
        self.processes = processes
        self.min_batch = min_batch
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            jwks = {kid: public_jwk(key) for kid, key in self.keys.items()}
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_helper, initargs=(jwks, os.getpid()))
        return self._pool

    async def check(self, messages: Sequence[Message]) -> list[Checked]:
        """The batch's signatures, in order (see the module's docstring for who checks what)."""
        return await self.start(messages)

    def start(self, messages: Sequence[Message]) -> Awaitable[list[Checked]]:
        """`check(messages)`, with a large batch already handed to the helpers when this returns: the worker parses
        the batch's envelopes while they check, and awaits their answer after. (A small batch is checked here, now.)
        Called on the event loop."""
        if self.processes <= 0 or len(messages) < self.min_batch:
            done: asyncio.Future[list[Checked]] = asyncio.get_running_loop().create_future()
            done.set_result(check_all(messages, self.keys.get))
            return done
        size = -(-len(messages) // self.processes)
        parts = [list(messages[i:i + size]) for i in range(0, len(messages), size)]
        return self._answers(parts, self._submit(parts))

    async def _answers(self, parts: list[list[Message]], futures: list[asyncio.Future[list[Checked]]]
                       ) -> list[Checked]:
        out: list[Checked] = []
        for part, future in zip(parts, futures, strict=True):
            try:
                out += await future
            except BrokenProcessPool as exc:
                log.warning("a signature helper process ended; checking its share here", error=describe_error(exc))
                self.close()
                out += check_all(part, self.keys.get)
        return out

    def _submit(self, parts: list[list[Message]]) -> list[asyncio.Future[list[Checked]]]:
        """The helpers' checks of `parts`, under way. A pool that already knows a helper died refuses new work: it
        is rebuilt once (a failure after that surfaces when the part's answer is awaited, and the worker checks it)."""
        loop = asyncio.get_running_loop()
        try:
            return [loop.run_in_executor(self._executor(), _check_share, part) for part in parts]
        except BrokenProcessPool as exc:
            log.warning("a signature helper process ended; starting another", error=describe_error(exc))
            self.close()
            return [loop.run_in_executor(self._executor(), _check_share, part) for part in parts]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def signature_pool(settings: Any, origin: Any) -> SignaturePool | None:
    """The worker's helpers for checking signatures (P3KE_WORKER_VERIFY_PROCESSES), when it checks origins at all."""
    if origin is None or not settings.worker_verify_processes:
        return None
    return SignaturePool(origin.ring.public_keys(), settings.worker_verify_processes)
