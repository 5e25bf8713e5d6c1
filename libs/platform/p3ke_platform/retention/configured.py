"""The schedule a process applies: `P3KE_RETENTION_SCHEDULE`, else (outside production) the packaged default,
`p3ke_platform/reference/data/jadwal_retensi.yaml`. Loaded once per process and file; production refuses to
start without an explicit file, as the periods are the controllers' decision, not the software's default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from p3ke_platform.settings import ConfigurationError, Settings

from .schedule import Schedule, ScheduleError, load_schedule

DEFAULT_SCHEDULE = Path(__file__).resolve().parent.parent / "reference" / "data" / "jadwal_retensi.yaml"

RETENTION_SCHEDULE_REQUIRED = (
    "P3KE_RETENTION_SCHEDULE: tidak diatur; di produksi layanan hanya berjalan dengan jadwal retensi yang ditetapkan "
    "para pengendali data (salin dan sesuaikan jadwal bawaan p3ke_platform/reference/data/jadwal_retensi.yaml, "
    "periksa dengan `p3ke retention show --file <berkas>`, lalu pasang dan arahkan P3KE_RETENTION_SCHEDULE ke "
    "berkas itu) / not set: in production the services run only with a retention schedule the data controllers "
    "decided (copy and adapt the packaged default p3ke_platform/reference/data/jadwal_retensi.yaml, check it with "
    "`p3ke retention show --file <file>`, then mount it and point P3KE_RETENTION_SCHEDULE at it)"
)


def retention_schedule_problems(settings: Settings) -> list[str]:
    if settings.env == "production" and settings.retention_schedule is None:
        return [RETENTION_SCHEDULE_REQUIRED]
    return []


@lru_cache(maxsize=8)
def _load(path: Path) -> Schedule:
    return load_schedule(path)


def schedule_for(settings: Settings) -> Schedule:
    """The schedule `settings` name (once per process and file); ConfigurationError when it cannot be used."""
    problems = retention_schedule_problems(settings)
    if problems:
        raise ConfigurationError("\n".join(problems))
    path = Path(settings.retention_schedule or DEFAULT_SCHEDULE).resolve()
    try:
        return _load(path)
    except ScheduleError as exc:
        raise ConfigurationError(f"P3KE_RETENTION_SCHEDULE: {exc}") from None
