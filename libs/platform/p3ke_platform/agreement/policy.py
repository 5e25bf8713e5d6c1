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
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from p3ke_schemas.events import Actor

from .model import (
    ACTIONS,
    DATA_ACTIONS,
    DISCLOSURE_ACTIONS,
    PURPOSE_ACTIONS,
    Agreement,
    Eligibility,
    Purpose,
    Terms,
    WrittenApproval,
)

WIB = timezone(timedelta(hours=7), "WIB")
"""Jakarta time (no daylight saving): the agreement's days are Jakarta calendar days."""

_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


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
    terms_version: str
    rule: str
    grounds: tuple[str, ...] = ()
    """Ids of the written approvals / disclosure consents the permission relies on."""
    terms_sha256: str | None = None
    """The digest of the exact agreement files the decision was taken under (`Agreement.digest`): the version
    label names the addenda applied, this proves which text they had."""


def agreement_day(at: date | datetime) -> date:
    """The Jakarta calendar day of `at`; a naive datetime is taken as Jakarta local time."""
    if isinstance(at, datetime):
        return (at.astimezone(WIB) if at.tzinfo else at).date()
    return at


def _words(n: int) -> str:
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)


def _purpose_ok(required: str | None, given: str | None) -> bool:
    if required is None:
        return True
    return given is not None and required.strip().casefold() == given.strip().casefold()


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


class _Denied(Exception):
    def __init__(self, rule: Rule, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


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
    notes: list[str] = field(default_factory=list)
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
            return Decision(allowed=False, reason=denied.reason, terms_version=ask.terms.version,
                            rule=denied.rule.value, terms_sha256=self.terms_sha256)
        return Decision(allowed=True, reason="allowed: " + "; ".join(ask.notes),
                        terms_version=ask.terms.version, rule=Rule.ALLOWED.value,
                        grounds=tuple(dict.fromkeys(ask.grounds)), terms_sha256=self.terms_sha256)

    # --- the checks, in order -------------------------------------------------------------------

    def _action(self, ask: _Ask) -> None:
        if ask.action not in ACTIONS:
            raise _Denied(Rule.UNKNOWN_ACTION,
                          f"unknown action '{ask.action}'; actions are: {', '.join(ACTIONS)}")

    def _party(self, ask: _Ask) -> None:
        if ask.terms.org_party(ask.org) is None:
            parties = ", ".join(p.org for p in ask.terms.parties)
            raise _Denied(Rule.NOT_A_PARTY,
                          f"org '{ask.org}' is not a party to the agreement {ask.terms.reference} "
                          f"(parties: {parties})")

    def _role(self, ask: _Ask) -> None:
        grants = [g for g in ask.terms.roles
                  if g.org == ask.org and g.role in ask.roles and ask.action in g.actions]
        if grants:
            ask.notes.append(f"role {grants[0].role} of {ask.org} may {ask.action}")
            return
        holders = ", ".join(f"{g.role} of {g.org}" for g in ask.terms.roles if ask.action in g.actions)
        if not ask.roles:
            who = "an actor with no role"
        else:
            who = f"role{'s' if len(ask.roles) > 1 else ''} {', '.join(ask.roles)}"
        raise _Denied(Rule.ROLE, f"{who} of {ask.org} may not {ask.action} "
                                 f"({ask.action} is granted to: {holders or 'nobody'})")

    def _signatory(self, ask: _Ask) -> None:
        if ask.action != "sign-bast":
            return
        own = [s for s in ask.terms.signatories if s.org == ask.org]
        ids = ", ".join(s.id for s in own) or "none"
        listing = f"signatories of {ask.org} in terms {ask.terms.version}: {ids}"
        if not ask.signatory_id:
            raise _Denied(Rule.SIGNATORY, f"sign-bast needs the signatory's id ({listing})")
        signatory = next((s for s in own if s.id == ask.signatory_id), None)
        if signatory is None:
            raise _Denied(Rule.SIGNATORY, f"'{ask.signatory_id}' is not a signatory of {ask.org} ({listing})")
        ask.notes.append(f"signatory {signatory.id} ({signatory.position})")

    def _in_force(self, ask: _Ask) -> None:
        terms, day = ask.terms, ask.day
        if ask.action not in DATA_ACTIONS:
            ask.notes.append(f"{ask.action} is not a data handover, so it does not need the agreement "
                             f"in force (obligations outlive it, Art. 8(3), 10)")
            return
        status = terms.status(day)
        checked = f"checked at {day}, terms {terms.version}"
        validity = terms.validity
        if status == "not-yet-in-force":
            raise _Denied(Rule.NOT_YET_IN_FORCE,
                          f"the agreement {terms.reference} is not yet in force: it applies from "
                          f"{validity.first_day} (Art. 15) ({checked})")
        if status == "terminated":
            notice = next(t for t in self.agreement.terminations if t.id == terms.terminated_by)
            raise _Denied(Rule.TERMINATED,
                          f"the agreement {terms.reference} was terminated early by notice {notice.id} "
                          f"({notice.document}) of {notice.given_by} dated {notice.notice_date}; its last "
                          f"day in force was {validity.last_day} (Art. 8(2)) ({checked}); "
                          f"{ask.action} needs the agreement in force")
        if status == "expired":
            raise _Denied(Rule.EXPIRED,
                          f"the agreement {terms.reference} expired on {validity.last_day} (its last day "
                          f"in force, Art. 8(1)) and no addendum extends it ({checked}); "
                          f"{ask.action} needs the agreement in force")
        ask.notes.append(f"agreement in force from {validity.first_day} to {validity.last_day} inclusive "
                         f"(terms {terms.version})")

    def _approvals_for(self, ask: _Ask) -> tuple[list[WrittenApproval], list[tuple[WrittenApproval, str]]]:
        """Approvals covering the program on the day and purpose, and why the others do not."""
        matching: list[WrittenApproval] = []
        misses: list[tuple[WrittenApproval, str]] = []
        for appr in self.agreement.approvals:
            if appr.program != ask.program:
                continue
            if not appr.valid_on(ask.day):
                misses.append((appr, f"written approval {appr.id} is valid only from {appr.window()}"))
            elif not _purpose_ok(appr.purpose, ask.purpose):
                asked = f"'{ask.purpose}'" if ask.purpose else "no purpose"
                misses.append((appr, f"written approval {appr.id} covers only the purpose "
                                     f"'{appr.purpose}' (asked: {asked})"))
            else:
                matching.append(appr)
        return matching, misses

    def _program(self, ask: _Ask) -> None:
        terms = ask.terms
        codes = ", ".join(p.code for p in terms.programs)
        if ask.program is None:
            if ask.action in DATA_ACTIONS:
                raise _Denied(Rule.PROGRAM_REQUIRED,
                              f"{ask.action} needs a program, one of: {codes} (Art. 3)")
            return
        program = terms.program(ask.program)
        if program is not None:
            ask.notes.append(f"program {program.code} is in scope (Art. {program.article})")
            return
        matching, misses = self._approvals_for(ask)
        if not matching:
            hint = "".join(f"; {why}" for _, why in misses)
            raise _Denied(Rule.PROGRAM_SCOPE,
                          f"program '{ask.program}' is not one of the {_words(len(terms.programs))} programs "
                          f"of Art. 3 ({codes}) in terms {terms.version}, and no written approval of "
                          f"party 1 (Art. 10(2)) covers it on {ask.day}{hint}")
        ask.grounds += [a.id for a in matching]
        ask.notes.append(f"program {ask.program} is outside Art. 3 but covered by written approval "
                         f"{', '.join(f'{a.id} ({a.document})' for a in matching)} (Art. 10(2))")

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
                raise _Denied(Rule.PURPOSE_REQUIRED,
                              f"{ask.action} needs a purpose code for program {ask.program} (UU PDP Art. 16(2)(a): "
                              f"a specific purpose); the program's purposes: "
                              f"{', '.join(p.code for p in options) or 'none'}")
            return
        program = ask.terms.program(ask.program)
        if program is not None and program.purpose(ask.purpose) is not None:
            ask.notes.append(f"purpose {ask.purpose} is one of program {ask.program}'s purposes")
            return
        approvals = [a for a in self.agreement.approvals if a.program == ask.program and a.valid_on(ask.day)
                     and a.purpose == ask.purpose]
        if approvals:
            ask.grounds += [a.id for a in approvals]
            ask.notes.append(f"purpose {ask.purpose} is approved in writing by "
                             f"{', '.join(f'{a.id} ({a.document})' for a in approvals)} (Art. 10(2))")
            return
        options = self.purposes_for(ask.program, ask.day)
        raise _Denied(Rule.PURPOSE,
                      f"purpose '{ask.purpose}' is not a purpose of program {ask.program} in terms "
                      f"{ask.terms.version} and no written approval of party 1 (Art. 10(2)) covers it on {ask.day}; "
                      f"the program's purposes: {', '.join(p.code for p in options) or 'none'}")

    def _fields(self, ask: _Ask) -> None:
        if not ask.fields:
            return
        if ask.program is None:
            raise _Denied(Rule.FIELD_MINIMISATION,
                          f"fields {_quoted(ask.fields)} were named without a program; fields are allowed "
                          f"per program (Art. 10(1) data minimisation)")
        program = ask.terms.program(ask.program)
        own = program.fields if program is not None else ()
        matching, misses = self._approvals_for(ask)
        allowed = list(dict.fromkeys([*own, *(f for a in matching for f in a.fields)]))
        bad = [f for f in ask.fields if f not in allowed]
        if bad:
            noun = f"field {_quoted(bad)} is" if len(bad) == 1 else f"fields {_quoted(bad)} are"
            via = f" (with written approval {', '.join(a.id for a in matching)})" if matching else ""
            hint = "".join(f"; {why}" for appr, why in misses if any(f in appr.fields for f in bad))
            raise _Denied(Rule.FIELD_MINIMISATION,
                          f"{noun} not allowed for program {ask.program} (Art. 10(1) data minimisation); "
                          f"allowed{via}: {', '.join(allowed) or 'none'}{hint}")
        extra = [f for f in ask.fields if f not in own]
        users = [a for a in matching if any(f in a.fields for f in extra)]
        ask.grounds += [a.id for a in users]
        note = f"{len(ask.fields)} field(s) within the program's list"
        if extra:
            note += (f", of which {', '.join(extra)} by written approval "
                     f"{', '.join(f'{a.id} ({a.document})' for a in users)} (Art. 10(2))")
        ask.notes.append(note)

    def _disclosure(self, ask: _Ask) -> None:
        if ask.action not in DISCLOSURE_ACTIONS:
            return
        other = next(p for p in ask.terms.parties if p.org != ask.org)
        covered = f"program {ask.program}" if ask.program else "all programs"
        matching, misses = [], []
        for cons in self.agreement.consents:
            if cons.granted_to != ask.org or cons.granted_by != other.org:
                continue
            if ask.program is None and cons.programs:
                misses.append(f"consent {cons.id} covers only programs {', '.join(cons.programs)}")
            elif ask.program is not None and cons.programs and ask.program not in cons.programs:
                misses.append(f"consent {cons.id} does not cover program {ask.program}")
            elif not cons.valid_on(ask.day):
                misses.append(f"consent {cons.id} is valid only from {cons.window()}")
            elif not _purpose_ok(cons.purpose, ask.purpose):
                misses.append(f"consent {cons.id} covers only the purpose '{cons.purpose}'")
            else:
                matching.append(cons)
        if not matching:
            hint = f"; {'; '.join(misses)}" if misses else ""
            raise _Denied(Rule.DISCLOSURE_CONSENT,
                          f"result data stays confidential unless the other party consents (Art. 10(3)): "
                          f"no disclosure consent of {other.org} to {ask.org} covers {covered} "
                          f"on {ask.day}{hint}")
        ask.grounds += [c.id for c in matching]
        ask.notes.append(f"disclosure consent {', '.join(f'{c.id} ({c.document})' for c in matching)} "
                         f"of {other.org} (Art. 10(3))")
