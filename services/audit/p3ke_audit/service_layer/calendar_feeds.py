"""Calendar feeds: secret per-party URLs of the obligations' iCalendar feed, for calendar apps (Outlook, Google
Calendar) that subscribe to a URL and cannot send a bearer token.

The URL's token (`secrets.token_urlsafe(32)`, 256 bits) is shown once when the feed is made; only its SHA-256 is
kept, so a fetch finds its feed by looking the hash up (nothing compares the token itself) and a copy of the
database gives no working URL. A feed is revoked, never deleted; making and revoking it are written to the case
history (`audit_case_history`, case type `calendar-feed`) in the same transaction. A fetch reads no personal data
(obligations hold none) and is not an access to be audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from p3ke_audit.adapters import ical_feed
from p3ke_audit.adapters import obligation_store as store
from p3ke_audit.adapters.orm import calendar_feeds
from p3ke_audit.domain.messages import Explained, M
from p3ke_audit.service_layer import obligations
from p3ke_audit.service_layer.case_history import as_utc, history_of, record
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.ids import random_id
from p3ke_platform.refusal import Message

CASE = "calendar-feed"
TOKEN_BYTES = 32


class FeedError(Explained):
    """A change to a feed that cannot be made: its HTTP status, a stable code and a catalogue message (`str()`:
    Indonesian / English)."""

    def __init__(self, status: int, code: str, message: Message) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class NewFeed:
    """A feed just made: its id and the token of its URL (shown once, kept nowhere)."""

    id: str
    token: str


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def party_calendar(ctx: AuditContext, party: str) -> bytes:
    """The iCalendar feed of `party`'s open deadlines (its own and both parties'), as of the service's today:
    what the authenticated `calendar.ics` and every secret feed URL serve."""
    today = obligations.today(ctx)
    with ctx.sessions() as session:
        rows = store.listing(session, today=today, due_soon_days=ctx.settings.obligation_due_soon_days,
                             status="unfulfilled", party=party, limit=100_000)
    return ical_feed.feed([(r, obligations.status_of(ctx, r, today)) for r in rows], party=party, today=today)


def create(session: Session, *, party: str, label: str, now: datetime, who: tuple[str, str]) -> NewFeed:
    """A new feed of `party`'s deadlines, made by `who` (org, subject), with its history row."""
    feed = NewFeed(random_id("cal"), secrets.token_urlsafe(TOKEN_BYTES))
    session.execute(insert(calendar_feeds).values(
        id=feed.id, token_sha256=token_sha256(feed.token), party=party, label=label, created_by_org=who[0],
        created_by=who[1], created_at=now))
    record(session, CASE, feed.id, at=now, change="created", who=who, detail={"party": party, "label": label})
    return feed


def revoke(session: Session, feed_id: str, *, now: datetime, who: tuple[str, str]) -> None:
    """Revoke a feed: its URL answers 404 from now on. Only the compliance auditors of the party that made it may
    (`FeedError` 403); a feed revoked already is a 409."""
    row = session.execute(select(calendar_feeds).where(calendar_feeds.c.id == feed_id)
                          .with_for_update()).mappings().first()
    if row is None:
        raise FeedError(404, "feed-not-found", M("calendar_feed.no_such", feed=feed_id[:120]))
    if row["created_by_org"] != who[0]:
        raise FeedError(403, "feed-of-another-party", M("calendar_feed.of_another_party", org=row["created_by_org"]))
    if row["revoked_at"] is not None:
        revoked = as_utc(row["revoked_at"]).isoformat()
        raise FeedError(409, "feed-revoked", M("calendar_feed.revoked", at=revoked))
    session.execute(update(calendar_feeds).where(calendar_feeds.c.id == feed_id)
                    .values(revoked_at=now, revoked_by=who[1]))
    record(session, CASE, feed_id, at=now, change="revoked", who=who, detail={"party": row["party"]})


def party_of(session: Session, token: str) -> str | None:
    """The party whose feed `token` opens, or None (no such token, or its feed is revoked: the same answer)."""
    return session.execute(select(calendar_feeds.c.party).where(
        calendar_feeds.c.token_sha256 == token_sha256(token), calendar_feeds.c.revoked_at.is_(None))).scalar()


def listing(session: Session, *, limit: int = 1000, feed_id: str | None = None) -> list[dict[str, Any]]:
    """The feeds (or the one `feed_id`), newest first, with their history; never a token nor a token's hash."""
    query = select(calendar_feeds).order_by(calendar_feeds.c.created_at.desc(), calendar_feeds.c.id).limit(limit)
    if feed_id is not None:
        query = query.where(calendar_feeds.c.id == feed_id)
    rows = session.execute(query).mappings().all()
    return [{"id": r["id"], "party": r["party"], "label": r["label"], "created_by_org": r["created_by_org"],
             "created_by": r["created_by"], "created_at": as_utc(r["created_at"]),
             "revoked_at": as_utc(r["revoked_at"]) if r["revoked_at"] else None, "revoked_by": r["revoked_by"],
             "history": history_of(session, CASE, r["id"])} for r in rows]
