"""Refusal reasons of delivery, from its message catalogue (PO domain `delivery`, `p3ke_platform.i18n`): each is a
`Message` the API renders in the caller's language (Indonesian by default, English on request) and the audit log
keeps in both. The release refusals name the handover, the request and the caller's own account, never another
person's: who received a password is not told to anyone else.

Pure Python: no I/O.
"""

from __future__ import annotations

from typing import Literal

from p3ke_platform.refusal import Message, messages

M = messages("delivery")

Released = Literal["password", "link", "download"]
Wanted = Literal["password", "link", "download", "signing"]

_STATUSES = frozenset({"preparing", "failed", "refused", "awaiting-signatures", "partially-signed", "revoked"})


def not_bound(released: Released, *, handover_id: str, request_id: str, org: str, subject: str,
              has_recipient: bool) -> Message:
    """Why the caller gets nothing: the release is bound to the requester (or the recipient named)."""
    variant = "recipient" if has_recipient else "requester"
    return M(f"not_bound.{released}.{variant}", handover=handover_id, request=request_id, caller=f"{subject} ({org})")


def status_refusal(status: str, wanted: Wanted) -> Message:
    """Why a handover in `status` cannot serve `wanted` (releasing the password, a link, a download, signing)."""
    what = M(f"wanted.{wanted}")
    if status in _STATUSES:
        return M(f"status.{status}", wanted=what)
    return M("status.other", wanted=what, status=status)
