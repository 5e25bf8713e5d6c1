"""Party 2's disposal certificate (berita acara pemusnahan) of a signed handover: when it is owed, issuing it,
verifying party 2's signature on it.

* `declare_purpose_ended`: party 2's program officer or party 1's data steward says the handover's purpose ended;
  the certificate is due (domain.disposal_certificate) and `disposal-status-changed` (due) is emitted once;
* `announce_due` (the `delivery-disposal-due` job, `due_loop`): once the agreement's last day in force has passed,
  every signed handover not yet announced becomes due the same way;
* `issue`: party 2's program officer says what was destroyed, how and when; the service renders the certificate
  (adapters.disposal_pdf) and keeps its SHA-256; issuing again (before it is signed) replaces it, same number;
* `accept_signature`: party 2's signatory's PAdES signature (`p3ke bast sign --party 2`), checked by
  adapters.pdf_signatures exactly as a BAST signature is (intact, trusted chain, revocation, an incremental update
  over the certificate as issued, changing nothing but the signature field), by the signatory the certificate
  names; then the handover is `disposal-certified` and `disposal-status-changed` (certified) is emitted, which
  fulfils the audit desk's obligation.

Each issue, download and upload (and each refusal, by the API) is recorded in the audit log. The status is
computed with `ctx.clock`. The certificate may be issued and signed before it is due (party 2 destroyed early).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_delivery.adapters import disposal_pdf, pdf_signatures
from p3ke_delivery.adapters.bast_pdf import parties_on_paper
from p3ke_delivery.adapters.orm import disposal_certificates, handovers
from p3ke_delivery.adapters.repository import get_handover, handover_by_bast_sha256, next_sequence
from p3ke_delivery.domain import agreed_program, numbering
from p3ke_delivery.domain import disposal_certificate as rules
from p3ke_delivery.domain.model import aware
from p3ke_delivery.service_layer import milestones
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_delivery.service_layer.signing import revocation_lists
from p3ke_platform.agreement import agreement_day
from p3ke_platform.agreement.policy import WIB
from p3ke_platform.auth import Principal
from p3ke_platform.logging import describe_error, get_logger
from p3ke_platform.refusal import Message, Refused, messages
from p3ke_platform.settings import ConfigurationError
from p3ke_schemas import DisposalStatusChanged, Signer

log = get_logger(__name__)
M = messages("delivery")
PARTY_2 = 2
RESOURCE = "disposal-certificate"


@dataclass(frozen=True)
class Facts:
    """What party 2 states when it asks for the certificate."""

    method: str
    destroyed_at: datetime
    items: tuple[str, ...]
    notes: str | None = None


# --- status -------------------------------------------------------------------------------------------------

def agreement_end(ctx: DeliveryContext) -> datetime:
    """When the agreement stops being in force, as its terms (with every addendum and notice) say now."""
    last = ctx.policy.agreement.timeline()[-1][1].validity.last_day
    return rules.agreement_ends_at(last, WIB)


def _due(ctx: DeliveryContext, handover: RowMapping, cert: RowMapping | None, now: datetime) -> rules.Due | None:
    if handover["signed_at"] is None:
        return None  # nothing was handed over: nothing to destroy
    ended = aware(cert["purpose_ended_at"]) if cert is not None and cert["purpose_ended_at"] else None
    return rules.due_of(ended, agreement_end(ctx), now, ctx.settings.delivery_disposal_certificate_days)


def _status(ctx: DeliveryContext, handover: RowMapping, cert: RowMapping | None,
            now: datetime) -> rules.DisposalStatus | None:
    certified = aware(cert["certified_at"]) if cert is not None and cert["certified_at"] else None
    return rules.status_of(_due(ctx, handover, cert, now), certified, now)


def statuses(ctx: DeliveryContext, rows: list[RowMapping]) -> dict[str, str | None]:
    """Each handover's disposal status now (None: nothing owed yet), for the handover listing and detail."""
    now = ctx.clock()
    ids = [r["handover_id"] for r in rows if r["signed_at"] is not None]
    certs: dict[str, RowMapping] = {}
    if ids:
        with ctx.unit_of_work() as uow:
            certs = {c["handover_id"]: c for c in uow.session.execute(
                select(disposal_certificates).where(disposal_certificates.c.handover_id.in_(ids))).mappings()}
    return {r["handover_id"]: _status(ctx, r, certs.get(r["handover_id"]), now) for r in rows}


def view(ctx: DeliveryContext, handover_id: str) -> dict[str, Any]:
    """The disposal certificate of a handover: whether and since when it is owed, as issued, as certified."""
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        handover = _handover(uow.session, handover_id)
        cert = _cert(uow.session, handover_id)
    return _view(ctx, handover, cert, now)


def _view(ctx: DeliveryContext, handover: RowMapping, cert: RowMapping | None, now: datetime) -> dict[str, Any]:
    due = _due(ctx, handover, cert, now)
    c: dict[str, Any] = dict(cert) if cert is not None else {}
    return {
        "handover_id": handover["handover_id"], "bast_number": handover["bast_number"],
        "status": _status(ctx, handover, cert, now),
        "due_reason": due.reason if due else None, "due_since": due.since if due else None,
        "due_by": due.by if due else None,
        "purpose_ended_at": _aware(c.get("purpose_ended_at")),
        "number": c.get("number"), "method": c.get("method"),
        "items": json.loads(c["items"]) if c.get("items") else [], "destroyed_at": _aware(c.get("destroyed_at")),
        "issued_at": _aware(c.get("issued_at")), "issued_sha256": c.get("sha256"),
        "signatory_id": c.get("signatory_id"), "certified_at": _aware(c.get("certified_at")),
        "signed_sha256": c.get("signed_sha256"), "certificate_sha256": c.get("certificate_sha256"),
    }


def _aware(value: Any) -> Any:
    return aware(value) if isinstance(value, datetime) else value


# --- the triggers -------------------------------------------------------------------------------------------

def declare_purpose_ended(ctx: DeliveryContext, handover_id: str, principal: Principal,
                          note: str | None) -> dict[str, Any]:
    """Party 2's program officer or party 1's data steward: this handover's purpose ended; the certificate is due."""
    now = ctx.clock()
    _check_text("note", note)
    terms = ctx.policy.terms_at(now)
    party = terms.org_party(principal.org)
    allowed = party is not None and ((party.party == PARTY_2 and "program-officer" in principal.roles)
                                     or (party.party == 1 and "data-steward" in principal.roles))
    if not allowed:
        raise Refused(403, M("disposal.declare_role"), rule="role")
    with ctx.unit_of_work() as uow:
        handover = _handover(uow.session, handover_id)
        _must_be_signed(handover)
        cert = _locked(uow.session, handover_id)
        if cert["purpose_ended_at"] is not None:
            when = aware(cert["purpose_ended_at"]).isoformat(timespec="seconds")
            raise Refused(409, M("disposal.already_ended", handover=handover_id, at=when), rule="already-ended")
        uow.session.execute(update(disposal_certificates).where(disposal_certificates.c.handover_id == handover_id)
                            .values(purpose_ended_at=now, purpose_ended_by=principal.subject[:200],
                                    purpose_ended_note=note))
        milestones.emit(uow, handover, "purpose-ended", now)  # the package's and the extract's periods start
        cert = _cert(uow.session, handover_id)
        assert cert is not None
        _announce(ctx, uow, handover, cert, now)
        result = _view(ctx, handover, _cert(uow.session, handover_id), now)
    log.info("handover purpose ended", handover_id=handover_id, due_by=str(result["due_by"]))
    return result


def announce_due(ctx: DeliveryContext, batch: int = 500) -> int:
    """Once the agreement has ended: announce every signed handover's certificate as due (once each); returns how
    many were announced."""
    now = ctx.clock()
    if agreement_end(ctx) > now:
        return 0
    done = 0
    while True:
        with ctx.unit_of_work() as uow:
            session = uow.session
            joined = handovers.outerjoin(disposal_certificates,
                                         disposal_certificates.c.handover_id == handovers.c.handover_id)
            ids = session.execute(
                select(handovers.c.handover_id).select_from(joined)
                .where(handovers.c.signed_at.is_not(None), disposal_certificates.c.due_announced_at.is_(None),
                       disposal_certificates.c.certified_at.is_(None))
                .order_by(handovers.c.handover_id).limit(batch)).scalars().all()
            announced = 0
            for handover_id in ids:
                handover = _handover(session, handover_id)
                announced += _announce(ctx, uow, handover, _locked(session, handover_id), now)
        done += announced
        if len(ids) < batch or not announced:  # the last page, or nothing more can be announced
            return done


def due_loop(ctx: DeliveryContext, stop: threading.Event) -> None:
    """The `delivery-disposal-due` job: `announce_due` at once and every P3KE_DELIVERY_DISPOSAL_DUE_POLL_SECONDS."""
    while True:
        try:
            announced = announce_due(ctx)
            if announced:
                log.info("disposal certificates due", announced=announced)
        except Exception as exc:  # keep going; the next round may succeed
            log.warning("announcing disposal certificates failed", error=describe_error(exc))
        if stop.wait(ctx.settings.delivery_disposal_due_poll_seconds):
            return


def _announce(ctx: DeliveryContext, uow: Any, handover: RowMapping, cert: RowMapping, now: datetime) -> int:
    """Record and emit `due` once, unless it was announced or certified already."""
    due = _due(ctx, handover, cert, now)
    if due is None or cert["due_announced_at"] is not None or cert["certified_at"] is not None:
        return 0
    handover_id = handover["handover_id"]
    uow.session.execute(update(disposal_certificates).where(disposal_certificates.c.handover_id == handover_id)
                        .values(due_reason=due.reason, due_since=due.since, due_by=due.by, due_announced_at=now))
    uow.emit(DisposalStatusChanged(
        handover_id=handover_id, bast_number=handover["bast_number"], agreement_id=handover["agreement_id"],
        program=handover["program"], status="due", due_reason=due.reason, due_since=due.since, due_by=due.by,
        occurred_at=now), subject=handover_id)
    return 1


# --- issuing ------------------------------------------------------------------------------------------------

def issue(ctx: DeliveryContext, handover_id: str, principal: Principal, facts: Facts) -> dict[str, Any]:
    """Party 2's program officer: render the certificate with what was destroyed, how and when."""
    now = ctx.clock()
    terms = ctx.policy.terms_at(now)
    party = terms.org_party(principal.org)
    if party is None or party.party != PARTY_2 or "program-officer" not in principal.roles:
        raise Refused(403, M("disposal.issue_role"), rule="role")
    _check_text("method", facts.method)
    _check_text("notes", facts.notes)
    unknown = sorted(set(facts.items) - set(rules.ITEMS))
    if unknown or not facts.items:
        raise Refused(422, M("disposal.items", items=", ".join(rules.ITEMS)), rule="items")
    destroyed_at = aware(facts.destroyed_at)
    skew = timedelta(seconds=ctx.settings.delivery_signing_skew_seconds)
    if destroyed_at > now + skew:
        raise Refused(422, M("disposal.destroyed_in_future", at=destroyed_at.isoformat()), rule="destroyed-at")
    signatory = next((s for s in terms.signatories if s.party == PARTY_2), None)
    if signatory is None:
        raise Refused(409, M("disposal.no_signatory", terms=terms.version), rule="no-signatory")
    with ctx.unit_of_work() as uow:
        handover = _handover(uow.session, handover_id)
        _must_be_signed(handover)
        signed_at = aware(handover["signed_at"])
        if destroyed_at < signed_at:
            raise Refused(422, M("disposal.destroyed_before_bast", at=destroyed_at.isoformat(),
                                 signed=signed_at.isoformat()), rule="destroyed-at")
        cert = _locked(uow.session, handover_id)
        if cert["certified_at"] is not None:
            raise _already_certified(cert)
        number = cert["number"] or _number(ctx, uow.session, handover["program"], now)
    first = next(s for s in terms.signatories if s.party == 1)
    program = agreed_program.describe(ctx.policy, handover["program"], handover["purpose"], now)
    due = _due(ctx, handover, cert, now)
    pdf = disposal_pdf.render(disposal_pdf.DisposalContent(
        number=number, issued_on=agreement_day(now), place=ctx.settings.delivery_bast_place,
        agreement_title=terms.title, agreement_signed_on=terms.signed_on, terms_version=terms.version,
        parties=parties_on_paper(terms, (first, signatory)), handover_id=handover_id,
        bast_number=handover["bast_number"], bast_signed_on=agreement_day(signed_at),
        program_code=program.code, program_title=program.title, package_name=handover["package_file"] or "-",
        package_sha256=handover["package_sha256"] or "-", record_count=int(handover["record_count"]),
        extract_sha256=handover["extract_sha256"], items=tuple(i for i in rules.ITEMS if i in facts.items),
        method=facts.method, destroyed_at=destroyed_at.astimezone(WIB), reason=due.reason if due else None,
        notes=facts.notes, example_terms=ctx.policy.agreement.example_terms(terms)))
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"disposal-certificate-{digest[:16]}.pdf"
    ctx.storage.write(handover_id, name, pdf)
    with ctx.unit_of_work() as uow:
        changed = uow.session.execute(
            update(disposal_certificates).where(disposal_certificates.c.handover_id == handover_id,
                                                disposal_certificates.c.certified_at.is_(None))
            .values(number=number, method=facts.method, items=json.dumps(list(facts.items)),
                    destroyed_at=destroyed_at, notes=facts.notes, issued_at=now, issued_by=principal.subject[:200],
                    signatory_id=signatory.id, file=name, sha256=digest)).rowcount
        if changed != 1:
            raise Refused(409, M("disposal.certified_meanwhile"), rule="concurrent-change")
        uow.record_access(actor=principal.actor(), action="export", resource_type=RESOURCE,
                          resource_id=handover_id, agreement_id=handover["agreement_id"],
                          program=handover["program"], reason=f"berita acara pemusnahan {number} diterbitkan, "
                                                              f"SHA-256 {digest}")
        result = _view(ctx, handover, _cert(uow.session, handover_id), now)
    log.info("disposal certificate issued", handover_id=handover_id, number=number, sha256=digest)
    return result


def document(ctx: DeliveryContext, handover_id: str, principal: Principal,
             version: str | None) -> tuple[bytes, str]:
    """The certificate PDF: as issued (to sign), or as signed once certified (the default then)."""
    with ctx.unit_of_work() as uow:
        handover = _handover(uow.session, handover_id)
        cert = _cert(uow.session, handover_id)
        if cert is None or cert["file"] is None:
            raise Refused(404, M("disposal.not_issued_yet", handover=handover_id), rule="not-issued")
        wanted = version or ("signed" if cert["signed_file"] else "issued")
        if wanted == "signed" and not cert["signed_file"]:
            raise Refused(409, M("disposal.not_signed_yet"), rule="not-signed")
        name = cert["signed_file"] if wanted == "signed" else cert["file"]
        uow.record_access(actor=principal.actor(), action="read", resource_type=RESOURCE, resource_id=handover_id,
                          agreement_id=handover["agreement_id"], program=handover["program"],
                          reason=f"berita acara pemusnahan {cert['number']} ({wanted})")
    return ctx.storage.read(handover_id, name), f"BAP_{handover_id}_{wanted}.pdf"


# --- party 2's signature ------------------------------------------------------------------------------------

def check_signing_role(ctx: DeliveryContext, principal: Principal) -> None:
    """Before the PDF is read: only party 2's signatory signs a disposal certificate."""
    party = ctx.policy.terms_at(ctx.clock()).org_party(principal.org)
    if party is None or party.party != PARTY_2 or "signatory" not in principal.roles:
        raise Refused(403, M("disposal.sign_role"), rule="role")


def accept_signature(ctx: DeliveryContext, handover_id: str, principal: Principal, pdf: bytes) -> dict[str, Any]:
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        handover = _handover(uow.session, handover_id)
        cert = _cert(uow.session, handover_id)
    if cert is None or cert["file"] is None:
        raise Refused(409, M("disposal.not_issued", handover=handover_id), rule="not-issued")
    if cert["certified_at"] is not None:
        raise _already_certified(cert)
    issued = ctx.storage.read(handover_id, cert["file"])
    try:
        anchors, mapping, crls = ctx.trust_anchors, ctx.signatory_certificates, revocation_lists(ctx)
    except ConfigurationError as exc:
        raise Refused(503, M("signing.unverifiable", problem=str(exc)), rule="configuration") from None
    try:
        new = pdf_signatures.verify_upload(
            pdf, issued=issued, current=issued, signed_fields=set(), trust_anchors=anchors, now=now,
            revocation_mode=ctx.settings.delivery_revocation_mode,
            allow_fetching=ctx.settings.delivery_fetch_revocation, crls=crls)
    except Refused as refused:
        if refused.status == 503:
            raise
        detail = refused.message or refused.reason  # the verifier's own message, rendered in the caller's language
        which = _which_document(ctx, pdf, handover_id) if refused.rule == "not-this-bast" else None
        raise Refused(refused.status, rules.upload_refusal(refused.rule, detail, which), rule=refused.rule) from None

    terms = ctx.policy.terms_at(now)
    ids = mapping.signatories_of(new.facts)
    known = [s for s in terms.signatories if s.id in ids]
    if not known:
        raise Refused(403, rules.unknown_signer(new.facts.subject, new.facts.serial, terms.version),
                      rule="wrong-signer")
    signatory = known[0]
    if signatory.party != PARTY_2 or new.party != PARTY_2 or signatory.id != cert["signatory_id"]:
        raise Refused(403, rules.not_party_2_signer(signatory.id, signatory.party, cert["signatory_id"]),
                      rule="wrong-signer")
    skew = timedelta(seconds=ctx.settings.delivery_signing_skew_seconds)
    signed_at = new.signed_at or now
    if signed_at > now + skew or signed_at < aware(cert["issued_at"]) - skew:
        raise Refused(422, M("disposal.signing_time", at=signed_at.isoformat(),
                             issued=aware(cert["issued_at"]).isoformat()), rule="signing-time")

    digest = hashlib.sha256(pdf).hexdigest()
    name = f"disposal-certificate-signed-{digest[:16]}.pdf"
    ctx.storage.write(handover_id, name, pdf)
    with ctx.unit_of_work() as uow:
        changed = uow.session.execute(
            update(disposal_certificates).where(disposal_certificates.c.handover_id == handover_id,
                                                disposal_certificates.c.sha256 == cert["sha256"],
                                                disposal_certificates.c.certified_at.is_(None))
            .values(certified_at=now, certified_by=principal.subject[:200], signed_file=name, signed_sha256=digest,
                    signed_at=signed_at, certificate_sha256=new.facts.sha256,
                    certificate_subject=new.facts.subject[:1000], certificate_serial=new.facts.serial[:100])).rowcount
        if changed != 1:
            raise Refused(409, M("disposal.changed_meanwhile"), rule="concurrent-change")
        cert = _cert(uow.session, handover_id)
        assert cert is not None
        due = _due(ctx, handover, cert, now)
        uow.emit(DisposalStatusChanged(
            handover_id=handover_id, bast_number=handover["bast_number"], agreement_id=handover["agreement_id"],
            program=handover["program"], status="certified", due_reason=due.reason if due else None,
            due_since=due.since if due else None, due_by=due.by if due else None, certificate_number=cert["number"],
            certificate_sha256=digest, issued_sha256=cert["sha256"],
            signer=Signer(party=PARTY_2, org=signatory.org, signatory_id=signatory.id,
                          certificate_sha256=new.facts.sha256, signed_at=signed_at),
            destroyed_at=aware(cert["destroyed_at"]), occurred_at=now), subject=handover_id)
        uow.record_access(actor=principal.actor(), action="upload", resource_type=RESOURCE, resource_id=handover_id,
                          agreement_id=handover["agreement_id"], program=handover["program"],
                          reason=f"berita acara pemusnahan {cert['number']} ditandatangani oleh {signatory.id}")
        result = _view(ctx, handover, cert, now)
    log.info("disposal certificate signed", handover_id=handover_id, signatory_id=signatory.id)
    return result


def _which_document(ctx: DeliveryContext, pdf: bytes, handover_id: str) -> Message | None:
    """Why an upload over another document is refused, naming that document if the service issued it."""
    original = hashlib.sha256(pdf_signatures.original_revision(pdf)).hexdigest()
    with ctx.unit_of_work() as uow:
        other = uow.session.execute(select(disposal_certificates.c.handover_id, disposal_certificates.c.number)
                                    .where(disposal_certificates.c.sha256 == original)).mappings().first()
        bast = handover_by_bast_sha256(uow.session, original)
    reason = rules.upload_words("not-this-bast")
    if other is not None and other["handover_id"] != handover_id:
        return M("disposal.upload_is_other_certificate", reason=reason, number=other["number"],
                 handover=other["handover_id"])
    if bast is not None:
        return M("disposal.upload_is_bast", reason=reason, bast=bast["bast_number"])
    return None


# --- rows ---------------------------------------------------------------------------------------------------

def _handover(session: Session, handover_id: str) -> RowMapping:
    row = get_handover(session, handover_id)
    if row is None:
        raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")
    return row


def _must_be_signed(handover: RowMapping) -> None:
    if handover["signed_at"] is None:
        raise Refused(409, M("disposal.bast_not_signed", handover=handover["handover_id"], status=handover["status"]),
                      rule="status")


def _cert(session: Session, handover_id: str) -> RowMapping | None:
    return session.execute(select(disposal_certificates)
                           .where(disposal_certificates.c.handover_id == handover_id)).mappings().first()


def _locked(session: Session, handover_id: str) -> RowMapping:
    """The handover's certificate row, created if missing, locked for this transaction (PostgreSQL)."""
    try:
        with session.begin_nested():
            session.execute(insert(disposal_certificates).values(handover_id=handover_id))
    except IntegrityError:  # it exists (or another transaction created it first)
        pass
    return session.execute(select(disposal_certificates).where(disposal_certificates.c.handover_id == handover_id)
                           .with_for_update()).mappings().one()


def _number(ctx: DeliveryContext, session: Session, program: str, now: datetime) -> str:
    pattern = ctx.settings.delivery_disposal_number_pattern
    day = agreement_day(now)
    return numbering.render(pattern, next_sequence(session, numbering.scope(pattern, day, program)), day, program)


def _check_text(label: str, value: str | None) -> None:
    problem = rules.text_problem(label, value)
    if problem:
        raise Refused(422, problem, rule="personal-data")


def _already_certified(cert: RowMapping) -> Refused:
    when = aware(cert["certified_at"]).isoformat(timespec="seconds")
    return Refused(409, M("disposal.already_certified", number=cert["number"], at=when), rule="already-certified")
