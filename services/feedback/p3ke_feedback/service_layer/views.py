"""Who sees how much of a match: party 1 (the data provider) sees every match class and the desil of
served persons who were not handed over; everyone else, party 2 first, sees only whether a person was in
the handover (`MatchView.HANDOVER`), so that a data balikan never tells party 2 whether someone it was
not handed is in Data P3KE, or in which desil (Art. 4(2), 10(1)). The caller's org decides, as the
agreement's terms in force name the parties."""

from __future__ import annotations

from p3ke_feedback.domain.vocabulary import MatchView
from p3ke_feedback.service_layer.context import Context


def view_of(ctx: Context, org: str) -> MatchView:
    party = ctx.policy.terms_at(ctx.clock()).org_party(org)
    return MatchView.P3KE if party is not None and party.party == 1 else MatchView.HANDOVER
