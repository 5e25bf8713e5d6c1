"""A separate process that writes `data-access` events through a service's outbox and relays them.

    python outbox_writer.py write N        insert N events, each in its own transaction
    python outbox_writer.py relay          publish until the outbox is empty
    python outbox_writer.py relay-crash    publish one batch, then SIGKILL itself before marking it sent

Settings come from the P3KE_* environment, as for any service process.
"""

from __future__ import annotations

import os
import signal
import sys

from p3ke_ingest.bootstrap import SERVICE
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor

ACTOR = Actor(org="kemnaker", subject="svc-test", roles=["program-officer"])


def main(argv: list[str]) -> int:
    runtime = Runtime(SERVICE, load_settings(service="ingest"))
    command = argv[0]
    if command == "write":
        tag = argv[2] if len(argv) > 2 else "t"
        for i in range(int(argv[1])):
            with runtime.unit_of_work() as uow:
                uow.record_access(actor=ACTOR, action="read", resource_type="test",
                                  resource_id=f"{tag}-{i}", record_count=i)
        return 0
    if command == "relay":
        relay = runtime.relay()
        while relay.run_once():
            pass
        relay.producer.close()
        return 0
    if command == "relay-crash":
        relay = runtime.relay(before_mark=lambda sent: os.kill(os.getpid(), signal.SIGKILL))
        relay.run_once()
        return 1  # not reached
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
