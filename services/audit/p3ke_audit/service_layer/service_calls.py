"""Asking the other services' APIs for the caller (a person's records, the retention schedules): every service in
parallel, with the caller's own Authorization and a timeout. A service that cannot be asked, refuses or answers
something else is never an exception here: it yields a problem text (Indonesian first, then English) that the
caller shows next to the answers of the others, so that a missing service never reads as "nothing there"."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

R = TypeVar("R")


@dataclass(frozen=True)
class Called:
    """A service's parsed answer, or why there is none."""

    answer: BaseModel | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """What is asked (`GET /v1/retention/due`), of whom (the roles, in words, that the caller must have), and what
    the answer must be (its model and, in words, its name)."""

    route: str
    roles_id: str
    roles_en: str
    model: type[BaseModel]
    answer_name: str

    def problem_of(self, status: int) -> str:
        if status in (401, 403):
            return (f"layanan menolak permintaan (HTTP {status}): pastikan pemanggil berperan {self.roles_id} dan "
                    f"tokennya diterima layanan ini / the service refused the request (HTTP {status}): the caller "
                    f"must be {self.roles_en} whose token the service accepts")
        if status == 404:
            return (f"layanan belum menyediakan {self.route} (HTTP 404); perbarui layanan itu / the service does not "
                    f"serve {self.route} yet (HTTP 404); upgrade it")
        return f"layanan menjawab HTTP {status} / the service answered HTTP {status}"

    def call(self, send: Callable[[], httpx.Response]) -> Called:
        """`send()` once; its answer parsed, or the problem."""
        try:
            response = send()
        except httpx.TimeoutException:
            return Called(problem="layanan tidak menjawab dalam batas waktu / the service did not answer in time")
        except httpx.HTTPError as exc:
            return Called(problem=f"layanan tidak dapat dihubungi ({type(exc).__name__}) / the service cannot be "
                                  f"reached ({type(exc).__name__})")
        if response.status_code != 200:
            return Called(problem=self.problem_of(response.status_code))
        try:
            return Called(answer=self.model.model_validate_json(response.content))
        except ValidationError:
            return Called(problem=f"jawaban layanan tidak sesuai format {self.answer_name} / the service's answer is "
                                  f"not a {self.answer_name} answer")


def ask_all(sources: tuple[tuple[str, str], ...], timeout_s: float,
            ask: Callable[[httpx.Client, str, str], R]) -> list[R]:
    """`ask(client, name, url)` for every configured service, in parallel, in the configured order."""
    if not sources:
        return []
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client, \
            ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = [pool.submit(ask, client, name, url) for name, url in sources]
        return [f.result() for f in futures]
