"""The agreement as data: the PKS, its addenda and the written records made under it.

Why a model and not constants in code: the PKS is a legal document that changes only by addendum
(Art. 14), so its terms live in versioned YAML and every decision names the version it applied.
These models are pure (no I/O): the loader builds them from files, the policy reads them.

Dates are calendar days in Jakarta. Every `last_day` in this package is INCLUSIVE: the last day
on which the thing is in force; the day after it, it no longer is.

Each record keeps where it came from: the loader hashes the exact bytes of every file (`SourceFile`), and
`Agreement.digest` (one SHA-256 over them) is what every decision and audit record names, so a changed file
is a changed digest even when its version label stays the same.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

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

PURPOSE_ACTIONS: frozenset[str] = frozenset({"request-extract", "plan-aggregates"})
"""Actions that must name a purpose code of their program (UU PDP Art. 16(2)(a)); the policy checks any purpose
given with other actions too."""

DISCLOSURE_ACTIONS: frozenset[str] = frozenset({"publish-report"})
"""Actions that disclose result data beyond the two parties: Art. 10(3) needs the other's consent."""

NOTICE_DAYS = 30
"""Art. 8(2): extending or ending the agreement before its term ends needs written notice to the other party at
least 30 calendar days before the end."""

Reading = Literal["anniversary", "strict"]
"""How "N years from the day of signing" (Art. 8(1)) gives the last day in force (inclusive):
- `anniversary`: up to and including the N-th anniversary of the first day (signed 2023-02-28, 2 years: the
  last day is 2025-02-28), the reading in DOMAIN.md;
- `strict`: N years counted with the first day as day one, so the day before the anniversary (2025-02-27)."""

READINGS: tuple[str, ...] = get_args(Reading)

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


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


def term_last_day(first_day: date, term_years: int, reading: Reading) -> date:
    """The last day in force (inclusive) of a term of `term_years` years from `first_day`, read as `reading`."""
    end = _anniversary(first_day, term_years)
    return end if reading == "anniversary" else end - timedelta(days=1)


def _readings(first_day: date, term_years: int) -> str:
    return " or ".join(f"'{r}' ({term_last_day(first_day, term_years, r)})" for r in READINGS)  # type: ignore[arg-type]


class Validity(Frozen):
    """Art. 8(1) and 15: the first and the last day in force, both inclusive.

    The signed PKS states its term as `term_years` from `first_day` and HOW that is read (`reading`, see
    `Reading`); the loader derives `last_day` from them (or checks a `last_day` written beside them). An
    addendum or a termination notice sets an explicit `last_day` (then `term_years` and `reading` no longer
    apply and are dropped). Callers read `validity.last_day` only.
    """

    first_day: date
    last_day: date
    term_years: int | None = Field(default=None, ge=1, le=50, description="Art. 8(1): the term, in years")
    reading: Reading | None = Field(default=None, description="how the term's last day is read (see Reading)")

    @model_validator(mode="before")
    @classmethod
    def _derive_last_day(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("term_years") is None:
            return data
        try:
            first = TypeAdapter(date).validate_python(data.get("first_day"))
            years = int(data["term_years"])
        except (ValidationError, TypeError, ValueError):
            return data  # the fields' own validation names what is wrong
        reading = data.get("reading")
        if reading is None:
            raise ValueError(
                f"reading: wajib diisi bersama term_years, pilih {_readings(first, years)} / required with "
                f"term_years: state how the last day of the term is read, {_readings(first, years)}"
            )
        if reading in READINGS and data.get("last_day") is None:
            return {**data, "last_day": term_last_day(first, years, reading)}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.last_day < self.first_day:
            raise ValueError(f"validity.last_day {self.last_day} is before first_day {self.first_day}")
        if self.term_years is not None and self.reading is not None:
            derived = term_last_day(self.first_day, self.term_years, self.reading)
            if derived != self.last_day:
                raise ValueError(
                    f"last_day {self.last_day} tidak sesuai dengan {self.term_years} tahun sejak {self.first_day} "
                    f"menurut pembacaan '{self.reading}' ({derived}); hapus last_day atau perbaiki reading / "
                    f"last_day {self.last_day} does not follow from {self.term_years} years from {self.first_day} "
                    f"read as '{self.reading}' ({derived}); remove last_day or correct the reading "
                    f"({_readings(self.first_day, self.term_years)})"
                )
        if self.reading is not None and self.term_years is None:
            raise ValueError("reading: only with term_years (an explicit last_day needs no reading)")
        return self

    def ending(self, last_day: date) -> Validity:
        """The same validity with an explicit new last day (an addendum or a notice)."""
        return Validity(first_day=self.first_day, last_day=last_day)


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


class Purpose(Frozen):
    """What a program may use the data for (UU PDP Art. 16(2)(a): a specific, lawful purpose). A request names
    one by `code`; the policy refuses a purpose its program does not have. Codes are stable, the titles are
    what a person reads (Indonesian first)."""

    code: Code
    title_id: Text
    title: Text


class AgeRange(Frozen):
    """Inclusive, in whole years on the request's reference day."""

    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError(f"age min {self.min} is greater than max {self.max}")
        return self


class Eligibility(Frozen):
    """Who a program added by the parties targets, as filters over Data P3KE (the shape of the targeting
    service's rules file, whose vocabularies check the values): the four programs of Art. 3 have theirs in
    that file, a program added by addendum or written approval brings its own here."""

    summary: Text
    age: AgeRange | None = None
    include: dict[Code, tuple[Text, ...]] = Field(default_factory=dict)
    exclude: dict[Code, tuple[Text, ...]] = Field(default_factory=dict)


def _unique_purposes(value: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
    _unique(tuple(p.code for p in value), "purpose code")
    return value


class Program(Frozen):
    """One program of Art. 3 (or added by addendum), its purposes and the P3KE fields it may receive."""

    code: Code
    article: Text
    title: Text
    title_id: Text
    fields: tuple[Code, ...] = Field(min_length=1)
    purposes: tuple[Purpose, ...] = Field(min_length=1)
    eligibility: Eligibility | None = None

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(value, "field")

    @field_validator("purposes")
    @classmethod
    def _unique_purpose_codes(cls, value: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
        return _unique_purposes(value)

    def purpose(self, code: str) -> Purpose | None:
        return next((p for p in self.purposes if p.code == code), None)


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
    """Art. 14: a written change of the terms, a new version from `effective_from`.

    One that changes `last_day` (an extension, or an earlier end) needs written notice to the other party at
    least NOTICE_DAYS calendar days before the end of the term it changes (Art. 8(2)). The addendum itself is
    that notice unless an earlier letter was sent: then `notice_date` and `notice_document` record it. No
    addendum can be signed once the agreement has ended (a lapsed PKS needs a new agreement), and an extension
    takes effect at the latest on the day after the last day it extends (no lapse in between).
    """

    kind: Literal["addendum"]
    schema_version: Literal[1]
    id: RecordId
    agreement_id: RecordId
    number: Text
    title: Text
    signed_on: date
    effective_from: date
    notice_date: date | None = Field(default=None, description="Art. 8(2): the date of an earlier written notice")
    notice_document: Text | None = Field(default=None, description="that notice letter's number")
    example: bool = False
    changes: AddendumChanges

    @model_validator(mode="after")
    def _not_retroactive(self) -> Addendum:
        # A retroactive addendum would change decisions already taken and recorded; refuse it.
        if self.effective_from < self.signed_on:
            raise ValueError(f"effective_from {self.effective_from} is before signed_on {self.signed_on}")
        if (self.notice_date is None) != (self.notice_document is None):
            raise ValueError("notice_date and notice_document: give both (the written notice's date and number) "
                             "or neither (the addendum itself is the notice)")
        if self.notice_date is not None and self.notice_date > self.signed_on:
            raise ValueError(f"notice_date {self.notice_date} is after signed_on {self.signed_on}: an earlier "
                             "notice comes before the addendum")
        return self

    @property
    def noticed_on(self) -> date:
        """When the other party was told in writing (Art. 8(2)): the earlier notice, else the signing."""
        return self.notice_date or self.signed_on


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

    `program` may be a program outside Art. 3 (then `fields` is all it may receive, `purpose` is the one
    purpose it is approved for and `eligibility` whom it targets; all three are required) or one inside it
    (then `fields` are extra fields on top of the program's own list). If `purpose` is set, only a request
    naming exactly that purpose code is covered.
    """

    kind: Literal["written-approval"]
    granted_by: OrgCode
    granted_to: OrgCode
    program: Code
    fields: tuple[Code, ...] = ()
    purpose: Code | None = None
    purpose_title_id: Text | None = Field(default=None, description="the purpose in words, Indonesian")
    purpose_title: Text | None = Field(default=None, description="the purpose in words, English")
    eligibility: Eligibility | None = None

    def as_purpose(self) -> Purpose | None:
        if self.purpose is None:
            return None
        return Purpose(code=self.purpose, title_id=self.purpose_title_id or self.purpose,
                       title=self.purpose_title or self.purpose_title_id or self.purpose)


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
                f"last_day {self.last_day}: Pasal 8 ayat (2) mewajibkan pemberitahuan {NOTICE_DAYS} hari kalender "
                f"sebelumnya, jadi pemberitahuan tertanggal {self.notice_date} paling cepat mengakhiri perjanjian "
                f"pada {earliest} / Art. 8(2) needs {NOTICE_DAYS} days' notice, "
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


def _check_notice(terms: Terms, add: Addendum) -> None:
    """Art. 8: an addendum is signed while the agreement is in force, and one that changes the end of the term
    was noticed in writing NOTICE_DAYS days before that end; an extension leaves no lapse."""
    end = terms.validity.last_day
    latest_notice = end - timedelta(days=NOTICE_DAYS)
    if add.signed_on > end:
        raise AmendmentError(
            add.id, "signed_on",
            f"Pasal 8: perjanjian {terms.reference} telah berakhir pada {end} (hari terakhir berlaku), sebelum "
            f"adendum ini ditandatangani pada {add.signed_on}; perjanjian yang telah berakhir tidak dapat dihidupkan "
            f"kembali dengan adendum, buatlah perjanjian kerja sama baru (adendum paling lambat ditandatangani "
            f"{end}, dengan pemberitahuan tertulis paling lambat {latest_notice}) / Art. 8: the agreement ended on "
            f"{end} (its last day in force), before this addendum was signed on {add.signed_on}; a lapsed agreement "
            f"cannot be revived by an addendum, make a new cooperation agreement (an addendum must be signed by "
            f"{end} at the latest, with written notice by {latest_notice})")
    new_end = add.changes.last_day
    if new_end is None:
        return
    deadline_for = min(end, new_end)
    latest = deadline_for - timedelta(days=NOTICE_DAYS)
    if add.noticed_on > latest:
        what = "perpanjangan" if new_end > end else "pengakhiran"
        what_en = "an extension" if new_end > end else "an earlier end"
        field = "notice_date" if add.notice_date is not None else "signed_on"
        raise AmendmentError(
            add.id, field,
            f"Pasal 8 ayat (2): {what} wajib diberitahukan secara tertulis paling lambat {NOTICE_DAYS} hari kalender "
            f"sebelum berakhirnya jangka waktu pada {deadline_for}, jadi paling lambat {latest}; pemberitahuan "
            f"tertanggal {add.noticed_on} terlambat (bila surat pemberitahuan dikirim lebih awal, catat tanggal dan "
            f"nomornya di notice_date dan notice_document) / Art. 8(2): {what_en} needs written notice at least "
            f"{NOTICE_DAYS} calendar days before the term ends on {deadline_for}, so on {latest} at the latest; "
            f"notice dated {add.noticed_on} is too late (if an earlier notice letter was sent, record its date and "
            f"number in notice_date and notice_document)")
    if new_end > end and add.effective_from > end + timedelta(days=1):
        raise AmendmentError(
            add.id, "effective_from",
            f"Pasal 8: perpanjangan berlaku paling lambat {end + timedelta(days=1)} (sehari setelah hari terakhir "
            f"{end}); berlaku mulai {add.effective_from} berarti perjanjian sempat berakhir, dan perjanjian yang "
            f"berakhir memerlukan perjanjian baru / Art. 8: an extension takes effect on "
            f"{end + timedelta(days=1)} at the latest (the day after the last day {end}); effective from "
            f"{add.effective_from} the agreement would lapse in between, and a lapsed agreement needs a new one")


def _apply_addendum(terms: Terms, add: Addendum) -> dict[str, object]:
    _check_notice(terms, add)
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
        update["validity"] = terms.validity.ending(changes.last_day)
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
        if record.notice_date > terms.validity.last_day:
            raise AmendmentError(
                record.id, "notice_date",
                f"Pasal 8 ayat (2): perjanjian telah berakhir pada {terms.validity.last_day}, sebelum pemberitahuan "
                f"tertanggal {record.notice_date}; tidak ada yang dapat diakhiri / Art. 8(2): the agreement already "
                f"ended on {terms.validity.last_day}, before the notice dated {record.notice_date}; it ends nothing")
        last = min(terms.validity.last_day, record.last_day)
        update = {
            "validity": terms.validity.ending(last),
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


class SourceFile(Frozen):
    """One file the agreement was loaded from: its record, its name and the SHA-256 of its exact bytes."""

    record_id: str
    name: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    def line(self) -> str:
        """As `sha256sum` prints it."""
        return f"{self.sha256}  {self.name}"


def sources_digest(sources: tuple[SourceFile, ...]) -> str:
    """One SHA-256 over the files' `sha256sum` lines, sorted: `sha256sum *.yaml | LC_ALL=C sort | sha256sum`
    over the same files gives the same digest."""
    return hashlib.sha256("".join(f"{line}\n" for line in sorted(s.line() for s in sources)).encode()).hexdigest()


class Agreement(Frozen):
    """Everything recorded about one agreement: the signed PKS, addenda, approvals, consents, notices.

    Records are only ever added; `terms_at(day)` replays them in date order, so the terms of any past
    day can be reproduced and every decision can name the version it applied. `sources` are the files they
    were read from (set by the loader) and `digest` their one SHA-256, which every decision records.
    """

    base: AgreementFile
    addenda: tuple[Addendum, ...] = ()
    approvals: tuple[WrittenApproval, ...] = ()
    consents: tuple[DisclosureConsent, ...] = ()
    terminations: tuple[TerminationNotice, ...] = ()
    sources: tuple[SourceFile, ...] = ()

    @property
    def digest(self) -> str | None:
        """SHA-256 over the exact files loaded (see `sources_digest`); None for an agreement built in code."""
        return sources_digest(self.sources) if self.sources else None

    @property
    def examples(self) -> tuple[str, ...]:
        """The ids of the example records loaded (`example: true`, P3KE_AGREEMENT_INCLUDE_EXAMPLES): none in a real
        deployment. A document made while any is loaded is a test document (p3ke_platform.pdf.marked_as_test)."""
        records = (self.base, *self.addenda, *self.approvals, *self.consents, *self.terminations)
        return tuple(r.id for r in records if r.example)

    def example_terms(self, terms: Terms) -> str | None:
        """How a document made under `terms` names the example terms it was made from (its watermark's caption):
        the terms' version when it applied an example record (`pks-p3ke-2023+example-add-1`), else the version
        with the example records loaded beside it; None when no example record is loaded (a real document)."""
        examples = self.examples
        if not examples:
            return None
        if self.base.id in examples or any(i in examples for i in terms.applied):
            return terms.version
        return f"{terms.version} + {', '.join(examples)}"

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
        try:  # every program some version of the terms has (an amendment error is reported below)
            known_programs = {p.code for _, terms in self.timeline() for p in terms.programs}
        except AmendmentError:
            known_programs = {p.code for p in base.programs}
        for appr in self.approvals:
            if appr.granted_by != party1:
                found.append(Problem(appr.id, "granted_by", f"Art. 10(2) approvals are given by party 1 "
                                                            f"('{party1}'), not '{appr.granted_by}'"))
            if appr.granted_to != party2:
                found.append(Problem(appr.id, "granted_to", f"Art. 10(2) approvals are for party 2 "
                                                            f"('{party2}'), not '{appr.granted_to}'"))
            if appr.program not in known_programs:
                for name in ("purpose", "eligibility"):
                    if getattr(appr, name) is None:
                        found.append(Problem(appr.id, name, f"program '{appr.program}' is outside the agreement's "
                                                            f"programs, so the approval must state its {name}"))
                if not appr.fields:
                    found.append(Problem(appr.id, "fields", f"program '{appr.program}' is outside the agreement's "
                                                            "programs, so the approval must list the fields it "
                                                            "may receive"))
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
