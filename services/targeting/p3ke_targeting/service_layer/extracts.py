"""From an extract request to a frozen extract, or to a refusal with its reason.

Order: the agreement policy first (who asks, for which program, which fields, on which day; and the
recipient the request names, if any: a person of party 2 whose role may download the package), then
the request's own sense (fields, criteria, region codes), then the dataset version and its snapshot,
then the selection. Every refusal names its reason; nothing is half-made: the files are written
under names derived from the request, so a retry rewrites them and a refusal removes them.

A refusal's reason goes to party 2 (extract-prepared, read by its platform and shown to its officers) and into
the audit log: a catalogue message (PO domain `targeting`, the agreement policy's from `agreement`) kept as one
text in both languages, "Indonesian / English"; `Rejected.code` is its stable key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from p3ke_platform import purpose_text
from p3ke_platform.agreement import Decision, agreement_day
from p3ke_platform.logging import get_logger
from p3ke_platform.refusal import Message
from p3ke_platform.subject_keys import LEGACY_KEY_ID
from p3ke_schemas import Actor, ExtractRequested
from p3ke_targeting.adapters import duckdb_selection, extract_files
from p3ke_targeting.adapters.duckdb_selection import LedgerGroup
from p3ke_targeting.adapters.orm import disposal, extracts
from p3ke_targeting.adapters.snapshot import SnapshotError
from p3ke_targeting.domain.layout import KNOWN_FIELDS
from p3ke_targeting.domain.selection import Invalid, M, Selection, check_fields, resolve
from p3ke_targeting.service_layer import working_copies
from p3ke_targeting.service_layer.added_programs import added_rule
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.datasets import dataset_row, usable_snapshot

log = get_logger(__name__)

SERVICE_ACTOR = Actor(org="kemenkopmk", subject="urn:p3ke:service:targeting", roles=["data-steward"],
                      service_account=True)
"""Targeting prepares extracts for party 1 (Art. 4(1): party 1 decides what leaves)."""


LEDGER_RESOURCE = "selection-ledger"
"""A recipient ledger's resource type in the retention disposal job's records (`retention_inventory.py`)."""

JUSTIFICATION_RULE = "justification"
"""A request refused for its justification text (a NIK-like number, a name, too long): the text is kept out of
the audit log and extract-prepared."""


@dataclass(frozen=True)
class Rejected:
    reason: str
    """Indonesian / English."""
    rule: str = "invalid-request"
    terms_version: str | None = None
    dataset_version_id: str | None = None
    code: str | None = None
    """The stable key of the reason's catalogue message (None: a text from elsewhere, e.g. the justification check)."""

    @classmethod
    def of(cls, message: Message, *, rule: str = "invalid-request", terms_version: str | None = None,
           dataset_version_id: str | None = None) -> Rejected:
        return cls(message.both(), rule=rule, terms_version=terms_version, dataset_version_id=dataset_version_id,
                   code=message.key)


@dataclass(frozen=True)
class Accepted:
    extract_id: str
    dataset_version_id: str
    terms_version: str
    record_count: int
    counts_by_desil: dict[str, int]
    counts_by_region: dict[str, int]
    file_path: Path
    file_sha256: str
    ledger_path: Path
    ledger_sha256: str
    reference_date: date | None = None
    """The day ages were computed on (the request's, or the day it was received)."""
    seconds: float = 0.0


class Refused(Exception):
    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


def extract_id_for(request_id: str) -> str:
    """One extract per request, named from the request: a retry finds the same name."""
    return "ext-" + hashlib.sha256(f"p3ke-extract:{request_id}".encode()).hexdigest()[:32]


def paths_for(ctx: Context, extract_id: str) -> tuple[Path, Path]:
    """The extract file, and its recipient ledger (kept apart: it outlives the extract's retention)."""
    s = ctx.settings
    ledger = Path(s.data_dir) / "targeting" / "delivered" / f"{extract_id}.parquet"
    return s.extracts_dir / f"{extract_id}.parquet", ledger


def order_seed(ctx: Context, request_id: str) -> str:
    """The tie-break key's prefix: secret (derived from the subject hash key), so a requester cannot
    choose a request id that favours people they know, and fixed per request, so the same request
    on the same dataset version always selects the same people."""
    secret = hashlib.sha256(b"p3ke-targeting-order:" + ctx.settings.perturbation_secret.encode()).hexdigest()
    return f"{secret[:32]}:{request_id}:"


def prepare(ctx: Context, session: Session, request: ExtractRequested, received_at: datetime) -> Accepted | Rejected:
    """Decide a request received at `received_at` (ages are computed on that day, see `resolve`)."""
    refused_text = purpose_text.refusal(request.justification)
    if refused_text is not None:
        return Rejected(refused_text, rule=JUSTIFICATION_RULE)
    try:
        terms_version = _policy(ctx, request)
        fields = check_fields(request.fields)
        dataset = dataset_row(session, request.dataset_version_id)
        program = str(request.program)
        selection = resolve(request.criteria, program, ctx.rules, ctx.region_codes,
                            default_reference=agreement_day(received_at),
                            added=added_rule(ctx, program, request.requested_at, request.purpose))
        snapshot = usable_snapshot(ctx, dataset, [*fields, *selection.columns])
        return _select(ctx, session, request, selection, fields, dataset, snapshot, terms_version)
    except Refused as refused:
        return refused.rejected
    except Invalid as invalid:
        return Rejected.of(invalid.message) if invalid.message else Rejected(invalid.reason)
    except SnapshotError as exc:
        return Rejected.of(exc.message, rule="snapshot")


def _policy(ctx: Context, request: ExtractRequested) -> str:
    if request.agreement_id != ctx.agreement_id:
        raise Refused(Rejected.of(M("refused.agreement_unknown", agreement=request.agreement_id,
                                    applied=ctx.agreement_id), rule="agreement"))
    program = str(request.program)
    asked = ctx.policy.decide_for(request.requested_by, "request-extract", program, request.fields,
                                  at=request.requested_at, purpose=request.purpose)
    _refuse_unless(asked, request.fields)
    if request.recipient is not None:
        _check_recipient(ctx, request)
    prepared = ctx.policy.decide_for(SERVICE_ACTOR, "prepare-extract", program, request.fields, at=ctx.clock(),
                                     purpose=request.purpose)
    _refuse_unless(prepared, request.fields)
    return prepared.terms_version


def _check_recipient(ctx: Context, request: ExtractRequested) -> None:
    """The recipient a request names receives the package password and download links instead of the
    requester: a person (no service account) of party 2 with a role the agreement lets download it."""
    recipient = request.recipient
    assert recipient is not None
    terms = ctx.policy.terms_at(request.requested_at)
    party_2 = terms.party(2).org
    who = M("recipient.who", org=recipient.org, subject=repr(recipient.subject))
    if recipient.org != party_2:
        raise Refused(Rejected.of(M("recipient.not_party_2", who=who, party_2=party_2), rule="recipient",
                                  terms_version=terms.version))
    if recipient.service_account:
        raise Refused(Rejected.of(M("recipient.service_account", who=who), rule="recipient",
                                  terms_version=terms.version))
    may = ctx.policy.decide_for(recipient, "download-package", str(request.program), request.fields,
                                at=request.requested_at, purpose=request.purpose)
    if not may.allowed:
        raise Refused(Rejected.of(M("recipient.may_not", who=who, reason=_why(may)), rule="recipient",
                                  terms_version=may.terms_version))


def _why(decision: Decision) -> Message | str:
    """The policy's reason: its catalogue message (rendered in each language), else its text."""
    return decision.message if decision.message is not None else decision.reason


def _refuse_unless(decision: Decision, fields: list[str]) -> None:
    if decision.allowed:
        return
    unknown = [f for f in dict.fromkeys(fields) if f not in KNOWN_FIELDS]
    if unknown and decision.rule == "field-minimisation":
        message = M("refused.fields_unknown", fields=", ".join(map(repr, unknown)), reason=_why(decision))
        raise Refused(Rejected.of(message, rule=decision.rule, terms_version=decision.terms_version))
    if decision.message is not None:
        raise Refused(Rejected.of(decision.message, rule=decision.rule, terms_version=decision.terms_version))
    raise Refused(Rejected(decision.reason, rule=decision.rule, terms_version=decision.terms_version))


def _ledger_rows(session: Session, program: str) -> list[tuple[str, Path, str, int]]:
    """(extract id, ledger, key id, persons) of this program's recipient ledgers still kept: a ledger disposed of
    under the retention schedule (its basis, the agreement, has ended) is no longer read. Raises Invalid when a
    ledger is missing."""
    d, e = disposal.disposals.c, extracts.c
    disposed = select(d.resource_id).where(d.resource_type == LEDGER_RESOURCE)
    rows = session.execute(select(e.extract_id, e.ledger_uri, e.ledger_key_id, e.record_count)
                           .where(e.program == program, e.extract_id.not_in(disposed))
                           .order_by(e.extract_id)).all()
    out = []
    for extract_id, uri, key_id, n in rows:
        path = Path(uri)
        if not path.is_file():
            raise Invalid(M("invalid.ledger_missing", extract=extract_id, program=program))
        out.append((str(extract_id), path, str(key_id or LEGACY_KEY_ID), int(n)))
    return out


def ledgers_for(ctx: Context, session: Session, program: str) -> tuple[list[Path], int]:
    """The recipient ledgers of this program's extracts so far, and how many persons they hold. A ledger disposed
    of under the retention schedule (its basis, the agreement, has ended) is no longer read."""
    rows = _ledger_rows(session, program)
    return [path for _, path, _, _ in rows], sum(n for *_, n in rows)


def keyed_ledgers(ctx: Context, session: Session, program: str) -> tuple[list[LedgerGroup], int]:
    """The recipient ledgers of this program grouped by the subject hash key each was written with
    (`extracts.ledger_key_id`), with that key's secret, and how many persons they hold: after a rotation a
    candidate is compared with each ledger under the ledger's own key, so earlier recipients stay excluded.
    Raises Invalid when a ledger's key has left the ring (the ledger must be re-keyed first)."""
    rows = _ledger_rows(session, program)
    ring = ctx.settings.subject_key_ring
    by_key: dict[str, list[Path]] = {}
    for extract_id, path, key_id, _ in rows:
        if ring.get(key_id) is None:
            raise Invalid(M("invalid.ledger_key_gone", extract=extract_id, key=key_id, ring=", ".join(ring.ids),
                            program=program))
        by_key.setdefault(key_id, []).append(path)
    groups = []
    for key_id, paths in by_key.items():
        key = ring.get(key_id)
        assert key is not None
        groups.append(LedgerGroup(hash_key=key.secret, paths=tuple(paths)))
    return groups, sum(n for *_, n in rows)


def _select(ctx: Context, session: Session, request: ExtractRequested, selection: Selection, fields: list[str],
            dataset: Any, snapshot: Path, terms_version: str) -> Accepted | Rejected:
    started = time.perf_counter()
    version = dataset["dataset_version_id"]
    ledgers, ledger_rows = (keyed_ledgers(ctx, session, selection.program) if selection.exclude_delivered
                            else ([], 0))
    extract_id = extract_id_for(request.request_id)
    file_path, ledger_path = paths_for(ctx, extract_id)
    s = ctx.settings
    bounds = (s.targeting_duckdb_threads, s.targeting_duckdb_memory, Path(s.data_dir) / "tmp")
    with _selection_table(ctx, bounds) as table, ctx.duckdb.connect(*bounds) as con, \
            ctx.duckdb.connect(*bounds) as other:
        with working_copies.rows(ctx, con, bounds, dataset) as rows:
            duckdb_selection.select_into(con, table=table, snapshot=snapshot, selection=selection, fields=fields,
                                         quota=request.quota, order_seed=order_seed(ctx, request.request_id),
                                         ledgers=ledgers, ledger_rows=ledger_rows, source=rows)
        by_desil = {str(d): int(n) for d, n in con.execute(
            f"SELECT __desil, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()}
        by_region = {str(p): int(n) for p, n in con.execute(
            f"SELECT __province, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()}
        count = sum(by_desil.values())
        if count == 0:
            return Rejected.of(M("rejected.nobody", dataset=version, program=selection.program,
                                 rules_version=ctx.rules.rules_version,
                                 after=M("rejected.nobody.after_ledgers") if ledgers else ""),
                               terms_version=terms_version, dataset_version_id=version)
        provenance = {
            "extract_id": extract_id, "request_id": request.request_id, "agreement_id": request.agreement_id,
            "program": selection.program, "dataset_version_id": version,
            "snapshot_sha256": dataset["snapshot_sha256"], "rules_version": ctx.rules.rules_version,
            "terms_version": terms_version, "reference_date": selection.reference_date.isoformat(),
            "criteria": extract_files.provenance_json(request.criteria.model_dump(mode="json")),
            "record_count": str(count),
        }
        # the extract is written by DuckDB's COPY on another connection (outside Python's lock) while this thread
        # computes the ledger's keyed hashes with OpenSSL's SHA-256; `bench targeting` at 10^7 snapshot rows (50,000
        # persons), 2 interleaved pairs: 0.399-0.411 s an extract against 0.430-0.449 s with the hashes in SQL on
        # the other connection and the extract encoded by pyarrow here
        with ThreadPoolExecutor(1, thread_name_prefix="p3ke-targeting-extract") as writer:
            extract = writer.submit(extract_files.write_extract, other, table=table, selection=selection,
                                    fields=fields, final=file_path, provenance=provenance)
            if count <= extract_files.LEDGER_IN_MEMORY:
                refs = extract_files.selected_refs(con, table, s.subject_hash_key)
                ledger_sha = extract_files.write_ledger_refs(refs, ledger_path)
            else:
                ledger_sha = extract_files.write_ledger(con, table, s.subject_hash_key, ledger_path)
            file_sha = extract.result()
    return Accepted(extract_id=extract_id, dataset_version_id=version, terms_version=terms_version,
                    record_count=count, counts_by_desil=by_desil, counts_by_region=by_region,
                    file_path=file_path, file_sha256=file_sha, ledger_path=ledger_path,
                    ledger_sha256=ledger_sha, reference_date=selection.reference_date,
                    seconds=time.perf_counter() - started)


@contextmanager
def _selection_table(ctx: Context, bounds: tuple[int, str, Path]) -> Iterator[str]:
    """A fresh name for an extract's selection table (`duckdb_selection.select_into`), dropped on leaving the block
    whatever happened, on a connection of its own (the extract's may hold an unfinished result after a failure)."""
    table = duckdb_selection.selection_table()
    try:
        yield table
    finally:
        with ctx.duckdb.connect(*bounds) as con:
            con.execute(f"DROP TABLE IF EXISTS {duckdb_selection.table_name(table)}")


def discard(ctx: Context, request_id: str) -> None:
    """Remove what an earlier, uncommitted attempt at this request may have left on disk."""
    extract_files.remove(*paths_for(ctx, extract_id_for(request_id)))


def counts_json(counts: dict[str, int]) -> str:
    return json.dumps(counts, sort_keys=True)


def delivered_count(session: Session, program: str) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(extracts.c.record_count), 0))
                              .where(extracts.c.program == program)) or 0)
