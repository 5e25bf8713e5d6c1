"""The legal holds a disposal job must respect, asked of the audit service (`GET /v1/legal-holds`) over HTTP.

An open incident (or a dispute, or an auditor's request recorded as one) holds the resources and the data
subjects it names; nothing it names is destroyed. The job reads every active hold once per run (keyset pages)
and matches its artefacts locally: by resource (type and id) and by the keyed references the artefact holds.

It fails CLOSED: no URL, no token, an audit service that does not answer or answers anything but the list, and
`HoldsUnavailable` says why; the job then destroys nothing.

The credential: `P3KE_LEGAL_HOLDS_TOKEN_FILE`, a bearer token with the `service-account` role issued by the
identity provider (mounted as a file and renewed there: it is read again on every run); outside production,
without one, the development issuer mints a short-lived token for the service (the audit service accepts it
while P3KE_AUTH_DEV_ISSUER is on and both share the data directory, as in `make run` and the tests).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from p3ke_platform.settings import Settings

PAGE = 10_000
TIMEOUT_S = 10.0


class HoldsUnavailable(Exception):
    """The legal holds could not be read; the message (Indonesian, then English) says why and how to fix it."""


@dataclass(frozen=True)
class Holds:
    """Every active legal hold: resource (type, id) -> incident ids, keyed subject reference -> incident ids."""

    resources: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    subjects: dict[str, list[str]] = field(default_factory=dict)

    def holding(self, resource_type: str, resource_id: str, subject_refs: Iterable[str] = ()) -> list[str]:
        """The incidents that hold this artefact (by itself, or by a data subject it holds); empty: none."""
        found = set(self.resources.get((resource_type, resource_id), ()))
        if self.subjects:
            for ref in subject_refs:
                found.update(self.subjects.get(ref, ()))
        return sorted(found)

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> Holds:
        resources: dict[tuple[str, str], list[str]] = defaultdict(list)
        subjects: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row.get("resource_type") and row.get("resource_id"):
                resources[(row["resource_type"], row["resource_id"])].append(str(row["incident_id"]))
            if row.get("subject_ref"):
                subjects[row["subject_ref"]].append(str(row["incident_id"]))
        return cls(dict(resources), dict(subjects))


LEGAL_HOLDS_URL_REQUIRED = (
    "P3KE_LEGAL_HOLDS_URL: tidak diatur; di produksi proses yang menjalankan pemusnahan (retention-disposal) "
    "hanya berjalan bila dapat menanyakan penahanan hukum ke layanan audit: arahkan ke layanan audit (di Kubernetes "
    "http://audit), atau matikan pemusnahan di proses ini dengan P3KE_RETENTION_DISPOSAL_SECONDS=0 / not set: in "
    "production the process that runs the disposal (retention-disposal) starts only when it can ask the audit "
    "service for legal holds: point it at the audit service (in Kubernetes http://audit), or turn disposal off in "
    "this process with P3KE_RETENTION_DISPOSAL_SECONDS=0"
)
LEGAL_HOLDS_BEARER_REQUIRED = (
    "P3KE_LEGAL_HOLDS_TOKEN_FILE: tidak diatur; di produksi proses yang menjalankan pemusnahan membutuhkan berkas "
    "token akun layanan (peran service-account) dari penyedia identitas, dipasang dari Secret "
    "p3ke-<layanan>-legal-holds-token / not set: in production the process that runs the disposal needs a "
    "service-account token file (role service-account) from the identity provider, mounted from the Secret "
    "p3ke-<service>-legal-holds-token"
)


def legal_holds_problems(settings: Settings) -> list[str]:
    """Production start-up problems of a process that runs the disposal job: without the audit service's URL or
    a token for it the job would never destroy anything (it fails closed), so the process refuses to start."""
    if settings.env != "production":
        return []
    problems = []
    if not settings.legal_holds_url:
        problems.append(LEGAL_HOLDS_URL_REQUIRED)
    if settings.legal_holds_token_file is None:
        problems.append(LEGAL_HOLDS_BEARER_REQUIRED)
    return problems


def _token(settings: Settings, service: str) -> str:
    if settings.legal_holds_token_file is not None:
        try:
            token = settings.legal_holds_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise HoldsUnavailable(
                f"P3KE_LEGAL_HOLDS_TOKEN_FILE {settings.legal_holds_token_file} tidak dapat dibaca / cannot be read: "
                f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        if not token:
            raise HoldsUnavailable(f"P3KE_LEGAL_HOLDS_TOKEN_FILE {settings.legal_holds_token_file} kosong / is empty")
        return token
    if settings.env == "production":
        raise HoldsUnavailable(
            "P3KE_LEGAL_HOLDS_TOKEN_FILE tidak diatur; di produksi tunjuk berkas token akun layanan (peran "
            "service-account) dari penyedia identitas / not set; in production point it at a service-account "
            "token file from the identity provider")
    from p3ke_platform.auth import DevIssuer

    return DevIssuer(settings).mint(f"urn:p3ke:service:{service}", "kemenkopmk", ["service-account"],
                                    ttl_seconds=300, service_account=True)


def fetch_holds(settings: Settings, service: str) -> Holds:
    """Every active legal hold, from the audit service; HoldsUnavailable when they cannot all be read."""
    import httpx

    if not settings.legal_holds_url:
        raise HoldsUnavailable(
            "P3KE_LEGAL_HOLDS_URL tidak diatur: penahanan hukum tidak dapat diperiksa, jadi tidak ada yang "
            "dimusnahkan; arahkan ke layanan audit (mis. http://audit:8105) / not set: the legal holds cannot be "
            "checked, so nothing is disposed of; point it at the audit service (e.g. http://audit:8105)")
    url = settings.legal_holds_url.rstrip("/") + "/v1/legal-holds"
    headers = {"Authorization": f"Bearer {_token(settings, service)}"}
    rows: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(timeout=TIMEOUT_S) as client:
        while True:
            try:
                response = client.get(url, params={"active": "true", "after": after, "limit": PAGE},
                                      headers=headers)
            except httpx.HTTPError as exc:
                raise HoldsUnavailable(
                    f"layanan audit tidak dapat dihubungi di {settings.legal_holds_url} ({type(exc).__name__}); "
                    f"tidak ada yang dimusnahkan / the audit service cannot be reached at "
                    f"{settings.legal_holds_url} ({type(exc).__name__}); nothing is disposed of") from None
            if response.status_code != 200:
                raise HoldsUnavailable(
                    f"layanan audit menjawab {response.status_code} untuk /v1/legal-holds (token akun layanan "
                    f"dengan peran service-account?); tidak ada yang dimusnahkan / the audit service answered "
                    f"{response.status_code} for /v1/legal-holds (a service-account token?); nothing is disposed of")
            try:
                page = response.json()
                if not isinstance(page, list):
                    raise TypeError("not a list")
                rows += page
                after = max((int(r["id"]) for r in page), default=after)
            except (ValueError, KeyError, TypeError):
                raise HoldsUnavailable("jawaban /v1/legal-holds tidak dapat dibaca / the answer of /v1/legal-holds "
                                       "cannot be read; nothing is disposed of") from None
            if len(page) < PAGE:
                return Holds.of(rows)
