"""Pure rules of the handoff: what an agency's activity counts as in the contact ledger, notes
screened for banned phrases, and the facts a contact check weighs."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.contact_rules import DebtFacts, Hold, OptOut, Placement, RulePack
from shared.contact_rules import Outcome as LedgerOutcome
from shared.events.assignments import ActivityOutcome
from shared.events.models import ContactPreferences, HoldReason
from shared.vocabulary import Jurisdiction

LEDGER_OUTCOMES = {
    ActivityOutcome.NO_ANSWER: LedgerOutcome.ATTEMPTED,
    ActivityOutcome.FAILED: LedgerOutcome.ATTEMPTED,
    ActivityOutcome.REFUSED: LedgerOutcome.ATTEMPTED,
    ActivityOutcome.ANSWERED: LedgerOutcome.ANSWERED,
    ActivityOutcome.CONVERSATION: LedgerOutcome.CONVERSATION,
    ActivityOutcome.DELIVERED: LedgerOutcome.DELIVERED,
}
NOTICE_PENDING = "agency_notice_pending"
"""The gateway's own refusal before the borrower was told (CN-09 in the CN pack; every pack
here, since the platform never lets an agency contact an unannounced borrower)."""


def banned_phrases(packs: Iterable[RulePack]) -> tuple[str, ...]:
    """Every pack's banned phrases (CN-06): a threat is banned from any agency's note."""
    found: list[str] = []
    for pack in packs:
        for rule in pack.rules.values():
            found += getattr(rule.params, "banned_phrases", None) or ()
    return tuple(dict.fromkeys(found))


def banned_in(text: str, phrases: Sequence[str]) -> list[str]:
    folded = text.casefold()
    return [phrase for phrase in phrases if phrase.casefold() in folded]


@dataclass(frozen=True)
class PlacementRecord:
    agency_id: str
    placed_at: datetime
    notice_sent_at: datetime | None
    ended_at: datetime | None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def debt_facts(
    debt: str,
    case: Mapping[str, Any],
    prefs: Mapping[str, Any] | None,
    placements: Sequence[PlacementRecord],
) -> DebtFacts:
    """The contact-rules view of a case: holds, the borrower's wishes, every placement."""
    opt_outs: tuple[OptOut, ...] = ()
    cease_at = attorney_at = None
    preferences = ContactPreferences()
    if prefs is not None:
        preferences = ContactPreferences.model_validate(prefs["preferences"])
        since = prefs["as_of"]
        opt_outs = tuple(OptOut(c, since) for c in preferences.opted_out_channels)
        cease_at = since if preferences.cease_communication else None
        attorney_at = since if preferences.attorney_represented else None
    holds = tuple(Hold(HoldReason(reason), EPOCH) for reason in case["holds"].values())
    return DebtFacts(
        debt_id=debt,
        person_ref=case["borrower_ref"],
        jurisdiction=Jurisdiction(case["jurisdiction"]),
        borrower_zone=case["borrower_zone"] or "UTC",
        holds=holds,
        opt_outs=opt_outs,
        consents=tuple(preferences.consents),
        inconvenient_times=tuple(preferences.inconvenient_times),
        cease_requested_at=cease_at,
        attorney_represented_since=attorney_at,
        illegal_debt=HoldReason.SUSPECTED_ILLEGAL_DEBT.value in case["holds"].values(),
        placements=tuple(
            Placement(p.agency_id, p.placed_at, p.notice_sent_at, p.ended_at) for p in placements
        ),
    )
