"""Plain-text email over SMTP (the standard library's smtplib), for notices people read: Indonesian first, then
English. A service configures an `SmtpConfig` from its settings; no host configured means no email.

Messages carry ids, dates and counts only: never a data subject's NIK or name.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server (the reason, without the message's content)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "p3ke@localhost"
    starttls: bool = False
    timeout_s: float = 10.0


def parse_addresses(value: str | Sequence[str], setting: str) -> tuple[str, ...]:
    """Comma-separated addresses (or a list), each checked; ValueError naming the setting and the bad address."""
    items = value.split(",") if isinstance(value, str) else list(value)
    found = tuple(a.strip() for a in items if a.strip())
    bad = [a for a in found if not ADDRESS.match(a)]
    if bad:
        raise ValueError(f"{setting}: alamat email tidak sah {bad[0][:80]!r}; tulis alamat dipisah koma, mis. "
                         f"kepatuhan@kemnaker.go.id / not a valid email address; give comma-separated addresses")
    return found


def message(config: SmtpConfig, to: Sequence[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    msg.set_content(body, charset="utf-8")
    return msg


def send(config: SmtpConfig, to: Sequence[str], subject: str, body: str) -> None:
    """Hand one message to the SMTP server; MailError saying why not (the server refused, cannot be reached)."""
    if not to:
        raise MailError("tidak ada penerima / no recipients")
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            refused = smtp.send_message(message(config, to, subject, body))
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {config.host}:{config.port}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if refused:
        raise MailError(f"SMTP {config.host}:{config.port} menolak penerima / refused recipients: "
                        f"{', '.join(sorted(refused))[:200]}")
