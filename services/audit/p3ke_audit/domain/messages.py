"""The audit service's reasons a person reads, from its message catalogue (PO domain `audit`): each error of the
desks and queries carries a catalogue `Message`, which the API renders in the caller's language (Indonesian unless
English is asked for) and `str()` gives in both languages, "Indonesian / English" (logs, the audit log).

Pure Python: no I/O.
"""

from __future__ import annotations

from p3ke_platform.refusal import Message, messages

M = messages("audit")


class Explained(Exception):
    """An error whose reason is a catalogue message: `message` (rendered where it is answered), `str()` both
    languages."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.both())
        self.message = message


def explained(exc: Exception, fallback: str) -> Message:
    """The catalogue message of `exc`, or the `fallback` key of this catalogue carrying its text as `reason` (an
    error of another layer, e.g. the Merkle tree's)."""
    return exc.message if isinstance(exc, Explained) else M(fallback, reason=str(exc))


__all__ = ["Explained", "M", "explained"]
