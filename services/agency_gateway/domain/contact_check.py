"""Pure rules of the agency API's contact check: notes screened for banned phrases, the facts
a contact check weighs and its answer."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.contact_rules import Contact, DebtFacts, Hold, OptOut, Party, Placement, RulePack, check
from shared.contact_rules.ledger import PartyKind
from shared.contact_rules.legal_stage import stage_stops
from shared.contact_rules.limits import ATTORNEY_REPRESENTED, borrower_limits, represented
from shared.events.legal import LegalStage
from shared.events.models import ContactPreferences, HoldReason
from shared.vocabulary import Channel, Jurisdiction

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
    replies: Sequence[OptOut] = (),
) -> DebtFacts:
    """The contact-rules view of a case: holds, the borrower's wishes (the lender's latest
    report and the borrower's STOP replies), every placement."""
    preferences, since = None, None
    if prefs is not None:
        preferences = ContactPreferences.model_validate(prefs["preferences"])
        since = prefs["as_of"]
    holds = tuple(Hold(HoldReason(reason), EPOCH) for reason in case["holds"].values())
    facts = DebtFacts(
        debt_id=debt,
        person_ref=case["borrower_ref"],
        jurisdiction=Jurisdiction(case["jurisdiction"]),
        borrower_zone=case["borrower_zone"] or "UTC",
        holds=holds,
        placements=tuple(
            Placement(p.agency_id, p.placed_at, p.notice_sent_at, p.ended_at) for p in placements
        ),
    )
    return borrower_limits(preferences, since, replies).on(facts)


def own_refusal(facts: DebtFacts, at: datetime, notified: bool) -> tuple[str, str] | None:
    """The gateway's refusal where the pack refused nothing, as (rule, explanation): a
    represented borrower (the platform's rule wherever the pack has none) or one not yet told
    of the agency."""
    if (why := represented(facts, at)) is not None:
        return ATTORNEY_REPRESENTED, why
    if not notified:
        return (
            NOTICE_PENDING,
            "the borrower has not yet been told that this agency holds the account",
        )
    return None


@dataclass(frozen=True)
class CheckAnswer:
    allowed: bool
    rules: tuple[str, ...]
    explanation: str
    next_allowed_at: datetime | None


def intended_contact(
    assignment_id: str, facts: DebtFacts, agency_id: str, channel: Channel, at: datetime
) -> Contact:
    """The contact an agency asks about, as the ledger would hold it."""
    return Contact(
        id=f"check:{assignment_id}",
        debt_id=facts.debt_id,
        person_ref=facts.person_ref,
        party=Party.agency(agency_id),
        channel=channel,
        at=at,
        to_mobile=channel is Channel.SMS,
    )


LEGAL_STAGE = "LEGAL-STAGE"
"""The refusal of an agency's contact at a legal stage that stops it
(``shared.contact_rules.legal_stage``: from ``filed``, only counsel speaks for the creditor)."""


def contact_answer(
    intended: Contact,
    ledger: Sequence[Contact],
    facts: DebtFacts,
    pack: RulePack,
    notified: bool,
    legal_stage: str | None = None,
) -> CheckAnswer:
    """The legal stage's refusal, else the engine's decision over every party's ledger, then
    the gateway's own refusals."""
    stage = None if legal_stage is None else LegalStage(legal_stage)
    if stage_stops(stage, PartyKind.AGENCY):
        assert stage is not None
        why = (
            f"the loan's legal stage is {stage.value}: agencies no longer contact the "
            "borrower (only counsel speaks for the creditor)"
        )
        return CheckAnswer(False, (LEGAL_STAGE,), why, None)
    decision = check(intended, ledger, facts, pack)
    rules, explanation = decision.refused_by, decision.explanation
    refusal = None if rules else own_refusal(facts, intended.at, notified)
    if refusal is not None:
        rules, explanation = (refusal[0],), refusal[1]
    return CheckAnswer(not rules, rules, explanation, decision.next_allowed_at)
