"""Before a consumer applies an event: is it signed, by a key this deployment trusts, whose owner may produce
this event type and vouch for the person it names, at a believable time?

A refusal names its reason precisely (no payload values): the worker dead-letters the event with it, counts
it in `p3ke_event_origin_refused_total`, and records it in the audit log as a refused access.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter

from p3ke_platform.event_keys import KeyRing, platform_party
from p3ke_schemas import CloudEvent, DataAccess, acting_principal, spec_for_topic
from p3ke_schemas.signing import Signature, SignatureError, verify_headers

REFUSED = Counter("p3ke_event_origin_refused_total", "events refused before applying them, for their origin",
                  ["consumer", "type", "reason"])
CLAIMED_TIMES = ("requested_at", "submitted_at", "published_at", "occurred_at")
AUTHTYPES = ("user", "service_account", "system")


class OriginRefused(Exception):
    """The event's origin is not proven; `kind` is the metric label, the text the reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class OriginCheck:
    ring: KeyRing
    orgs: dict[int, str]  # party number -> org code, from the agreement
    skew: timedelta

    def verify(self, message_key: bytes | None, value: bytes, headers: Any, event: CloudEvent,
               received_at: datetime, checked: Signature | SignatureError | None = None) -> CloudEvent:
        """The event with its verified signature; OriginRefused otherwise. `checked` is the signature check's
        outcome when it was done beforehand (a SignaturePool checks a batch's on several CPUs)."""
        try:
            if isinstance(checked, SignatureError):
                raise checked
            signature = checked or verify_headers(headers, value, self.ring.public_key)
        except SignatureError as exc:
            text = str(exc)
            kind = ("unsigned" if "not signed" in text else "unknown-key" if "not a key this deployment trusts" in text
                    else "bad-signature")
            raise OriginRefused(kind, text) from exc
        key = self.ring.get(signature.kid)
        assert key is not None  # verify_headers found it
        if not key.valid_at(received_at):
            raise OriginRefused("key-not-valid", f"key {key.kid!r} of {key.owner} is not valid on "
                                f"{received_at.date().isoformat()} (valid {key.window()})")
        self._principal(event, key.owner, key.kid)  # first: the most precise reason for a platform key
        spec = event.spec
        if key.owner not in spec.producers:
            raise OriginRefused("wrong-producer", f"key {key.kid!r} belongs to {key.owner}, which may not produce "
                                f"{spec.name} (its producers: {', '.join(spec.producers)})")
        if message_key is not None and message_key.decode(errors="replace") != event.key:
            raise OriginRefused("key-mismatch", f"the Kafka key is not the event's {spec.key_field}")
        data = event.data
        if isinstance(data, DataAccess) and data.service != key.owner:
            raise OriginRefused("wrong-producer", f"a data-access event in the name of {data.service[:40]!r} "
                                f"is signed by {key.owner}'s key {key.kid!r}")
        party = platform_party(key.owner)
        if party is not None:
            self._claimed_times(event, received_at)
        return replace(event, signature=signature)

    def signed_by_a_producer(self, topic: str, value: bytes | None, headers: Any, at: datetime) -> bool:
        """Whether a message that is not a valid event (e.g. it fails the schema) still carries a valid signature
        by a key whose owner may produce on `topic`: then its sender may be told why it was refused."""
        try:
            signature = verify_headers(headers, value or b"", self.ring.public_key)
            spec = spec_for_topic(topic)
        except (SignatureError, KeyError):
            return False
        key = self.ring.get(signature.kid)
        return key is not None and key.valid_at(at) and key.owner in spec.producers

    def _principal(self, event: CloudEvent, owner: str, kid: str) -> None:
        if event.authtype not in AUTHTYPES or not event.authid:
            raise OriginRefused("principal", "the event names no principal: ce_authtype must be one of "
                                f"{', '.join(AUTHTYPES)} and ce_authid the account id")
        person = acting_principal(event.data)
        party = platform_party(owner)
        if person is None:
            if party is not None:
                return  # no platform produces an event without an actor: the producer check refuses it
            if event.authtype != "system" or event.authid != owner:
                raise OriginRefused("principal", f"an event naming no actor is vouched for by its producer only: "
                                    f"ce_authtype system and ce_authid {owner!r}")
            return
        if event.authid != person.subject or event.authtype != ("service_account" if person.service_account
                                                                 else "user"):
            raise OriginRefused("principal", "ce_authtype/ce_authid do not name the actor the data names")
        if party is not None and self.orgs.get(party) != person.org:
            raise OriginRefused("principal", f"{owner}'s key {kid!r} may vouch only for people of "
                                f"{self.orgs.get(party)}, not for an account of {person.org}")

    def _claimed_times(self, event: CloudEvent, received_at: datetime) -> None:
        claims = [("ce_time", event.time)] + [(name, getattr(event.data, name)) for name in CLAIMED_TIMES
                                             if isinstance(getattr(event.data, name, None), datetime)]
        for name, claimed in claims:
            if claimed.tzinfo is None:
                raise OriginRefused("time", f"{name} has no time zone")
            off = claimed - received_at
            if abs(off) > self.skew:
                raise OriginRefused("time", f"{name} is {_span(off)} {'after' if off > timedelta(0) else 'before'} "
                                    f"the broker received the event (at most {_span(self.skew)} allowed)")


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta).total_seconds())
    if seconds >= 86_400:
        return f"{seconds // 86_400} day(s)"
    if seconds >= 3600:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minute(s)" if seconds >= 60 else f"{seconds} second(s)"
