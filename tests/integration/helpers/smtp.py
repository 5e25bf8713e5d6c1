"""A real SMTP server for the tests that send email: aiosmtpd on a free loopback port, keeping every message it
accepts with its envelope recipients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

from aiosmtpd.controller import Controller

from p3ke_platform.devstack.ports import free_port

__all__ = ["Inbox", "free_port", "smtp_server"]


class Inbox:
    """aiosmtpd's handler: every message the server accepts, with its envelope recipients."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[SimpleNamespace]:
    """A running server: `inbox` (its Inbox) and `port`; stopped on exit."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SimpleNamespace(inbox=inbox, port=controller.port)
    finally:
        controller.stop()
