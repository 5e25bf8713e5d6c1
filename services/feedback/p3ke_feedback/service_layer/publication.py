"""Publishing a report beyond the two parties (Art. 10(3)): only with the other party's recorded
disclosure consent (the agreement policy's `publish-report`), only aggregates, small cells suppressed,
in party 2's view (served persons not handed over have no desil: a publication says no more about Data
P3KE membership than party 2 may know).

The publication is stored as published (content and its SHA-256) with the consents it relied on, so
what was disclosed, by whom and on what grounds can be shown later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from sqlalchemy import insert, select

from p3ke_feedback.adapters.orm import publications
from p3ke_feedback.domain.report import publish_row
from p3ke_feedback.domain.vocabulary import MatchView
from p3ke_feedback.service_layer import programs, reports
from p3ke_feedback.service_layer.context import Context
from p3ke_platform.ids import random_id
from p3ke_platform.refusal import Refused, messages
from p3ke_schemas import Actor

M = messages("feedback")


def publish(ctx: Context, actor: Actor, q: reports.ReportQuery, purpose: str) -> dict[str, Any]:
    now = ctx.clock()
    decision = ctx.policy.decide_for(actor, "publish-report", programs.policy_scope(ctx, q.program), at=now,
                                     purpose=purpose)
    Refused.unless(decision)
    with ctx.sessions() as session:
        if q.program:
            programs.require_known(ctx, session, q.program)
        report = reports.build(ctx, session, q, MatchView.HANDOVER)  # public: no more than party 2 may see
    min_cell = ctx.settings.feedback_min_cell
    rows = [dataclasses.asdict(publish_row(row, min_cell)) for row in report.rows]
    content: dict[str, Any] = {
        "published_at": now.isoformat(), "published_by_org": actor.org, "grounds": list(decision.grounds),
        "terms_version": decision.terms_version, "purpose": purpose, "min_cell": min_cell, "program": q.program,
        "start": q.start, "end": q.end, "level": q.level, "period": q.granularity, "rows": rows,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    publication_id = random_id("pub")
    with ctx.unit_of_work() as uow:
        uow.session.execute(insert(publications).values(
            publication_id=publication_id, published_org=actor.org, published_subject=actor.subject,
            published_at=now, program=q.program, purpose=purpose, grounds=json.dumps(list(decision.grounds)),
            terms_version=decision.terms_version, content=text, content_sha256=digest))
        uow.record_access(actor=actor, action="export", resource_type="feedback-report-publication",
                          resource_id=publication_id, record_count=len(rows), agreement_id=ctx.agreement_id,
                          program=q.program, purpose=purpose[:2000],
                          reason=f"published under {', '.join(decision.grounds)} (Art. 10(3))")
    return {"publication_id": publication_id, "content_sha256": digest, **content}


def stored(ctx: Context, publication_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
        row = session.execute(select(publications).where(
            publications.c.publication_id == publication_id)).mappings().first()
    if row is None:
        raise Refused(404, M("publication.not_found", publication=publication_id), rule="publication-unknown")
    return {"publication_id": publication_id, "content_sha256": row["content_sha256"], **json.loads(row["content"])}
