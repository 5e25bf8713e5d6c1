"""The questions compliance staff ask of the log. Every query is bounded: a page size, and for
aggregates and exports a time range no longer than `P3KE_AUDIT_MAX_DAYS`.

Days and months are Jakarta calendar days (WIB, UTC+7), as in the agreement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal_column, not_, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from p3ke_audit.adapters.orm import entries, subject_ref_map, subject_refs
from p3ke_audit.domain.messages import Explained, M
from p3ke_platform.agreement import WIB, Policy, Terms
from p3ke_platform.agreement.purposes import AGREEMENT_PURPOSES
from p3ke_schemas import ProgramCode

DATA_ACCESS = "p3ke.data-access.v1"
HANDOVER_SIGNED = "p3ke.handover-signed.v1"
RELEASE_ACTIONS = ("read", "export", "download", "select", "match", "release-key")
# a package download is recorded against its handover: resource_type handover|package, resource_id handover_id
PACKAGE_RESOURCES = ("handover", "package")
PLAN_RESOURCES = ("dataset-version", "plan")
"""What targeting records a planning query against (a `query` of the dataset version it counted; `plan`)."""
DATA_ACTION_ACCESSES: dict[str, tuple[tuple[str, tuple[str, ...] | None], ...]] = {
    "request-extract": (("select", None),),
    "prepare-extract": (("select", None),),
    "sign-bast": (("upload", ("bast",)),),
    "release-package": (("release-key", None),),
    "download-package": (("download", (*PACKAGE_RESOURCES, "download-link")),),
    "plan-aggregates": (("query", PLAN_RESOURCES),),
}
"""How the services record each of the agreement's data actions (`p3ke_platform.agreement.DATA_ACTIONS`) in the
log, as (access action, resource types; None: any): targeting's `select` of an extract, delivery's accepted BAST
signature (`upload` of a `bast`), the package password (`release-key`) and the package download, targeting's
planning queries. Art. 8(1)-(3): once the agreement has ended none of these may happen. Reading, matching and
exporting feedback and reports, uploading a data balikan and compliance queries are duties that outlive the
agreement (Art. 8(3)), so they are never `outside_agreement_validity`."""
FOUR_PROGRAMS = tuple(p.value for p in ProgramCode)
"""Only when no agreement is loaded: the programs of Art. 3 as signed."""

class BadQuery(Explained, ValueError):
    """The query is unbounded or malformed (its catalogue message says how to fix it)."""


@dataclass(frozen=True)
class Filters:
    actor_subject: str | None = None
    actor_org: str | None = None
    role: str | None = None
    action: str | None = None
    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    program: str | None = None
    event_type: str | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject_ref: str | None = None  # computed from a NIK by the caller; never the NIK itself
    subject_refs: tuple[str, ...] = ()  # the same person under several keys (subject_index.lookup_refs)

    def where(self) -> list[ColumnElement[bool]]:
        c = entries.c
        out: list[ColumnElement[bool]] = []
        for name in ("actor_subject", "actor_org", "action", "outcome", "resource_type", "resource_id",
                     "program", "event_type", "service"):
            value = getattr(self, name)
            if value:
                out.append(c[name] == value)
        if self.role:
            out.append(c.actor_roles.like(f"% {self.role} %"))
        if self.since:
            out.append(c.occurred_at >= utc(self.since))
        if self.until:
            out.append(c.occurred_at < utc(self.until))
        refs = (*self.subject_refs, *((self.subject_ref,) if self.subject_ref else ()))
        if refs:  # the references as given, and older ones mapped to them (key rotation: subject_index.py)
            older = select(subject_ref_map.c.old_ref).where(subject_ref_map.c.new_ref.in_(refs))
            out.append(c.leaf_index.in_(select(subject_refs.c.leaf_index).where(
                or_(subject_refs.c.subject_ref.in_(refs), subject_refs.c.subject_ref.in_(older)))))
        return out

    def describe(self) -> dict[str, str]:
        """The filters for the record of this query (no subject reference: that is in subject_refs)."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) is not None and f.name not in ("subject_ref", "subject_refs")}


def utc(value: datetime) -> datetime:
    """Instants are stored in UTC (SQLite keeps no zone), so every bound is compared in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bounded_range(since: datetime | None, until: datetime | None, max_days: int) -> tuple[datetime, datetime]:
    if since is None or until is None:
        raise BadQuery(M("query.range_missing", max_days=max_days))
    if since.tzinfo is None or until.tzinfo is None:
        raise BadQuery(M("query.range_zone"))
    if until <= since:
        raise BadQuery(M("query.range_order"))
    if until - since > timedelta(days=max_days):
        raise BadQuery(M("query.range_too_long", max_days=max_days))
    return utc(since), utc(until)


def page(session: Session, filters: Filters, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    query = select(entries).where(entries.c.seq > after, *filters.where()).order_by(entries.c.seq).limit(limit)
    return [dict(r) for r in session.execute(query).mappings()]


def entry_at(session: Session, leaf_index: int) -> dict[str, Any] | None:
    row = session.execute(select(entries).where(entries.c.leaf_index == leaf_index)).mappings().first()
    return dict(row) if row else None


def with_bast(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `bast_number` to entries about a handover, from the handover-signed event in the log."""
    ids = {r["resource_id"] for r in rows if r.get("resource_type") in (*PACKAGE_RESOURCES, "package-password")}
    found: dict[str, str] = {}
    if ids:
        query = select(entries.c.resource_id, entries.c.payload).where(
            entries.c.event_type == HANDOVER_SIGNED, entries.c.resource_type == "handover-signed",
            entries.c.resource_id.in_(ids))
        for handover_id, payload in session.execute(query):
            found[handover_id] = json.loads(payload).get("bast_number")
    return [{**r, "bast_number": found.get(r.get("resource_id") or "")} for r in rows]


def stream(session: Session, filters: Filters, limit: int) -> Iterator[dict[str, Any]]:
    """Entries oldest first, in keyset pages (for exports)."""
    after, left = 0, limit
    while left > 0:
        rows = page(session, filters, after=after, limit=min(left, 5000))
        yield from rows
        if len(rows) < min(left, 5000):
            return
        after, left = rows[-1]["seq"], left - len(rows)


def _wib(column: Any, fmt: str, dialect: str) -> Any:
    """The Jakarta day/month of an instant column, as text."""
    if dialect == "postgresql":
        pg = {"%Y-%m": "YYYY-MM", "%Y-%m-%d": "YYYY-MM-DD"}[fmt]
        return func.to_char(func.timezone("UTC", column) + literal_column("interval '7 hours'"), pg)
    return func.strftime(fmt, column, "+7 hours")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def monthly_summary(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per party, per Jakarta month and outcome: accesses and records touched."""
    month = _wib(entries.c.occurred_at, "%Y-%m", _dialect(session)).label("month")
    query = (select(entries.c.actor_org, month, entries.c.outcome, func.count().label("accesses"),
                    func.coalesce(func.sum(entries.c.record_count), 0).label("records"))
             .where(entries.c.event_type == DATA_ACCESS, entries.c.occurred_at >= since,
                    entries.c.occurred_at < until)
             .group_by(entries.c.actor_org, month, entries.c.outcome)
             .order_by(month, entries.c.actor_org, entries.c.outcome))
    return [dict(r) for r in session.execute(query).mappings()]


# ---------------------------------------------------------------------------------------------------
# Violations
# ---------------------------------------------------------------------------------------------------

_FAR_PAST = datetime(1900, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _instants(days: list[tuple[date, date]]) -> list[tuple[datetime, datetime]]:
    """Jakarta day ranges (both days inclusive), merged, as half-open UTC instants."""
    merged: list[tuple[date, date]] = []
    for lo, hi in sorted(days):
        if merged and (merged[-1][1] == date.max or merged[-1][1] + timedelta(days=1) >= lo):
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=WIB).astimezone(UTC)

    return [(_FAR_PAST if lo <= _FAR_PAST.date() else start_of(lo),
             _FAR_FUTURE if hi >= _FAR_FUTURE.date() else start_of(hi + timedelta(days=1))) for lo, hi in merged]


def _segments(policy: Policy) -> list[tuple[date, date, Terms]]:
    """Each version of the terms with the days (inclusive) it applies."""
    timeline = policy.agreement.timeline()
    return [(start, timeline[i + 1][0] - timedelta(days=1) if i + 1 < len(timeline) else date.max, terms)
            for i, (start, terms) in enumerate(timeline)]


def in_force_windows(policy: Policy) -> list[tuple[datetime, datetime]]:
    """The instants (UTC-aware) when the agreement was in force, from its recorded timeline."""
    days = [(max(start, terms.validity.first_day), min(end, terms.validity.last_day))
            for start, end, terms in _segments(policy)]
    return _instants([(lo, hi) for lo, hi in days if lo <= hi])


def program_windows(policy: Policy) -> dict[str, list[tuple[datetime, datetime]]]:
    """For each program the agreement ever allowed, the instants (UTC-aware) when it was in scope: in the terms
    of the day (the four of Art. 3, and any an addendum added or removed, Art. 14), or covered by a written
    approval of party 1 valid that day (Art. 10(2)). Whether the agreement itself was in force is
    `in_force_windows`' question."""
    days: dict[str, list[tuple[date, date]]] = {}
    for start, end, terms in _segments(policy):
        for program in terms.programs:
            days.setdefault(program.code, []).append((start, end))
    for approval in policy.agreement.approvals:
        days.setdefault(approval.program, []).append((approval.valid_from, approval.last_day or date.max))
    return {code: _instants(ranges) for code, ranges in days.items()}


def _during(column: Any, windows: list[tuple[datetime, datetime]]) -> ColumnElement[bool]:
    return or_(*(and_(column >= lo, column < hi) for lo, hi in windows))


def _data_moves() -> ColumnElement[bool]:
    """Entries that record one of the agreement's data actions (DATA_ACTION_ACCESSES)."""
    c = entries.c
    pairs = dict.fromkeys(pair for accesses in DATA_ACTION_ACCESSES.values() for pair in accesses)
    return or_(*(and_(c.action == action, c.resource_type.in_(types)) if types else c.action == action
                 for action, types in pairs))


def _outside_programs(policy: Policy | None) -> ColumnElement[bool]:
    """An access for a program the agreement did not allow at that moment, or party 2's access for no program
    that states no purpose of the agreement as a whole (`AGREEMENT_PURPOSES`: the M&E of Art. 7, over every
    program at once)."""
    c = entries.c
    if policy is None:
        in_scope: ColumnElement[bool] = c.program.in_(FOUR_PROGRAMS)
        party_2 = "kemnaker"
    else:
        in_scope = or_(*(and_(c.program == code, _during(c.occurred_at, windows))
                         for code, windows in program_windows(policy).items() if windows))
        party_2 = policy.agreement.base.party(2).org
    return or_(and_(c.program.is_not(None), not_(in_scope)),
               and_(c.program.is_(None), c.actor_org == party_2, not_(_agreement_purpose())))


def _agreement_purpose() -> ColumnElement[bool]:
    """The entry states a purpose of the agreement as a whole (`AGREEMENT_PURPOSES`). The purpose is no column of
    its own: it is read in the payload, canonical JSON (RFC 8785: no spaces, `"purpose":"<code>"` exactly as written;
    a quote inside a string value is escaped, so only the member itself matches)."""
    payload = entries.c.payload
    return or_(*(payload.contains(f'"purpose":{json.dumps(code)}', autoescape=True) for code in AGREEMENT_PURPOSES))


def _listing(session: Session, where: list[Any], limit: int) -> list[dict[str, Any]]:
    query = select(entries).where(*where).order_by(entries.c.occurred_at, entries.c.seq).limit(limit)
    return [dict(r) for r in session.execute(query).mappings()]


def violations(session: Session, since: datetime, until: datetime, *, policy: Policy | None,
               volume_threshold: int, limit: int) -> dict[str, list[dict[str, Any]]]:
    c = entries.c
    base = [c.event_type == DATA_ACCESS, c.occurred_at >= since, c.occurred_at < until]
    allowed_release = [*base, c.outcome == "allowed", c.action.in_(RELEASE_ACTIONS)]
    out: dict[str, list[dict[str, Any]]] = {}

    out["refused"] = _listing(session, [*base, c.outcome == "denied"], limit)

    if policy is not None:
        windows = in_force_windows(policy)
        where = [*base, c.outcome == "allowed", _data_moves()] + ([not_(_during(c.occurred_at, windows))]
                                                                  if windows else [])
        out["outside_agreement_validity"] = _listing(session, where, limit)

    signed = aliased(entries)
    bast = exists().where(signed.c.event_type == HANDOVER_SIGNED, signed.c.resource_type == "handover-signed",
                          signed.c.resource_id == c.resource_id, signed.c.occurred_at <= c.occurred_at)
    out["download_without_signed_bast"] = _listing(
        session, [*base, c.outcome == "allowed", c.action == "download", c.resource_type.in_(PACKAGE_RESOURCES),
                  not_(bast)], limit)

    out["purpose_outside_programs"] = _listing(session, [*allowed_release, _outside_programs(policy)], limit)

    day = _wib(c.occurred_at, "%Y-%m-%d", _dialect(session)).label("day")
    volume: Select[Any] = (select(c.actor_org, c.actor_subject, day, func.count().label("accesses"),
                                  func.sum(c.record_count).label("records"))
                           .where(*base, c.outcome == "allowed")
                           .group_by(c.actor_org, c.actor_subject, day)
                           .having(func.sum(c.record_count) > volume_threshold)
                           .order_by(func.sum(c.record_count).desc()).limit(limit))
    out["unusual_volume"] = [dict(r) for r in session.execute(volume).mappings()]
    return out
