"""Calendar feeds of the obligations desk (service_layer/calendar_feeds.py): a secret URL per feed that a
calendar app (Outlook, Google Calendar) subscribes to without a bearer token.

Compliance auditors make, list and revoke feeds under /v1/obligations/calendar-feeds (included before the
obligations router: `/v1/obligations/{obligation_id}` would take the path otherwise). The feed itself,
`GET /v1/calendar-feeds/{token}.ics`, needs no token but the one in its URL; metrics name it by its route
template, and no log line holds a request's path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from p3ke_audit.entrypoints.deps import Ctx
from p3ke_audit.entrypoints.obligations_dto import OneLine, Org, Utc
from p3ke_audit.service_layer import calendar_feeds as feeds
from p3ke_platform import purpose_text
from p3ke_platform.api import refusal_answer
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, require
from p3ke_platform.refusal import Refused, messages

Auditor = Annotated[Principal, Depends(require("compliance-auditor"))]
FeedId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Token = Annotated[str, Path(min_length=1, max_length=200, description="the secret of the feed's URL")]
LABEL_MIN, LABEL_MAX = 2, 100
MAX_LIST = 1000
PUBLIC_ROUTE = "public_calendar_feed"
CACHE = "private, max-age=300"
M = messages("audit")  # reasons in the caller's language (PO domain `audit`)
NOT_FOUND = M("calendar_feed.not_found")

router = APIRouter(prefix="/v1", tags=["obligations"])
_ICS = {200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar, one all-day event per deadline"}}


class CalendarFeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    party: Org = Field(description="whose deadlines the feed serves (its own and both parties')")
    label: OneLine = Field(  # its length checked below, with the personal-data checks, in both languages
        description="what the feed is for, e.g. 'Kalender tim kepatuhan Pusdatik' (no personal data)",
        json_schema_extra={"minLength": LABEL_MIN, "maxLength": LABEL_MAX})

    @field_validator("label")
    @classmethod
    def _no_personal_data(cls, value: str) -> str:
        problems = purpose_text.problems(value, field="label", min_chars=LABEL_MIN, max_chars=LABEL_MAX)
        if problems:  # kept forever in the case history
            raise ValueError("; ".join(problems))
        return value


class FeedHistoryOut(BaseModel):
    at: Utc
    change: str = Field(description="created | revoked")
    actor_org: str | None
    actor: str | None
    detail: dict[str, Any]


class CalendarFeedOut(BaseModel):
    """A feed as listed: never its token nor the token's hash."""

    id: str
    party: Org
    label: str
    created_by_org: str
    created_by: str
    created_at: Utc
    revoked_at: Utc | None
    revoked_by: str | None
    history: list[FeedHistoryOut]


class CalendarFeedCreated(BaseModel):
    """A new feed: its URL holds the secret token and is shown this once (only its SHA-256 is kept)."""

    id: str
    party: Org
    label: str
    url: str = Field(description="subscribe to this address in the calendar app; it is not shown again")
    token_shown_once: Literal[True] = True
    created_at: datetime


def _listed(ctx: Ctx, feed_id: str) -> CalendarFeedOut:
    with ctx.sessions() as session:
        return CalendarFeedOut(**feeds.listing(session, feed_id=feed_id)[0])


@router.post("/obligations/calendar-feeds", response_model=CalendarFeedCreated, status_code=201,
             summary="Make a secret calendar feed URL of a party's deadlines (the URL is shown once)")
def create_feed(principal: Auditor, ctx: Ctx, request: Request, body: CalendarFeedIn) -> CalendarFeedCreated:
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        made = feeds.create(uow.session, party=body.party, label=body.label, now=now,
                            who=(principal.org, principal.subject))
    base = ctx.settings.audit_public_base_url or str(request.base_url).rstrip("/")
    url = base + request.app.url_path_for(PUBLIC_ROUTE, token=made.token)
    return CalendarFeedCreated(id=made.id, party=body.party, label=body.label, url=url, created_at=now)


@router.get("/obligations/calendar-feeds", response_model=list[CalendarFeedOut],
            summary="The calendar feeds, newest first, with their history (never their tokens)")
def list_feeds(principal: Auditor, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200
               ) -> list[CalendarFeedOut]:
    with ctx.sessions() as session:
        return [CalendarFeedOut(**f) for f in feeds.listing(session, limit=limit)]


@router.delete("/obligations/calendar-feeds/{feed_id}", response_model=CalendarFeedOut,
               summary="Revoke a calendar feed: its URL answers 404 from now on (the party that made it only)")
def revoke_feed(principal: Auditor, ctx: Ctx, feed_id: FeedId) -> CalendarFeedOut:
    try:
        with ctx.unit_of_work() as uow:
            feeds.revoke(uow.session, feed_id, now=ctx.clock(), who=(principal.org, principal.subject))
    except feeds.FeedError as exc:
        if exc.status == 403:  # another party's feed: refused and recorded like any refusal
            raise refusal_answer(ctx, principal, Refused(403, exc.message, rule=exc.code), action="refusal",
                                 resource_type=feeds.CASE, resource_id=feed_id) from None
        raise LocalizedHTTPException(exc.status, exc.message, headers={"X-P3KE-Rule": exc.code},
                                     rule=exc.code) from None
    return _listed(ctx, feed_id)


@router.get("/calendar-feeds/{token}.ics", name=PUBLIC_ROUTE, response_class=Response, responses=_ICS,
            summary="A calendar feed by its secret URL, for calendar apps (no bearer token)")
def public_calendar_feed(ctx: Ctx, token: Token) -> Response:
    with ctx.sessions() as session:
        party = feeds.party_of(session, token)
    if party is None:  # unknown and revoked tokens get the same answer
        raise LocalizedHTTPException(404, NOT_FOUND)
    return Response(feeds.party_calendar(ctx, party), media_type="text/calendar; charset=utf-8", headers={
        "Cache-Control": CACHE, "Content-Disposition": f'inline; filename="tenggat-pks-{party}.ics"',
        "Referrer-Policy": "no-referrer"})
