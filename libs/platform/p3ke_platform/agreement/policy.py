"""The one answer to "may this actor do this action for this program at this time?".

Why one module: every service (targeting, delivery, feedback, audit) must refuse the same things
for the same reasons, and an auditor must be able to read why. So the rules of the PKS live here
once, as a pure function of the recorded agreement and the question (no clock, no I/O, no
database): the caller passes the time, and the decision names the terms version it applied and the digest
of the exact files it was read from (`terms_sha256`).

Checks run in a fixed order and the first failure is the reason:
action known -> actor's org is a party -> role grants the action -> (sign-bast) signatory ->
(data actions) agreement in force, Art. 8/15 -> program in scope, Art. 3 or written approval,
Art. 10(2) -> purpose one of the program's (required to request an extract or plan), UU PDP Art. 16(2)(a)
-> fields within the program's list, Art. 10(1) -> (publish-report) the other party's consent, Art. 10(3).

Every reason is a catalogue message (PO domain `agreement`, Bahasa Indonesia first): `Decision.message` is it,
rendered in the caller's language where it is answered (`Refused.unless`), and `Decision.reason` its one stable
text in both languages ("Indonesian / English") for the audit log. The rule (`Decision.rule`) is the machine code.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from p3ke_platform.refusal import Joined, Message, messages
from p3ke_schemas.events import Actor

from .model import (
    ACTIONS,
    DATA_ACTIONS,
    DISCLOSURE_ACTIONS,
    PURPOSE_ACTIONS,
    Agreement,
    DisclosureConsent,
    Eligibility,
    Purpose,
    Terms,
    WrittenApproval,
)

WIB = timezone(timedelta(hours=7), "WIB")
"""Jakarta time (no daylight saving): the agreement's days are Jakarta calendar days."""

M = messages("agreement")


class Rule(StrEnum):
    """Which rule decided; stable identifiers for logs, metrics and the audit trail."""

    UNKNOWN_ACTION = "unknown-action"
    NOT_A_PARTY = "not-a-party"
    ROLE = "role"
    SIGNATORY = "signatory"
    NOT_YET_IN_FORCE = "not-yet-in-force"
    EXPIRED = "expired"
    TERMINATED = "terminated"
    PROGRAM_REQUIRED = "program-required"
    PROGRAM_SCOPE = "program-scope"
    PURPOSE_REQUIRED = "purpose-required"
    PURPOSE = "purpose"
    FIELD_MINIMISATION = "field-minimisation"
    DISCLOSURE_CONSENT = "disclosure-consent"
    ALLOWED = "allowed"


class Decision(BaseModel):
    """The answer, with a reason a person can read and the terms version it was decided under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: bool
    reason: str
    """The reason in both languages, "Indonesian / English" (the audit log's text)."""
    terms_version: str
    rule: str
    grounds: tuple[str, ...] = ()
    """Ids of the written approvals / disclosure consents the permission relies on."""
    terms_sha256: str | None = None
    """The digest of the exact agreement files the decision was taken under (`Agreement.digest`): the version
    label names the addenda applied, this proves which text they had."""
    message: InstanceOf[Message] | None = Field(default=None, exclude=True, repr=False)
    """The reason as a catalogue message (domain `agreement`), to render in the caller's language."""


def agreement_day(at: date | datetime) -> date:
    """The Jakarta calendar day of `at`; a naive datetime is taken as Jakarta local time."""
    if isinstance(at, datetime):
        return (at.astimezone(WIB) if at.tzinfo else at).date()
    return at


def _purpose_ok(required: str | None, given: str | None) -> bool:
    if required is None:
        return True
    return given is not None and required.strip().casefold() == given.strip().casefold()


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def _listed(items: Iterable[str]) -> str | Message:
    """Codes joined by commas, or "none" in the reader's language."""
    return ", ".join(items) or M("none")


def _hint(misses: Iterable[Message]) -> Joined:
    """Why the approvals or consents that came close do not apply: "; <why>; <why>" (or nothing)."""
    return Joined(tuple(misses), lead="; ")


def _window(dated: WrittenApproval | DisclosureConsent) -> Message:
    if dated.last_day is None:
        return M("window.open", first_day=str(dated.valid_from))
    return M("window", first_day=str(dated.valid_from), last_day=str(dated.last_day))


class _Denied(Exception):
    def __init__(self, rule: Rule, message: Message) -> None:
        super().__init__(message.both())
        self.rule = rule
        self.message = message


@dataclass
class _Ask:
    """One question, the terms that apply to it, and what the checks found so far."""

    terms: Terms
    day: date
    org: str
    roles: tuple[str, ...]
    action: str
    program: str | None
    fields: tuple[str, ...]
    purpose: str | None
    signatory_id: str | None
    notes: list[Message] = field(default_factory=list)
    grounds: list[str] = field(default_factory=list)


class Policy:
    """Decisions under one recorded agreement. Build once per loaded agreement; thread-safe (read-only)."""

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.terms_sha256 = agreement.digest
        self._timeline = agreement.timeline()
        self._starts = [start for start, _ in self._timeline]

    def terms_at(self, at: date | datetime) -> Terms:
        """The effective terms on the Jakarta day of `at` (the PKS plus addenda effective by then)."""
        index = bisect.bisect_right(self._starts, agreement_day(at)) - 1
        return self._timeline[max(index, 0)][1]

    def decide_for(
        self,
        actor: Actor,
        action: str,
        program: str | None = None,
        fields: Iterable[str] = (),
        *,
        at: date | datetime,
        purpose: str | None = None,
        signatory_id: str | None = None,
    ) -> Decision:
        """`decide` for the `Actor` carried in events."""
        return self.decide(actor.org, actor.roles, action, program, fields,
                           at=at, purpose=purpose, signatory_id=signatory_id)

    def decide(
        self,
        actor_org: str,
        actor_roles: Iterable[str],
        action: str,
        program: str | None = None,
        fields: Iterable[str] = (),
        *,
        at: date | datetime,
        purpose: str | None = None,
        signatory_id: str | None = None,
    ) -> Decision:
        """May `actor_org` with `actor_roles` do `action` for `program`, receiving `fields`, at `at`?

        `purpose` is matched against the purpose of written approvals and disclosure consents;
        `signatory_id` is required for sign-bast and must be a signatory of `actor_org`.
        """
        day = agreement_day(at)
        roles = (actor_roles,) if isinstance(actor_roles, str) else tuple(actor_roles)
        ask = _Ask(self.terms_at(day), day, actor_org, roles, action, program,
                   tuple(dict.fromkeys(fields)), purpose, signatory_id)
        checks = (self._action, self._party, self._role, self._signatory, self._in_force,
                  self._program, self._purpose, self._fields, self._disclosure)
        try:
            for check in checks:
                check(ask)
        except _Denied as denied:
            return Decision(allowed=False, reason=denied.message.both(), message=denied.message,
                            terms_version=ask.terms.version, rule=denied.rule.value, terms_sha256=self.terms_sha256)
        allowed = M("allowed", notes=Joined(tuple(ask.notes)))
        return Decision(allowed=True, reason=allowed.both(), message=allowed,
                        terms_version=ask.terms.version, rule=Rule.ALLOWED.value,
                        grounds=tuple(dict.fromkeys(ask.grounds)), terms_sha256=self.terms_sha256)

    # --- the checks, in order -------------------------------------------------------------------

    def _action(self, ask: _Ask) -> None:
        if ask.action not in ACTIONS:
            raise _Denied(Rule.UNKNOWN_ACTION, M("unknown_action", action=ask.action, actions=", ".join(ACTIONS)))

    def _party(self, ask: _Ask) -> None:
        if ask.terms.org_party(ask.org) is None:
            parties = ", ".join(p.org for p in ask.terms.parties)
            raise _Denied(Rule.NOT_A_PARTY, M("not_a_party", org=ask.org, reference=ask.terms.reference,
                                              parties=parties))

    def _role(self, ask: _Ask) -> None:
        grants = [g for g in ask.terms.roles
                  if g.org == ask.org and g.role in ask.roles and ask.action in g.actions]
        if grants:
            ask.notes.append(M("note.role", role=grants[0].role, org=ask.org, action=ask.action))
            return
        holders = tuple(M("holder", role=g.role, org=g.org) for g in ask.terms.roles if ask.action in g.actions)
        if not ask.roles:
            who = M("who.no_role")
        else:
            who = M("who.role" if len(ask.roles) == 1 else "who.roles", roles=", ".join(ask.roles))
        raise _Denied(Rule.ROLE, M("role", who=who, org=ask.org, action=ask.action,
                                   holders=Joined(holders, sep=", ") if holders else M("nobody")))

    def _signatory(self, ask: _Ask) -> None:
        if ask.action != "sign-bast":
            return
        own = [s for s in ask.terms.signatories if s.org == ask.org]
        listing = M("signatory.listing", org=ask.org, version=ask.terms.version, ids=_listed(s.id for s in own))
        if not ask.signatory_id:
            raise _Denied(Rule.SIGNATORY, M("signatory.missing", listing=listing))
        signatory = next((s for s in own if s.id == ask.signatory_id), None)
        if signatory is None:
            raise _Denied(Rule.SIGNATORY, M("signatory.unknown", signatory=ask.signatory_id, org=ask.org,
                                            listing=listing))
        ask.notes.append(M("note.signatory", signatory=signatory.id, position=signatory.position))

    def _in_force(self, ask: _Ask) -> None:
        terms, day = ask.terms, ask.day
        if ask.action not in DATA_ACTIONS:
            ask.notes.append(M("note.not_a_handover", action=ask.action))
            return
        status = terms.status(day)
        checked = M("checked", day=str(day), version=terms.version)
        validity = terms.validity
        if status == "not-yet-in-force":
            raise _Denied(Rule.NOT_YET_IN_FORCE, M("not_yet_in_force", reference=terms.reference,
                                                   first_day=str(validity.first_day), checked=checked))
        if status == "terminated":
            notice = next(t for t in self.agreement.terminations if t.id == terms.terminated_by)
            raise _Denied(Rule.TERMINATED, M("terminated", reference=terms.reference, notice=notice.id,
                                             document=notice.document, given_by=notice.given_by,
                                             notice_date=str(notice.notice_date), last_day=str(validity.last_day),
                                             checked=checked, action=ask.action))
        if status == "expired":
            raise _Denied(Rule.EXPIRED, M("expired", reference=terms.reference, last_day=str(validity.last_day),
                                          checked=checked, action=ask.action))
        ask.notes.append(M("note.in_force", first_day=str(validity.first_day), last_day=str(validity.last_day),
                           version=terms.version))

    def _approvals_for(self, ask: _Ask) -> tuple[list[WrittenApproval], list[tuple[WrittenApproval, Message]]]:
        """Approvals covering the program on the day and purpose, and why the others do not."""
        matching: list[WrittenApproval] = []
        misses: list[tuple[WrittenApproval, Message]] = []
        for appr in self.agreement.approvals:
            if appr.program != ask.program:
                continue
            if not appr.valid_on(ask.day):
                misses.append((appr, M("approval.window", approval=appr.id, window=_window(appr))))
            elif not _purpose_ok(appr.purpose, ask.purpose):
                asked: str | Message = f"'{ask.purpose}'" if ask.purpose else M("asked.none")
                misses.append((appr, M("approval.purpose", approval=appr.id, purpose=appr.purpose or "",
                                       asked=asked)))
            else:
                matching.append(appr)
        return matching, misses

    def _program(self, ask: _Ask) -> None:
        terms = ask.terms
        codes = ", ".join(p.code for p in terms.programs)
        if ask.program is None:
            if ask.action in DATA_ACTIONS:
                raise _Denied(Rule.PROGRAM_REQUIRED, M("program.required", action=ask.action, codes=codes))
            return
        program = terms.program(ask.program)
        if program is not None:
            ask.notes.append(M("note.program", program=program.code, article=program.article))
            return
        matching, misses = self._approvals_for(ask)
        if not matching:
            raise _Denied(Rule.PROGRAM_SCOPE, M("program.scope", program=ask.program, count=len(terms.programs),
                                                codes=codes, version=terms.version, day=str(ask.day),
                                                hint=_hint(why for _, why in misses)))
        ask.grounds += [a.id for a in matching]
        ask.notes.append(M("note.program_approved", program=ask.program,
                           approvals=", ".join(f"{a.id} ({a.document})" for a in matching)))

    def purposes_for(self, program: str, at: date | datetime) -> tuple[Purpose, ...]:
        """The purposes a request for `program` may name on the day of `at` (the program's own, or those of
        the written approvals valid that day)."""
        day = agreement_day(at)
        own = self.terms_at(day).program(program)
        found = list(own.purposes) if own is not None else []
        for appr in self.agreement.approvals:
            purpose = appr.as_purpose()
            if (purpose is not None and appr.program == program and appr.valid_on(day)
                    and all(p.code != purpose.code for p in found)):
                found.append(purpose)
        return tuple(found)

    def eligibility_for(self, program: str, at: date | datetime, purpose: str | None = None) -> Eligibility | None:
        """Whom a program the parties added targets: from its addendum, else from the written approval that
        covers it on the day (and `purpose`, when given). None for a program whose rules live elsewhere (the four of
        Art. 3: the targeting service's rules file) or that nothing covers."""
        day = agreement_day(at)
        own = self.terms_at(day).program(program)
        if own is not None:
            return own.eligibility
        for appr in self.agreement.approvals:
            if (appr.program == program and appr.valid_on(day) and appr.eligibility is not None
                    and (purpose is None or _purpose_ok(appr.purpose, purpose))):
                return appr.eligibility
        return None

    def _purpose(self, ask: _Ask) -> None:
        if ask.program is None or ask.action in DISCLOSURE_ACTIONS:
            return  # a disclosure's purpose is the publication's, matched against the consent (Art. 10(3))
        if not ask.purpose:
            if ask.action in PURPOSE_ACTIONS:
                options = self.purposes_for(ask.program, ask.day)
                raise _Denied(Rule.PURPOSE_REQUIRED, M("purpose.required", action=ask.action, program=ask.program,
                                                       options=_listed(p.code for p in options)))
            return
        program = ask.terms.program(ask.program)
        if program is not None and program.purpose(ask.purpose) is not None:
            ask.notes.append(M("note.purpose", purpose=ask.purpose, program=ask.program))
            return
        approvals = [a for a in self.agreement.approvals if a.program == ask.program and a.valid_on(ask.day)
                     and a.purpose == ask.purpose]
        if approvals:
            ask.grounds += [a.id for a in approvals]
            ask.notes.append(M("note.purpose_approved", purpose=ask.purpose,
                               approvals=", ".join(f"{a.id} ({a.document})" for a in approvals)))
            return
        options = self.purposes_for(ask.program, ask.day)
        raise _Denied(Rule.PURPOSE, M("purpose.other", purpose=ask.purpose, program=ask.program,
                                      version=ask.terms.version, day=str(ask.day),
                                      options=_listed(p.code for p in options)))

    def _fields(self, ask: _Ask) -> None:
        if not ask.fields:
            return
        if ask.program is None:
            raise _Denied(Rule.FIELD_MINIMISATION, M("fields.no_program", fields=_quoted(ask.fields)))
        program = ask.terms.program(ask.program)
        own = program.fields if program is not None else ()
        matching, misses = self._approvals_for(ask)
        allowed = list(dict.fromkeys([*own, *(f for a in matching for f in a.fields)]))
        bad = [f for f in ask.fields if f not in allowed]
        if bad:
            via = M("fields.via", approvals=", ".join(a.id for a in matching)) if matching else ""
            hint = _hint(why for appr, why in misses if any(f in appr.fields for f in bad))
            raise _Denied(Rule.FIELD_MINIMISATION, M("fields.not_allowed.one" if len(bad) == 1
                                                     else "fields.not_allowed.many", fields=_quoted(bad),
                                                     program=ask.program, via=via, allowed=_listed(allowed),
                                                     hint=hint))
        extra = [f for f in ask.fields if f not in own]
        users = [a for a in matching if any(f in a.fields for f in extra)]
        ask.grounds += [a.id for a in users]
        if extra:
            ask.notes.append(M("note.fields_approved", count=len(ask.fields), extra=", ".join(extra),
                               approvals=", ".join(f"{a.id} ({a.document})" for a in users)))
        else:
            ask.notes.append(M("note.fields", count=len(ask.fields)))

    def _disclosure(self, ask: _Ask) -> None:
        if ask.action not in DISCLOSURE_ACTIONS:
            return
        other = next(p for p in ask.terms.parties if p.org != ask.org)
        covered: str | Message = f"program {ask.program}" if ask.program else M("covered.all")
        matching, misses = [], []
        for cons in self.agreement.consents:
            if cons.granted_to != ask.org or cons.granted_by != other.org:
                continue
            if ask.program is None and cons.programs:
                misses.append(M("consent.only_programs", consent=cons.id, programs=", ".join(cons.programs)))
            elif ask.program is not None and cons.programs and ask.program not in cons.programs:
                misses.append(M("consent.not_program", consent=cons.id, program=ask.program))
            elif not cons.valid_on(ask.day):
                misses.append(M("consent.window", consent=cons.id, window=_window(cons)))
            elif not _purpose_ok(cons.purpose, ask.purpose):
                misses.append(M("consent.purpose", consent=cons.id, purpose=cons.purpose or ""))
            else:
                matching.append(cons)
        if not matching:
            raise _Denied(Rule.DISCLOSURE_CONSENT, M("disclosure", other=other.org, org=ask.org, covered=covered,
                                                     day=str(ask.day), hint=_hint(misses)))
        ask.grounds += [c.id for c in matching]
        ask.notes.append(M("note.disclosure", consents=", ".join(f"{c.id} ({c.document})" for c in matching),
                           other=other.org))
