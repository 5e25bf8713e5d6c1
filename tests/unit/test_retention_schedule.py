"""The retention schedule file: the packaged default loads and covers every kind; each mistake is refused with a
bilingual message naming the file, the line and the kind; production refuses to start without a file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from p3ke_platform.retention import (
    DEFAULT_SCHEDULE,
    Kind,
    Period,
    ScheduleError,
    Trigger,
    load_schedule,
    parse_schedule,
    schedule_for,
)
from p3ke_platform.settings import ConfigurationError, load_settings

NAME = "jadwal.yaml"


def _default_doc() -> dict:
    return yaml.safe_load(DEFAULT_SCHEDULE.read_text(encoding="utf-8"))


def _error(doc: dict | str) -> str:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, NAME)
    return str(info.value)


def test_the_default_schedule_loads_and_covers_every_kind_once() -> None:
    schedule = load_schedule(DEFAULT_SCHEDULE)
    assert list(schedule.rules) == list(Kind)
    assert schedule.rule("package").starts == (Trigger.PACKAGE_DOWNLOADED, Trigger.HANDOVER_REVOKED,
                                               Trigger.PURPOSE_ENDED)
    assert schedule.rule(Kind.RAW_UPLOAD).period == Period(days=30)
    assert schedule.rule(Kind.CURRENT_SNAPSHOT).describe_id() == "saat perjanjian berakhir"
    assert not schedule.rule(Kind.FEEDBACK_RAW).ends_with_agreement  # the reporting duty outlives the PKS
    assert schedule.rule(Kind.SUBJECT_REFERENCES).until_certificate
    for rule in schedule.rules.values():
        assert "Pasal" in rule.basis_id and "Art." in rule.basis_en


def test_the_default_is_documented_in_the_retention_doc() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "retention.md").read_text(encoding="utf-8")
    for kind in Kind:
        assert f"| `{kind}`" in doc


@pytest.mark.parametrize(("period", "expected"), [
    (0, Period()), ("0", Period()), ("P0D", Period()), (30, Period(days=30)), ("P30D", Period(days=30)),
    ("p2w", Period(days=14)), ("P3M", Period(months=3)), ("P1Y6M", Period(years=1, months=6)),
])
def test_periods_in_days_or_iso_8601(period: object, expected: Period) -> None:
    doc = _default_doc()
    doc["rules"][0]["period"] = period
    schedule = parse_schedule(yaml.safe_dump(doc), NAME)
    assert schedule.rule(Kind.RAW_UPLOAD).period == expected


def test_an_unknown_kind_names_the_file_the_line_and_the_choices() -> None:
    doc = _default_doc()
    doc["rules"][2]["kind"] = "old-snapshot"
    message = _error(doc)
    line = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).splitlines().index("- kind: old-snapshot") + 1
    assert f"{NAME} baris/line {line} (old-snapshot): jenis artefak 'old-snapshot' tidak dikenal" in message
    assert "unknown artefact kind 'old-snapshot'; use one of: raw-upload, rejected-upload" in message
    # the kind it replaced is reported missing only because no line names it
    assert "jenis superseded-snapshot tidak ada dalam jadwal" in message


def test_a_duplicate_kind_names_both_lines() -> None:
    doc = _default_doc()
    doc["rules"].append(dict(doc["rules"][0]))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line == "- kind: raw-upload"]
    message = _error(text)
    assert (f"baris/line {lines[1]} (raw-upload): jenis 'raw-upload' sudah diatur di baris {lines[0]}; satu aturan "
            f"per jenis / kind 'raw-upload' is already set on line {lines[0]}; one rule per kind") in message


def test_every_kind_must_be_present() -> None:
    doc = _default_doc()
    doc["rules"] = [r for r in doc["rules"] if r["kind"] not in ("package", "findings")]
    message = _error(doc)
    assert ("jenis package, findings tidak ada dalam jadwal; setiap jenis artefak harus punya satu aturan / kinds "
            "package, findings are missing; every kind of artefact needs one rule") in message


@pytest.mark.parametrize("period", [-1, "-P30D"])
def test_a_negative_period_is_refused(period: object) -> None:
    doc = _default_doc()
    doc["rules"][4]["period"] = period
    message = _error(doc)
    assert f"(extract): periode {period!r} negatif; tulis 0 atau lebih" in message
    assert f"period {period!r} is negative" in message


@pytest.mark.parametrize("period", ["30 hari", "PT30H", "P", 1.5, True])
def test_an_unreadable_period_is_refused(period: object) -> None:
    doc = _default_doc()
    doc["rules"][0]["period"] = period
    assert f"(raw-upload): periode {period!r} tidak dapat dibaca" in _error(doc)


def test_an_unknown_starting_event_lists_the_known_ones() -> None:
    doc = _default_doc()
    doc["rules"][6]["starts"] = ["package-downloaded", "package-opened"]
    message = _error(doc)
    assert "(package): peristiwa awal 'package-opened' tidak dikenal; gunakan salah satu dari: uploaded" in message
    assert "unknown starting event 'package-opened'" in message


def test_an_empty_start_an_unknown_owner_a_missing_basis_and_an_unknown_field() -> None:
    doc = _default_doc()
    doc["rules"][0]["starts"] = []
    doc["rules"][1]["owner"] = "audit"
    del doc["rules"][2]["basis_id"]
    doc["rules"][3]["basis_en"] = "PKS"
    doc["rules"][5]["keep_forever"] = True
    message = _error(doc)
    assert "(raw-upload): starts kosong; sebutkan peristiwa yang memulai periode" in message
    assert "(rejected-upload): pemilik 'audit' bukan layanan yang menyimpan artefak" in message
    assert "(superseded-snapshot): kolom 'basis_id' wajib diisi / field 'basis_id' is required" in message
    assert "(current-snapshot): 'basis_en': tulis dasar hukumnya dalam kalimat" in message
    assert "(selection-ledger): kolom 'keep_forever' tidak dikenal" in message


def test_not_yaml_and_not_a_schedule(tmp_path: Path) -> None:
    assert f"{NAME} baris/line 2: bukan YAML yang sah / not valid YAML" in _error("rules:\n\t- kind: x\n")
    assert "berkas harus berisi 'rules:'" in _error("title: kosong\n")
    with pytest.raises(ScheduleError, match="berkas jadwal retensi tidak dapat dibaca / the retention schedule file "
                                            "cannot be read"):
        load_schedule(tmp_path / "absent.yaml")


def test_the_setting_names_the_file_and_production_requires_one(tmp_path: Path) -> None:
    assert schedule_for(load_settings(env="test")).source == str(DEFAULT_SCHEDULE)
    own = tmp_path / "jadwal.yaml"
    doc = _default_doc()
    doc["rules"][0]["period"] = "P7D"
    own.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert schedule_for(load_settings(env="test", retention_schedule=own)).rule("raw-upload").period == Period(days=7)
    production = load_settings(env="test", retention_schedule=None).model_copy(update={"env": "production"})
    with pytest.raises(ConfigurationError, match=r"^P3KE_RETENTION_SCHEDULE: tidak diatur; di produksi .* / not set: "
                                                 r"in production"):
        schedule_for(production)
    explicit = production.model_copy(update={"retention_schedule": own})
    assert schedule_for(explicit).source == str(own.resolve())
    own.write_text("rules: []\n", encoding="utf-8")
    broken = load_settings(env="test", retention_schedule=tmp_path / "other.yaml")
    (tmp_path / "other.yaml").write_text("rules: []\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="P3KE_RETENTION_SCHEDULE: jadwal retensi tidak dapat dipakai"):
        schedule_for(broken)
