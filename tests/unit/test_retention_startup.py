"""A service process loads the retention schedule at start-up (`ServiceContext.check`): in production it does not
start without P3KE_RETENTION_SCHEDULE, and a broken schedule file stops it, naming the setting, the line and
the kind; outside production the packaged default applies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_platform.agreement import BUNDLED_DIR
from p3ke_platform.retention import DEFAULT_SCHEDULE
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, load_settings


def _production(tmp_path: Path, **overrides: object) -> Runtime:
    """An ingest runtime whose agreement is under a manifest, switched to production (the rest of production's
    checks are the settings' own and the event keys', tested elsewhere; the schedule is checked before the keys)."""
    directory = tmp_path / "agreement"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUNDLED_DIR / "pks-p3ke-2023.yaml", directory)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(subprocess.run(["sha256sum", "pks-p3ke-2023.yaml"], cwd=directory, capture_output=True,
                                       text=True, check=True).stdout)
    settings = load_settings(IngestSettings, service="ingest", env="test", data_dir=tmp_path / "data",
                             agreement_dir=directory, agreement_manifest=manifest, **overrides)
    runtime = Runtime(SERVICE, settings)
    runtime.settings = settings.model_copy(update={"env": "production"})
    return runtime


def test_production_does_not_start_without_a_retention_schedule(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        _production(tmp_path).context.check()
    message = str(info.value)
    assert message.startswith("P3KE_RETENTION_SCHEDULE: tidak diatur; di produksi layanan hanya berjalan dengan "
                              "jadwal retensi yang ditetapkan para pengendali data")
    assert "/ not set: in production the services run only with a retention schedule the data controllers decided" \
        in message


def test_production_starts_with_an_explicit_schedule_and_not_with_a_broken_one(tmp_path: Path) -> None:
    own = tmp_path / "jadwal.yaml"
    own.write_text(DEFAULT_SCHEDULE.read_text(encoding="utf-8").replace("period: P90D\n    starts: superseded",
                                                                        "period: P180D\n    starts: superseded"))
    runtime = _production(tmp_path, retention_schedule=own)
    assert runtime.context.retention_schedule.rule("superseded-snapshot").period.days == 180
    broken = tmp_path / "broken.yaml"
    broken.write_text(own.read_text().replace("period: P180D", "period: -P180D"))
    with pytest.raises(ConfigurationError, match=r"P3KE_RETENTION_SCHEDULE: jadwal retensi tidak dapat dipakai.*\n"
                                                 r".*broken.yaml baris/line \d+ \(superseded-snapshot\): periode "
                                                 r"'-P180D' negatif"):
        _production(tmp_path / "b", retention_schedule=broken).context.check()


def test_outside_production_the_packaged_default_applies(tmp_path: Path) -> None:
    runtime = Runtime(SERVICE, load_settings(IngestSettings, service="ingest", env="test", data_dir=tmp_path))
    runtime.context.check()
    assert runtime.context.retention_schedule.source == str(DEFAULT_SCHEDULE)
