"""The top-level README documents every setting and every topic of the contract."""

from __future__ import annotations

from pathlib import Path

from p3ke_platform.settings import Settings
from p3ke_schemas import EVENTS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [f"P3KE_{name.upper()}" for name in Settings.model_fields if f"`P3KE_{name.upper()}`" not in README]
    assert missing == []


def test_every_topic_is_in_the_topic_table() -> None:
    for spec in EVENTS:
        assert f"| `{spec.topic}` | {spec.key_field} |" in README
