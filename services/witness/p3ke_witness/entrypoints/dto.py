"""The read APIs' answers (JSON)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from p3ke_witness.service_layer.context import WitnessContext


def _b64(raw: bytes | None) -> str | None:
    return base64.b64encode(bytes(raw)).decode() if raw is not None else None


class LogOut(BaseModel):
    origin: str = Field(description="the log's origin (its checkpoint key's name)")
    keys: list[str] = Field(description="the log's checkpoint verifier keys this witness trusts (configuration)")
    cosigned_size: int | None = Field(description="the size of the latest checkpoint cosigned; null: none yet")
    cosigned_root: str | None = Field(description="its root hash, base64")
    cosigned_at: datetime | None
    note: str | None = Field(description="that checkpoint as the log signed it")
    cosigned_count: int = Field(description="checkpoints cosigned for this log")
    alarms: int = Field(description="forks and rollbacks refused for this log")
    last_alarm_at: datetime | None


class LogsOut(BaseModel):
    witness: str = Field(description="this witness's cosignature verifier key (name+id+base64(0x04||key))")
    logs: list[LogOut]


class AlarmOut(BaseModel):
    id: int
    origin: str
    kind: str = Field(description="fork | rollback")
    raised_at: datetime
    detail: str
    old_size: int = Field(description="the old size of the refused request")
    cosigned_size: int
    cosigned_root: str
    cosigned_note: str = Field(description="evidence: the checkpoint this witness had cosigned, with its cosignature")
    offered_size: int
    offered_root: str
    offered_note: str = Field(description="evidence: the conflicting checkpoint, validly signed by the log")
    proof: list[str] = Field(description="the consistency proof received, base64 hashes")

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AlarmOut:
        return cls(id=row["id"], origin=row["origin"], kind=row["kind"], raised_at=row["raised_at"],
                   detail=row["detail"], old_size=row["old_size"], cosigned_size=row["cosigned_size"],
                   cosigned_root=_b64(row["cosigned_root"]) or "", cosigned_note=row["cosigned_note"],
                   offered_size=row["offered_size"], offered_root=_b64(row["offered_root"]) or "",
                   offered_note=row["offered_note"], proof=row["proof"].split())


class AlarmsOut(BaseModel):
    alarms: list[AlarmOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null: no more")


def log_out(origin: str, keys: list[str], row: Mapping[str, Any] | None) -> LogOut:
    if row is None:
        return LogOut(origin=origin, keys=keys, cosigned_size=None, cosigned_root=None, cosigned_at=None, note=None,
                      cosigned_count=0, alarms=0, last_alarm_at=None)
    return LogOut(origin=origin, keys=keys, cosigned_size=row["tree_size"], cosigned_root=_b64(row["root_hash"]),
                  cosigned_at=row["cosigned_at"], note=row["note"], cosigned_count=row["cosigned"],
                  alarms=row["alarms"], last_alarm_at=row["last_alarm"])


def logs_of(ctx: WitnessContext) -> LogsOut:
    """Every configured log (and any other with a stored state), with what this witness cosigned of it."""
    from p3ke_witness.adapters import state

    with ctx.sessions() as session:
        rows = {row["origin"]: row for row in state.list_logs(session)}
    return LogsOut(witness=ctx.witness.vkey, logs=[log_out(o, [k.vkey for k in ctx.logs.get(o, [])], rows.get(o))
                                                   for o in sorted(set(ctx.logs) | set(rows))])
