"""How the borrower's own wishes become limits on contact: written once, for every party.

Two events carry them. The lender's contact preferences
(``collections.borrower.contact-preferences-updated``) are a snapshot: what one says holds from
its effective time until the next replaces it. The notifier's
``collections.borrower.opt-out-recorded`` records a channel the borrower opted out of; one
from a STOP / 退订 / TD reply stands for good (no event lifts it), while one the notifier
derived from the lender's preferences is already in that snapshot, which a later one may lift.

Each service stores what these give (the notifier in its loan files, the gateway in its tables,
compliance in its log) and builds its :class:`DebtFacts` through :func:`borrower_limits`, so
the notifier's check, the gateway's and compliance's judgement weigh the same limits.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.contact_rules.facts import DebtFacts, OptOut
from shared.contact_rules.rules.base import local_text
from shared.events.models import ConsentRecord, ContactPreferences, InconvenientTime
from shared.events.notifications import OptOutRecorded, OptOutSource
from shared.vocabulary import Channel

ATTORNEY_REPRESENTED = "attorney_represented"
"""The platform's refusal of direct contact with a represented borrower, where the pack has no
rule of its own for it (CN): the notifier stops its messages and placement excludes the loan
for the same fact."""


@dataclass(frozen=True, slots=True)
class BorrowerLimits:
    """What the borrower's wishes limit, each with the time it became true."""

    opt_outs: tuple[OptOut, ...] = ()
    consents: tuple[ConsentRecord, ...] = ()
    inconvenient_times: tuple[InconvenientTime, ...] = ()
    cease_requested_at: datetime | None = None
    attorney_represented_since: datetime | None = None

    def on(self, facts: DebtFacts) -> DebtFacts:
        """``facts`` with these limits."""
        return replace(
            facts,
            opt_outs=self.opt_outs,
            consents=self.consents,
            inconvenient_times=self.inconvenient_times,
            cease_requested_at=self.cease_requested_at,
            attorney_represented_since=self.attorney_represented_since,
        )


def reported_limits(preferences: ContactPreferences, since: datetime) -> BorrowerLimits:
    """The limits the lender's report of preferences sets, from its effective time."""
    return BorrowerLimits(
        opt_outs=tuple(OptOut(channel, since) for channel in preferences.opted_out_channels),
        consents=tuple(preferences.consents),
        inconvenient_times=tuple(preferences.inconvenient_times),
        cease_requested_at=since if preferences.cease_communication else None,
        attorney_represented_since=since if preferences.attorney_represented else None,
    )


def replied_opt_out(event: OptOutRecorded) -> OptOut | None:
    """The opt-out a service stores from the notifier's event: the borrower's reply; None for
    one the lender reported (it lives in the preferences, which a later report may lift)."""
    if event.source is not OptOutSource.REPLY:
        return None
    return OptOut(event.channel, event.at)


def borrower_limits(
    preferences: ContactPreferences | None,
    since: datetime | None,
    replies: Iterable[OptOut] = (),
) -> BorrowerLimits:
    """The limits now: the latest reported preferences (effective ``since``) and every opt-out
    the borrower replied, the earliest per channel."""
    reported = (
        reported_limits(preferences, since)
        if preferences is not None and since is not None
        else BorrowerLimits()
    )
    earliest: dict[Channel, OptOut] = {}
    for opt_out in (*reported.opt_outs, *replies):
        kept = earliest.get(opt_out.channel)
        if kept is None or opt_out.at < kept.at:
            earliest[opt_out.channel] = opt_out
    return replace(reported, opt_outs=tuple(earliest.values()))


def represented(facts: DebtFacts, at: datetime) -> str | None:
    """Why direct contact at ``at`` is refused for the borrower's attorney, or None; for a
    pack without a rule of its own for it (see :data:`ATTORNEY_REPRESENTED`)."""
    since = facts.attorney_represented_since
    if since is None or since > at:
        return None
    when = local_text(since, facts.zone)
    return f"the borrower is represented by an attorney since {when}: contact the attorney"
