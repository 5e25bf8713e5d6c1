"""The response bundle of an access request: one document (the request, the person's records as each service
holds them, the person's trail from the log, and what could not be included), served as the machine-readable JSON
and rendered as the Indonesian PDF (adapters/subject_response_pdf.py). Both come from the same document, so they
say the same thing.

Two scopes: `full` (POST /v1/subject-requests/{id}/response, the sources asked with the person's NIK, see
service_layer/subject_records.py) and `trail-only` (the GET response.pdf/json, which has no NIK to ask with and
says so). The bundle is complete only when the trail is whole and every configured source answered."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from p3ke_audit.adapters.subject_response_pdf import NOT_INCLUDED_EN, NOT_INCLUDED_ID
from p3ke_audit.service_layer.case_history import as_utc
from p3ke_audit.service_layer.subject_records import SourceAnswer
from p3ke_platform.agreement import Policy

FORMAT = "p3ke.subject-access-response.v1"
TRAIL_FIELDS = ("leaf_index", "event_id", "service", "actor_org", "actor_subject", "action", "resource_type",
                "resource_id", "outcome", "program", "agreement_id", "record_count", "bast_number")
LABELS = {1: "KESATU", 2: "KEDUA"}


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(row["payload"]) if row.get("payload") else {}
    return {**{k: row.get(k) for k in TRAIL_FIELDS},
            "occurred_at": as_utc(row["occurred_at"]).isoformat(),
            "actor_roles": (row.get("actor_roles") or "").split(),
            "purpose": payload.get("purpose"), "reason": payload.get("reason")}


NO_SOURCES_ID = ("tidak ada layanan sumber yang dikonfigurasi (P3KE_AUDIT_SUBJECT_SOURCES kosong): data Anda dalam "
                 "snapshot, ekstrak dan data balikan tidak dapat ditanyakan")
NO_SOURCES_EN = ("no source service is configured (P3KE_AUDIT_SUBJECT_SOURCES is empty): your record in the snapshot, "
                 "the extracts and the feedback batches could not be asked for")


def _not_included(sources: list[SourceAnswer] | None) -> dict[str, Any] | None:
    """What the bundle lacks, Indonesian first: everything but the trail (trail-only), or the sources not asked."""
    if sources is None:
        return {"id": NOT_INCLUDED_ID, "en": NOT_INCLUDED_EN, "what": ["snapshot", "extracts", "feedback-batches"]}
    if not sources:
        return {"id": NO_SOURCES_ID, "en": NO_SOURCES_EN, "what": ["snapshot", "extracts", "feedback-batches"]}
    failed = [s for s in sources if not s.answered]
    if not failed:
        return None
    names = ", ".join(s.source for s in failed)
    return {"id": f"layanan berikut tidak dapat ditanyai, sehingga data Anda yang disimpannya belum termasuk: {names}",
            "en": f"these services could not be asked, so the data they hold about you is not included: {names}",
            "what": [s.source for s in failed]}


def document(request: dict[str, Any], trail: list[dict[str, Any]], *, complete: bool, policy: Policy,
             generated_at: datetime, sources: list[SourceAnswer] | None = None) -> dict[str, Any]:
    """The response document (JSON-ready). `request`: the request as shown (no NIK); `trail`: its log entries;
    `sources`: each source service's answer (None: a trail-only bundle)."""
    base = policy.agreement.base
    missing = _not_included(sources)
    return {
        "format": FORMAT,
        "generated_at": generated_at.isoformat(),
        "parties": [{"party": p.party, "label": LABELS.get(p.party, str(p.party)), "org": p.org, "name": p.name}
                    for p in sorted(base.parties, key=lambda p: p.party)],
        "agreement_id": base.id,
        "request": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in request.items()
                    if k in ("request_id", "kind", "subject_ref", "office", "intake_org", "identity_document",
                             "identity_checked_by", "identity_checked_at", "received_at", "due_at")},
        "scope": "trail-only" if sources is None else "full",
        "complete": complete and missing is None,
        "records": [s.as_json() for s in sources or []],
        "trail": [_entry(r) for r in trail],
        "trail_complete": complete,
        "not_included": missing,
        "verification": "each trail entry is leaf `leaf_index` of the audit log: GET /v1/entries/{leaf_index} gives "
                        "its inclusion proof in a signed checkpoint",
    }


def json_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False).encode()
