"""Collecting what each owning service keeps and when it is due, for the compliance page's retention panel
(entrypoints/retention_panel.py): ingest, targeting, delivery and feedback each answer `GET <url>/v1/retention/due`
(p3ke_platform/retention/api.py) with their artefacts, due times, reasons and the legal holds that name them.

Each configured service (P3KE_AUDIT_RETENTION_SOURCES) is asked with the caller's own Authorization (the service
checks the caller's role and records the read in the log), in parallel, with a timeout. A service that cannot be
asked, refuses or answers something else is not an error of the page: it is named on it, with why (a service
missing from the panel would read as "nothing due there"). Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from p3ke_audit.service_layer.service_calls import Endpoint, ask_all
from p3ke_platform.retention.api import ENDPOINT, RetentionDueOut


@dataclass(frozen=True)
class ServiceSchedule:
    """One service's answer, or why there is none (Indonesian first, then English)."""

    service: str
    answer: RetentionDueOut | None = None
    problem: str | None = None


DUE = Endpoint(route=f"GET {ENDPOINT}", roles_id="compliance-auditor atau operator",
               roles_en="a compliance auditor or operator", model=RetentionDueOut, answer_name="retention/due")


def ask(client: httpx.Client, service: str, url: str, *, authorization: str, within_days: int,
        limit: int) -> ServiceSchedule:
    """One service's schedule, or the reason it could not give it (never raises for the service)."""
    called = DUE.call(lambda: client.get(f"{url}{ENDPOINT}", params={"within_days": within_days, "limit": limit},
                                         headers={"Authorization": authorization}))
    answer = called.answer
    return ServiceSchedule(service, answer=answer if isinstance(answer, RetentionDueOut) else None,
                           problem=called.problem)


def collect(sources: tuple[tuple[str, str], ...], *, authorization: str, within_days: int, limit: int,
            timeout_s: float) -> list[ServiceSchedule]:
    """Every configured service's answer, asked in parallel, in the configured order."""
    return ask_all(sources, timeout_s, lambda client, name, url: ask(
        client, name, url, authorization=authorization, within_days=within_days, limit=limit))
