"""What each service keeps, for the retention schedule: its artefacts with the times of their life events.

A service that owns artefacts lists them in `p3ke_<service>.service_layer.retention_inventory`, a module with
`artefacts(ctx) -> Iterable[Artefact]` (the module itself is the `ArtefactSource`); the platform finds it by that
name, so it never imports a service by name. `p3ke retention show` prints what is due next from them, and the
disposal jobs (each in the service that owns the artefact) dispose of what `due_at` says is due.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .due import Due, due_at
from .schedule import Kind, Schedule, Trigger

MODULE = "service_layer.retention_inventory"
"""Where a service's inventory lives, under its package."""


@dataclass(frozen=True)
class Artefact:
    """One artefact a service keeps: its kind, its id in the audit log's terms, its file (if a file) and the
    times of the life events that have happened to it. Nothing of a data subject."""

    kind: Kind
    resource_type: str
    resource_id: str
    path: Path | None = None
    sha256: str | None = None
    events: Mapping[Trigger, datetime] = field(default_factory=dict)


class ArtefactSource(Protocol):
    def artefacts(self, ctx: Any) -> Iterable[Artefact]: ...


def inventory_of(package: str) -> ArtefactSource | None:
    """The service's inventory module, or None when it has none yet."""
    name = f"{package}.{MODULE}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise
    return module if callable(getattr(module, "artefacts", None)) else None  # type: ignore[return-value]


@dataclass(frozen=True)
class Scheduled:
    """An artefact and when it is due (None: nothing has started its period yet)."""

    artefact: Artefact
    due: Due | None


def schedule_artefacts(schedule: Schedule, artefacts: Iterable[Artefact],
                       agreement_ends: datetime | None) -> list[Scheduled]:
    """Each artefact with its due time under its kind's rule (the agreement's end added to its events), the
    soonest first, then those not yet started."""
    out = []
    for artefact in artefacts:
        events: dict[Trigger, datetime | None] = {**artefact.events}
        if agreement_ends is not None:
            events.setdefault(Trigger.AGREEMENT_ENDED, agreement_ends)
        out.append(Scheduled(artefact, due_at(schedule.rule(artefact.kind), events)))
    return sorted(out, key=lambda s: (s.due is None, s.due.at if s.due else datetime.max.replace(tzinfo=UTC),
                                      s.artefact.kind, s.artefact.resource_id))
