"""Collecting what each owning service keeps and when it is due, for the compliance page's retention panel
(entrypoints/retention_panel.py): ingest, targeting, delivery and feedback each answer `GET <url>/v1/retention/due`
(p3ke_platform/retention/api.py) with their artefacts, due times, reasons and the legal holds that name them.

Each configured service (P3KE_AUDIT_RETENTION_SOURCES) is asked with the caller's own Authorization (the service
checks the caller's role and records the read in the log), in parallel, with a timeout. A service that cannot be
asked, refuses or answers something else is not an error of the page: it is named on it, with why (a service
missing from the panel would read as "nothing due there"). Nothing is stored.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from p3ke_platform.retention.api import ENDPOINT, RetentionDueOut


@dataclass(frozen=True)
class ServiceSchedule:
    """One service's answer, or why there is none (Indonesian first, then English)."""

    service: str
    answer: RetentionDueOut | None = None
    problem: str | None = None


def _problem_of(status: int) -> str:
    if status in (401, 403):
        return (f"layanan menolak permintaan (HTTP {status}): pastikan pemanggil berperan compliance-auditor atau "
                f"operator dan tokennya diterima layanan ini / the service refused the request (HTTP {status}): the "
                f"caller must be a compliance auditor or operator whose token the service accepts")
    if status == 404:
        return ("layanan belum menyediakan GET /v1/retention/due (HTTP 404); perbarui layanan itu / the service does "
                "not serve GET /v1/retention/due yet (HTTP 404); upgrade it")
    return f"layanan menjawab HTTP {status} / the service answered HTTP {status}"


def ask(client: httpx.Client, service: str, url: str, *, authorization: str, within_days: int,
        limit: int) -> ServiceSchedule:
    """One service's schedule, or the reason it could not give it (never raises for the service)."""
    try:
        response = client.get(f"{url}{ENDPOINT}", params={"within_days": within_days, "limit": limit},
                              headers={"Authorization": authorization})
    except httpx.TimeoutException:
        return ServiceSchedule(service, problem="layanan tidak menjawab dalam batas waktu / the service did not "
                                                "answer in time")
    except httpx.HTTPError as exc:
        return ServiceSchedule(service, problem=f"layanan tidak dapat dihubungi ({type(exc).__name__}) / the service "
                                                f"cannot be reached ({type(exc).__name__})")
    if response.status_code != 200:
        return ServiceSchedule(service, problem=_problem_of(response.status_code))
    try:
        return ServiceSchedule(service, answer=RetentionDueOut.model_validate_json(response.content))
    except ValidationError:
        return ServiceSchedule(service, problem="jawaban layanan tidak sesuai format retention/due / the service's "
                                                "answer is not a retention/due answer")


def collect(sources: tuple[tuple[str, str], ...], *, authorization: str, within_days: int, limit: int,
            timeout_s: float) -> list[ServiceSchedule]:
    """Every configured service's answer, asked in parallel, in the configured order."""
    if not sources:
        return []
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client, \
            ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = [pool.submit(ask, client, name, url, authorization=authorization, within_days=within_days,
                               limit=limit) for name, url in sources]
        return [f.result() for f in futures]
