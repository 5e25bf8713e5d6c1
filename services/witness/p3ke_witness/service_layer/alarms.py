"""An alarm: the log provably forked or rolled back. Logged `critical`, counted, and its evidence kept."""

from __future__ import annotations

from p3ke_platform.logging import get_logger
from p3ke_witness.adapters import state
from p3ke_witness.adapters.state import AlarmEvidence
from p3ke_witness.service_layer.context import WitnessContext
from p3ke_witness.service_layer.metrics import ALARMS

log = get_logger(__name__)


def raise_alarm(ctx: WitnessContext, evidence: AlarmEvidence) -> None:
    new = state.record_alarm(ctx.sessions, evidence, ctx.clock())
    ALARMS.labels(evidence.origin, evidence.kind).inc()
    log.critical("witness alarm: the log forked or rolled back", kind=evidence.kind, origin=evidence.origin,
                 cosigned_size=evidence.cosigned.size, offered_size=evidence.offered.size,
                 old_size=evidence.old_size, detail=evidence.detail, first_time=new)
