"""Fixtures shared by the audit integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.integration.helpers.smtp import smtp_server


@pytest.fixture
def smtp() -> Iterator[SimpleNamespace]:
    """A real SMTP server (aiosmtpd) on a free loopback port: `inbox.mails` and `port`."""
    with smtp_server() as server:
        yield server
