"""The garbage collector of a long-running process, once it has started.

CPython's cycle collector runs whenever tracked objects have been allocated a few hundred times over, and its full
collections walk every object the process holds. A worker holds several hundred thousand objects from start-up alone
(modules, the pydantic and SQLAlchemy models, the settings), none of which ever becomes garbage, and it allocates
thousands per event (records, envelopes, rows), so its full collections kept walking the start-up heap: 3.4 s of the
audit worker's 19.1 s of CPU in `bench audit` at 10^5 entries (35 full collections, 4,332 young ones; measured with
`gc.callbacks`).

`settle` is called once the process has started, before it takes work: it moves everything alive then into the
permanent generation (`gc.freeze`), which collections skip, and lets the young generation grow to `YOUNG` objects
before it is collected. Objects made later are collected as before; a start-up object that only becomes part of a
garbage cycle later is never collected (there are none in the steady state this is for, and they would be few).
Measured with `bench audit` at 10^5 entries, runs interleaved: 4,597-4,764 entries/s with 16.8-17.4 s of worker CPU
before; 4,959-5,751/s with 13.9-15.4 s with the freeze alone; 5,457-5,814/s with 13.5-14.5 s with both. The outbox
relay takes the same settings: `bench events` at 3·10^4 events, its stage alone, 11,989-12,783 events/s against
10,537-11,824 (2 interleaved pairs).

Called by `p3ke_platform.runner` for the worker (either engine) and the relay roles, and by each signature helper
(`messaging.signature_pool`) once it has its keys.
"""

from __future__ import annotations

import gc

YOUNG = 20_000  # CPython's default is 700
OLDER = 20  # collections of a generation before the next one is collected (CPython's default: 10)


def settle() -> None:
    """Collect what start-up left behind, freeze the rest, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)
