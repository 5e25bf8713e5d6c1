"""Release what a signed handover gives party 2: the package password (once) and the package
(through expiring, personal download links), and the revocation that stops both.

Every release asks the agreement policy again at that moment, with the handover's program, purpose and
fields: may party 1 (delivery, for it) release the package (release-package), and may the caller receive it
(download-package: party 2's program officer, the agreement in force, the program in scope, the fields
allowed)? So an expiry or an addendum takes effect on the next request, not on the next handover; the refusal
says why, Indonesian first. Then the release is bound to the
request: only the requester targeting verified, or the recipient the request named (checked by targeting
against the agreement's roles), gets the password, a link or the package; anyone else is refused (403)
with a reason that names no other person, and a second release (409) does not say who got the first.
A handover opened before extract-prepared carried the requester is not bound (the policy alone decides).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import insert, update
from sqlalchemy.engine import RowMapping

from p3ke_delivery.adapters import package, subjects
from p3ke_delivery.adapters.keys import LinkClaims, LinkError
from p3ke_delivery.adapters.orm import download_links, handovers
from p3ke_delivery.adapters.repository import get_handover, links_of
from p3ke_delivery.domain.messages import M, Released, not_bound, status_refusal
from p3ke_delivery.domain.model import ENDED, Status, aware
from p3ke_delivery.domain.request import AskedFor
from p3ke_delivery.service_layer import agreement_steps, data_keys, milestones
from p3ke_delivery.service_layer.agreement_steps import StepRefused
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.auth import Principal
from p3ke_platform.envelope import DataKey, EnvelopeError, KeyDestroyed
from p3ke_platform.logging import get_logger
from p3ke_platform.refusal import Refused
from p3ke_platform.subject_keys import LEGACY_KEY_ID
from p3ke_platform.unit_of_work import UnitOfWork

log = get_logger(__name__)


def _handover(session: Any, handover_id: str) -> RowMapping:
    row = get_handover(session, handover_id)
    if row is None:
        raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")
    return row


def _may_receive(ctx: DeliveryContext, principal: Principal, row: RowMapping, released: Released) -> None:
    """The policy's answer for party 1 releasing and the caller receiving this handover's data now, then the
    handover's state, then whether the caller is the requester (or the recipient the request named)."""
    fields = json.loads(row["fields"]) if row["fields"] else []
    now = ctx.clock()
    program, purpose = row["program"], row["purpose"]
    try:
        agreement_steps.check(ctx, "release-package", "release", program=program, purpose=purpose, fields=fields,
                              at=now)
        agreement_steps.check(ctx, "download-package", "release", program=program, purpose=purpose, fields=fields,
                              at=now, org=principal.org, roles=principal.roles)
    except StepRefused as refused:
        raise Refused(403, refused.reason, rule=refused.rule) from None
    if row["status"] != Status.SIGNED:
        code = 410 if row["status"] == Status.REVOKED else 409
        raise Refused(code, status_refusal(row["status"], released), rule="status")
    request = AskedFor.of(row)
    if request.bound and not request.may_receive(principal.org, principal.subject):
        raise Refused(403, not_bound(released, handover_id=row["handover_id"], request_id=row["request_id"],
                                     org=principal.org, subject=principal.subject,
                                     has_recipient=request.recipient is not None), rule="requester")


def release_password(ctx: DeliveryContext, handover_id: str, principal: Principal) -> dict[str, Any]:
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        row = _handover(uow.session, handover_id)
        _may_receive(ctx, principal, row, "password")
        try:  # a disposed handover answers 410 to every release, whatever was released before
            data_key = data_keys.handover_key(ctx, uow.session, handover_id)
        except KeyDestroyed as gone:
            raise data_keys.disposed(handover_id, gone) from None
        if row["password_released_at"] is not None:
            # when, not to whom: the answer names no other person
            at = aware(row["password_released_at"]).isoformat(timespec="seconds")
            raise Refused(409, M("released_once", at=at), rule="released-once")
        sealed = row["password_ciphertext"]
        if not sealed:
            raise Refused(409, M("no_password"), rule="released-once")
        password = ctx.keys.open(handover_id, sealed, data_key)
        taken = uow.session.execute(
            update(handovers).where(handovers.c.handover_id == handover_id,
                                    handovers.c.password_released_at.is_(None),
                                    handovers.c.status == Status.SIGNED)
            # the sealed copy is wiped: once released, the server cannot give it out again
            .values(password_released_at=now, password_released_to=principal.subject,
                    password_ciphertext=None, updated_at=now)).rowcount
        if taken != 1:
            raise Refused(409, M("released_concurrently"), rule="released-once")
        uow.record_access(actor=principal.actor(), action="release-key", resource_type="package-password",
                          resource_id=handover_id, record_count=row["record_count"],
                          agreement_id=row["agreement_id"], program=row["program"],
                          reason=f"package password of BAST {row['bast_number']} released")
    log.info("package password released", handover_id=handover_id, to=principal.subject)
    return {"handover_id": handover_id, "password": password, "released_at": now,
            "package_sha256": row["package_sha256"]}


def issue_link(ctx: DeliveryContext, handover_id: str, principal: Principal) -> dict[str, Any]:
    now = ctx.clock()
    expires = now + timedelta(seconds=ctx.settings.delivery_link_ttl_seconds)
    link_id = secrets.token_hex(12)
    with ctx.unit_of_work() as uow:
        row = _handover(uow.session, handover_id)
        _may_receive(ctx, principal, row, "link")
        uow.session.execute(insert(download_links).values(
            link_id=link_id, handover_id=handover_id, issued_to=principal.subject, issued_at=now,
            expires_at=expires, downloads=0))
    token = ctx.keys.sign_link(LinkClaims(link_id, handover_id, principal.subject, expires))
    return {"link_id": link_id, "url": f"/v1/handovers/{handover_id}/package?link={token}", "token": token,
            "expires_at": expires, "package_name": row["package_file"], "package_sha256": row["package_sha256"],
            "package_size": row["package_size"]}


@dataclass(frozen=True)
class Download:
    """The package as party 2 receives it: `stream` yields the ZIP's bytes (decrypted from the stored file as it
    is read); the caller closes it."""

    stream: BinaryIO
    name: str
    sha256: str
    size: int


def download(ctx: DeliveryContext, handover_id: str, principal: Principal, token: str) -> Download:
    now = ctx.clock()
    try:
        claims = ctx.keys.verify_link(token, now=now)
    except LinkError as exc:
        raise Refused(410 if "expired" in str(exc) else 403, M("link.rejected", reason=str(exc), handover=handover_id),
                      rule="link") from None
    except (ValueError, KeyError):
        raise Refused(403, M("link.malformed", handover=handover_id), rule="link") from None
    if claims.handover_id != handover_id:
        raise Refused(403, M("link.other_handover", issued_for=claims.handover_id, handover=handover_id), rule="link")
    if claims.issued_to != principal.subject:
        raise Refused(403, M("link.other_account"), rule="link")
    with ctx.unit_of_work() as uow:
        row = _handover(uow.session, handover_id)
        _may_receive(ctx, principal, row, "download")
        link = next((x for x in links_of(uow.session, handover_id) if x["link_id"] == claims.link_id), None)
        if link is None:
            raise Refused(403, M("link.unknown"), rule="link")
        if link["revoked_at"] is not None:
            raise Refused(410, M("link.revoked", at=aware(link["revoked_at"]).isoformat(timespec="seconds")),
                          rule="link")
        try:
            data_key = data_keys.handover_key(ctx, uow.session, handover_id)
        except KeyDestroyed as gone:
            raise data_keys.disposed(handover_id, gone) from None
        path = ctx.storage.path(handover_id, row["package_file"])
        stream = _open_package(path, row["package_size"], data_key)
        uow.session.execute(update(download_links).where(download_links.c.link_id == link["link_id"])
                            .values(downloads=download_links.c.downloads + 1, last_download_at=now))
        milestones.first_download(uow, row, now)  # the package's retention period starts at its first download
        _record_download(ctx, uow, principal, row, link["link_id"], now)
    log.info("package downloaded", handover_id=handover_id, link_id=link["link_id"])
    return Download(stream, row["package_file"], row["package_sha256"], row["package_size"])


def _open_package(path: Path, size: int, data_key: DataKey | None) -> BinaryIO:
    """The stored package, opened (so a disposal removing the file now does not cut the download short) and
    checked: present, of the size its package implies, its start authentic under the handover's data key."""
    gone = Refused(410, M("package.gone"), rule="package")
    if not path.is_file() or path.stat().st_size != package.stored_size(size, data_key):
        raise gone
    try:
        return package.open_stored(path, data_key)
    except (EnvelopeError, OSError):
        raise gone from None


def _record_download(ctx: DeliveryContext, uow: UnitOfWork, principal: Principal, row: RowMapping, link_id: str,
                     now: datetime) -> None:
    """The download in the audit log with every released person's keyed hash (UU PDP Art. 31-32), so a
    data subject's trail shows it; the references are streamed from the handover's file, and the platform
    splits them over events of MAX_SUBJECTS_PER_EVENT."""
    handover_id = row["handover_id"]
    uow.record_access(actor=principal.actor(), action="download", resource_type="package", resource_id=handover_id,
                      outcome="allowed", at=now, record_count=row["record_count"], agreement_id=row["agreement_id"],
                      program=row["program"], reason=f"package of BAST {row['bast_number']} (link {link_id})",
                      subject_refs=subjects.read_refs(ctx.storage.path(handover_id, subjects.REFS_FILE)),
                      subject_key_id=row["subject_key_id"] or LEGACY_KEY_ID)


def revoke_link(ctx: DeliveryContext, handover_id: str, link_id: str, principal: Principal) -> dict[str, Any]:
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        _handover(uow.session, handover_id)
        link = next((x for x in links_of(uow.session, handover_id) if x["link_id"] == link_id), None)
        if link is None:
            raise Refused(404, M("link.not_found", link=link_id, handover=handover_id), rule="not-found")
        party1_steward = principal.org == ctx.policy.terms_at(now).party(1).org and "data-steward" in principal.roles
        if link["issued_to"] != principal.subject and not party1_steward:
            raise Refused(403, M("link.revoke_not_allowed"), rule="role")
        uow.session.execute(update(download_links).where(download_links.c.link_id == link_id,
                                                         download_links.c.revoked_at.is_(None))
                            .values(revoked_at=now))
    return {"link_id": link_id, "revoked_at": now}


def revoke(ctx: DeliveryContext, handover_id: str, principal: Principal, reason: str) -> dict[str, Any]:
    """Stop a handover: no more signatures, password or downloads; links die; the package is deleted and its
    data key destroyed (so no copy of it, nor of the password, opens again)."""
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        row = _handover(uow.session, handover_id)
        if row["status"] in ENDED:
            raise Refused(409, M("revoke.ended", status=row["status"]), rule="status")
        revoked = uow.session.execute(
            update(handovers).where(handovers.c.handover_id == handover_id, handovers.c.status.not_in(list(ENDED)))
            .values(status=Status.REVOKED, revoked_at=now, revoked_by=principal.subject,
                    reason=f"revoked: {reason}", password_ciphertext=None, updated_at=now)).rowcount
        if revoked != 1:  # revoked (or ended) by another request meanwhile
            raise Refused(409, M("revoke.ended", status=Status.REVOKED), rule="status")
        milestones.emit(uow, row, "handover-revoked", now)
        uow.session.execute(update(download_links).where(download_links.c.handover_id == handover_id,
                                                         download_links.c.revoked_at.is_(None))
                            .values(revoked_at=now))
        destroyed = data_keys.destroy_in(ctx, uow.session, handover_id, f"revoked: {reason}", now)
        if row["package_file"]:  # the package is destroyed with the revocation: an erase record (UU PDP Art. 43-44)
            refs = list(dict.fromkeys(subjects.read_refs(ctx.storage.located(handover_id, subjects.REFS_FILE))))
            key = f"; kunci data {destroyed.key_id} dimusnahkan / data key {destroyed.key_id} destroyed" if destroyed \
                else ""
            uow.record_access(actor=principal.actor(), action="erase", resource_type="package",
                              resource_id=handover_id, at=now, record_count=row["record_count"],
                              agreement_id=row["agreement_id"], program=row["program"],
                              reason=f"package: dimusnahkan karena serah terima dicabut / destroyed as the handover "
                                     f"was revoked; sha256 {row['package_sha256'] or '-'}{key}",
                              subject_refs=refs, subject_key_id=(row["subject_key_id"] or LEGACY_KEY_ID) if refs
                              else None)
    if row["package_file"]:
        ctx.storage.remove(handover_id, row["package_file"])
    log.info("handover revoked", handover_id=handover_id, by=principal.subject)
    return {"handover_id": handover_id, "status": Status.REVOKED, "revoked_at": now}
