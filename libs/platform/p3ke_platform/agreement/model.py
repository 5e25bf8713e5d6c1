"""The agreement as data: the PKS, its addenda and the written records made under it.

Why a model and not constants in code: the PKS is a legal document that changes only by addendum
(Art. 14), so its terms live in versioned YAML and every decision names the version it applied.
These models are pure (no I/O): the loader builds them from files, the policy reads them.

Dates are calendar days in Jakarta. Every `last_day` in this package is INCLUSIVE: the last day
on which the thing is in force; the day after it, it no longer is.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Action = Literal[
    "publish-dataset",
    "request-extract",
    "prepare-extract",
    "sign-bast",
    "release-package",
    "download-package",
    "submit-feedback",
    "read-reports",
    "publish-report",
    "query-audit",
    "plan-aggregates",
    "operate",
]
"""Everything an actor may ask to do; roles in the YAML grant subsets of these."""

ACTIONS: tuple[str, ...] = get_args(Action)

DATA_ACTIONS: frozenset[str] = frozenset(
    {"request-extract", "prepare-extract", "sign-bast", "release-package", "download-package", "plan-aggregates"}
)
"""Actions that move personal data to party 2, or use the register for targeting (planning counts are
computed over every person in it). Art. 8: none of them outside the validity period; Art. 3 / 10(2): each is
for one program in scope (or approved in writing)."""

DISCLOSURE_ACTIONS: frozenset[str] = frozenset({"publish-report"})
"""Actions that disclose result data beyond the two parties: Art. 10(3) needs the other's consent."""

NOTICE_DAYS = 30
"""Art. 8(2): early termination needs written notice at least 30 calendar days before."""

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
RecordId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
OrgCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=50)]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=50)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
PartyNo = Literal[1, 2]


class Frozen(BaseModel):
    """Immutable and strict: a misspelt key in a legal configuration must fail, not be ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} '{value}'")
        seen.add(value)
    return values


class AgreementNumbers(Frozen):
    """Each party numbers the PKS in its own register; both numbers identify it."""

    party_1: Text
    party_2: Text


class Validity(Frozen):
    """Art. 8(1) and 15: both days inclusive."""

    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.last_day < self.first_day:
            raise ValueError(f"validity.last_day {self.last_day} is before first_day {self.first_day}")
        return self


class PlatformKey(Frozen):
    """A public key of a party's ministry platform (JWK, Ed25519 or P-256): an event it signs is that party's
    word, and it may vouch only for that party's people. Rotation: add the new key with its first day, then
    give the old one its last day (`valid_until`, inclusive); both verify in the overlap."""

    kid: Text
    jwk: dict[str, str]
    valid_from: date
    valid_until: date | None = None

    @field_validator("jwk")
    @classmethod
    def _a_public_key(cls, value: dict[str, str]) -> dict[str, str]:
        from p3ke_schemas import public_key_from_jwk

        if "d" in value:
            raise ValueError("a platform key in the agreement is public: remove the private part 'd'")
        public_key_from_jwk(value)
        return value


class Party(Frozen):
    party: PartyNo
    org: OrgCode
    name: Text
    name_en: Text
    unit: Text
    unit_en: Text
    address: Text
    role: Literal["data-provider", "data-user"]
    platform_keys: tuple[PlatformKey, ...] = ()


class Program(Frozen):
    """One program of Art. 3 and the P3KE fields it may receive (data minimisation)."""

    code: Code
    article: Text
    title: Text
    title_id: Text
    fields: tuple[Code, ...] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(value, "field")


class LiaisonOfficer(Frozen):
    """Art. 13(1): an office and its head's job title, not a person; institutional contacts only."""

    id: RecordId
    party: PartyNo
    org: OrgCode
    position: Text
    office: Text
    address: Text
    email: Text


class Signatory(Frozen):
    """Who signs for a party; `id` is what BAST signatures (events.Signer.signatory_id) refer to."""

    id: RecordId
    party: PartyNo
    org: OrgCode
    name: Text
    position: Text
    acting_for: Text


class RoleGrant(Frozen):
    """Which actions a role of one organisation may perform (the technical arrangement, Art. 6(2))."""

    org: OrgCode
    role: RoleName
    actions: tuple[Action, ...] = Field(min_length=1)


class TermsBody(Frozen):
    """The content of the agreement, shared by the signed file and every effective version."""

    id: RecordId
    numbers: AgreementNumbers
    title: Text
    title_en: Text
    signed_place: Text
    signed_on: date
    validity: Validity
    parties: tuple[Party, ...] = Field(min_length=2, max_length=2)
    programs: tuple[Program, ...]
    liaison_officers: tuple[LiaisonOfficer, ...]
    signatories: tuple[Signatory, ...]
    roles: tuple[RoleGrant, ...]

    @model_validator(mode="after")
    def _consistent(self) -> TermsBody:
        if sorted(p.party for p in self.parties) != [1, 2]:
            raise ValueError("parties: need exactly one party 1 and one party 2")
        if self.parties[0].org == self.parties[1].org:
            raise ValueError("parties: the two parties need different org codes")
        orgs = {p.party: p.org for p in self.parties}
        _unique(tuple(p.code for p in self.programs), "program code in programs")
        groups: dict[str, tuple[LiaisonOfficer | Signatory, ...]] = {
            "liaison_officers": self.liaison_officers, "signatories": self.signatories,
        }
        for name, people in groups.items():
            _unique(tuple(p.id for p in people), f"id in {name}")
            for i, person in enumerate(people):
                if orgs[person.party] != person.org:
                    raise ValueError(
                        f"{name}.{i}.org: '{person.org}' is not party {person.party} "
                        f"(party {person.party} is '{orgs[person.party]}')"
                    )
        _unique(tuple(f"{g.org}/{g.role}" for g in self.roles), "org/role in roles")
        for i, grant in enumerate(self.roles):
            if grant.org not in orgs.values():
                raise ValueError(f"roles.{i}.org: '{grant.org}' is not a party ({', '.join(orgs.values())})")
        return self

    @property
    def reference(self) -> str:
        """How reasons cite the agreement: both register numbers."""
        return f"PKS {self.numbers.party_1} / {self.numbers.party_2}"

    def party(self, number: int) -> Party:
        return next(p for p in self.parties if p.party == number)

    def org_party(self, org: str) -> Party | None:
        return next((p for p in self.parties if p.org == org), None)

    def program(self, code: str) -> Program | None:
        return next((p for p in self.programs if p.code == code), None)


class AgreementFile(TermsBody):
    """The PKS as signed (`kind: agreement`)."""

    kind: Literal["agreement"]
    schema_version: Literal[1]
    example: bool = False


class Terms(TermsBody):
    """The terms in force on some day: the signed PKS with the addenda effective by then applied."""

    version: str
    applied: tuple[str, ...] = ()
    terminated_by: str | None = None

    def status(self, day: date) -> Literal["not-yet-in-force", "in-force", "expired", "terminated"]:
        if day < self.validity.first_day:
            return "not-yet-in-force"
        if day <= self.validity.last_day:
            return "in-force"
        return "terminated" if self.terminated_by else "expired"


class AddendumChanges(Frozen):
    """What an addendum changes. Replacements are whole lists, so the YAML reads as the new text."""

    last_day: date | None = Field(default=None, description="new last day in force (inclusive)")
    add_programs: tuple[Program, ...] = ()
    remove_programs: tuple[Code, ...] = ()
    program_fields: dict[Code, tuple[Code, ...]] = Field(default_factory=dict)
    liaison_officers: tuple[LiaisonOfficer, ...] | None = None
    signatories: tuple[Signatory, ...] | None = None

    @field_validator("program_fields")
    @classmethod
    def _unique_fields(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code, fields in value.items():
            if not fields:
                raise ValueError(f"{code}: a program needs at least one field (remove it instead)")
            try:
                _unique(fields, "field")
            except ValueError as exc:
                raise ValueError(f"{code}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> AddendumChanges:
        unchanged = (
            self.last_day is None and not self.add_programs and not self.remove_programs
            and not self.program_fields and self.liaison_officers is None and self.signatories is None
        )
        if unchanged:
            raise ValueError("changes: an addendum must change something")
        return self


class Addendum(Frozen):
    """Art. 14: a written change of the terms, a new version from `effective_from`."""

    kind: Literal["addendum"]
    schema_version: Literal[1]
    id: RecordId
    agreement_id: RecordId
    number: Text
    title: Text
    signed_on: date
    effective_from: date
    example: bool = False
    changes: AddendumChanges

    @model_validator(mode="after")
    def _not_retroactive(self) -> Addendum:
        # A retroactive addendum would change decisions already taken and recorded; refuse it.
        if self.effective_from < self.signed_on:
            raise ValueError(f"effective_from {self.effective_from} is before signed_on {self.signed_on}")
        return self


class _Dated(Frozen):
    """A written record with its own validity window (both days inclusive; no last day = open)."""

    id: RecordId
    agreement_id: RecordId
    schema_version: Literal[1]
    document: Text = Field(description="the letter's number or reference")
    dated: date
    valid_from: date
    last_day: date | None = None
    example: bool = False

    @model_validator(mode="after")
    def _window(self) -> _Dated:
        if self.valid_from < self.dated:
            raise ValueError(f"valid_from {self.valid_from} is before the document's date {self.dated}")
        if self.last_day is not None and self.last_day < self.valid_from:
            raise ValueError(f"last_day {self.last_day} is before valid_from {self.valid_from}")
        return self

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.last_day is None or day <= self.last_day)

    def window(self) -> str:
        return f"{self.valid_from} to {self.last_day or 'the end of the agreement'}"


class WrittenApproval(_Dated):
    """Art. 10(2): party 1 approves in writing a use by party 2 outside the agreement's purposes.

    `program` may be a program outside Art. 3 (then `fields` is all it may receive) or one inside it
    (then `fields` are extra fields on top of the program's own list). If `purpose` is set, only a
    request naming exactly that purpose is covered.
    """

    kind: Literal["written-approval"]
    granted_by: OrgCode
    granted_to: OrgCode
    program: Code
    fields: tuple[Code, ...] = ()
    purpose: Text | None = None


class DisclosureConsent(_Dated):
    """Art. 10(3): one party consents that the other may disclose result data.

    `programs` empty means result data of every program; `purpose` set means only that publication.
    """

    kind: Literal["disclosure-consent"]
    granted_by: OrgCode
    granted_to: OrgCode
    programs: tuple[Code, ...] = ()
    purpose: Text | None = None


class TerminationNotice(Frozen):
    """Art. 8(2): a party ends the agreement early by written notice at least 30 days ahead."""

    kind: Literal["termination-notice"]
    schema_version: Literal[1]
    id: RecordId
    agreement_id: RecordId
    document: Text
    given_by: OrgCode
    notice_date: date
    last_day: date
    example: bool = False

    @model_validator(mode="after")
    def _thirty_days(self) -> TerminationNotice:
        earliest = self.notice_date + timedelta(days=NOTICE_DAYS)
        if self.last_day < earliest:
            raise ValueError(
                f"last_day {self.last_day}: Art. 8(2) needs {NOTICE_DAYS} days' notice, "
                f"so a notice dated {self.notice_date} ends the agreement on {earliest} at the earliest"
            )
        return self


Record = AgreementFile | Addendum | WrittenApproval | DisclosureConsent | TerminationNotice
RECORD_KINDS: dict[str, type[Record]] = {
    "agreement": AgreementFile,
    "addendum": Addendum,
    "written-approval": WrittenApproval,
    "disclosure-consent": DisclosureConsent,
    "termination-notice": TerminationNotice,
}


class Problem(NamedTuple):
    """An inconsistency between records: which record, which field, what is wrong."""

    record_id: str
    field: str
    message: str


class AmendmentError(ValueError):
    """An addendum or notice cannot be applied to the terms in force before it."""

    def __init__(self, record_id: str, field: str, message: str) -> None:
        super().__init__(f"{record_id}: {field}: {message}")
        self.problem = Problem(record_id, field, message)


def _apply_addendum(terms: Terms, add: Addendum) -> dict[str, object]:
    changes = add.changes
    programs = list(terms.programs)
    for code in changes.remove_programs:
        if terms.program(code) is None:
            raise AmendmentError(add.id, "changes.remove_programs", f"program '{code}' is not in the terms")
        programs = [p for p in programs if p.code != code]
    for program in changes.add_programs:
        if any(p.code == program.code for p in programs):
            raise AmendmentError(add.id, "changes.add_programs", f"program '{program.code}' already exists")
        programs.append(program)
    for code, fields in changes.program_fields.items():
        index = next((i for i, p in enumerate(programs) if p.code == code), None)
        if index is None:
            raise AmendmentError(add.id, f"changes.program_fields.{code}",
                                 f"program '{code}' is not in the terms")
        programs[index] = programs[index].model_copy(update={"fields": fields})  # checked in AddendumChanges
    update: dict[str, object] = {"programs": programs, "applied": (*terms.applied, add.id)}
    if changes.last_day is not None:
        update["validity"] = Validity(first_day=terms.validity.first_day, last_day=changes.last_day)
        update["terminated_by"] = None  # an agreed new end replaces an earlier notice
    if changes.liaison_officers is not None:
        update["liaison_officers"] = changes.liaison_officers
    if changes.signatories is not None:
        update["signatories"] = changes.signatories
    return update


def _apply(terms: Terms, record: Addendum | TerminationNotice) -> Terms:
    if isinstance(record, Addendum):
        update = _apply_addendum(terms, record)
    else:
        last = min(terms.validity.last_day, record.last_day)
        update = {
            "validity": Validity(first_day=terms.validity.first_day, last_day=last),
            "terminated_by": record.id,
            "applied": (*terms.applied, record.id),
        }
    data = {**terms.model_dump(), **update}
    data["version"] = "+".join((terms.id, *data["applied"]))  # type: ignore[arg-type]
    try:
        return Terms.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "changes"
        raise AmendmentError(record.id, loc, err["msg"]) from None


class Agreement(Frozen):
    """Everything recorded about one agreement: the signed PKS, addenda, approvals, consents, notices.

    Records are only ever added; `terms_at(day)` replays them in date order, so the terms of any past
    day can be reproduced and every decision can name the version it applied.
    """

    base: AgreementFile
    addenda: tuple[Addendum, ...] = ()
    approvals: tuple[WrittenApproval, ...] = ()
    consents: tuple[DisclosureConsent, ...] = ()
    terminations: tuple[TerminationNotice, ...] = ()

    def _events(self) -> list[tuple[date, Addendum | TerminationNotice]]:
        events: list[tuple[date, Addendum | TerminationNotice]] = []
        events += [(a.effective_from, a) for a in self.addenda]
        events += [(t.notice_date, t) for t in self.terminations]
        return sorted(events, key=lambda e: (e[0], e[1].kind, e[1].id))

    def timeline(self) -> tuple[tuple[date, Terms], ...]:
        """Each version of the terms with the first day it applies (the signed PKS from date.min)."""
        body = self.base.model_dump(exclude={"kind", "schema_version", "example"})
        terms = Terms.model_validate({**body, "version": self.base.id})
        versions: list[tuple[date, Terms]] = [(date.min, terms)]
        for day, record in self._events():
            terms = _apply(terms, record)
            if versions[-1][0] == day:
                versions[-1] = (day, terms)
            else:
                versions.append((day, terms))
        return tuple(versions)

    def terms_at(self, day: date) -> Terms:
        """The terms in force on `day`: the PKS plus every addendum/notice effective by then."""
        versions = self.timeline()
        current = versions[0][1]
        for start, terms in versions:
            if start > day:
                break
            current = terms
        return current

    def problems(self) -> list[Problem]:
        """Inconsistencies between records (the models check each record on its own)."""
        base = self.base
        party1, party2 = base.party(1).org, base.party(2).org
        orgs = {party1, party2}
        found: list[Problem] = []
        records: list[Addendum | WrittenApproval | DisclosureConsent | TerminationNotice] = [
            *self.addenda, *self.approvals, *self.consents, *self.terminations
        ]
        seen = {base.id}
        for record in records:
            if record.id in seen:
                found.append(Problem(record.id, "id", f"id '{record.id}' is used by another record"))
            seen.add(record.id)
            if record.agreement_id != base.id:
                found.append(Problem(record.id, "agreement_id",
                                     f"'{record.agreement_id}' is not this agreement ('{base.id}')"))
        for add in self.addenda:
            if add.signed_on < base.signed_on:
                found.append(Problem(add.id, "signed_on",
                                     f"{add.signed_on} is before the PKS ({base.signed_on})"))
        for appr in self.approvals:
            if appr.granted_by != party1:
                found.append(Problem(appr.id, "granted_by", f"Art. 10(2) approvals are given by party 1 "
                                                            f"('{party1}'), not '{appr.granted_by}'"))
            if appr.granted_to != party2:
                found.append(Problem(appr.id, "granted_to", f"Art. 10(2) approvals are for party 2 "
                                                            f"('{party2}'), not '{appr.granted_to}'"))
        for cons in self.consents:
            for name in ("granted_by", "granted_to"):
                if getattr(cons, name) not in orgs:
                    found.append(Problem(cons.id, name, f"'{getattr(cons, name)}' is not a party"))
            if cons.granted_by == cons.granted_to:
                found.append(Problem(cons.id, "granted_to",
                                     "consent must come from the other party (Art. 10(3))"))
        for notice in self.terminations:
            if notice.given_by not in orgs:
                found.append(Problem(notice.id, "given_by", f"'{notice.given_by}' is not a party"))
        try:
            self.timeline()
        except AmendmentError as exc:
            found.append(exc.problem)
        return found
