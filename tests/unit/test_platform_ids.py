"""Random ids never look like a NIK, so the redaction never masks them in the audit log."""

from __future__ import annotations

import re

import pytest

from p3ke_platform import ids
from p3ke_platform.logging import redact_text


def test_an_all_digit_draw_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["9768204180134087", "9768a041b0134c87"])
    monkeypatch.setattr(ids.secrets, "token_hex", lambda n: next(draws))
    assert redact_text("ho-9768204180134087") != "ho-9768204180134087"  # why: such an id would be masked
    made = ids.random_id("ho")
    assert made == "ho-9768a041b0134c87" and redact_text(made) == made


def test_ids_have_the_asked_shape() -> None:
    for _ in range(2000):
        made = ids.random_id("fb", 20)
        assert re.fullmatch(r"fb-[0-9a-f]{20}", made) and not re.search(r"\d{8}", made)
