"""Judging the loans a batch touched, after its entries are in the log (same transaction)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.compliance.application.ports import EntryRow, UnitOfWork
from services.compliance.domain.entries import NewEntry
from services.compliance.domain.judgement import Judged, LoggedEvent, judge_loan
from services.compliance.domain.retraction import Retraction, StandingViolation, retractions
from shared.contact_rules import RulePack
from shared.events.catalog import VIOLATION_FOUND, VIOLATION_RETRACTED
from shared.events.compliance import ViolationFound, ViolationRetracted
from shared.events.envelope import Envelope
from shared.vocabulary import Jurisdiction

SOURCE = "/collections/compliance"


@dataclass(frozen=True)
class Found:
    lender_id: str
    judged: Judged
    envelope: Envelope


@dataclass(frozen=True)
class Retracted:
    lender_id: str
    retraction: Retraction
    envelope: Envelope


@dataclass(frozen=True)
class Verdicts:
    """What a batch changes: violations found (new, or again after a retraction) and standing
    violations retracted."""

    found: list[Found] = field(default_factory=list)
    retracted: list[Retracted] = field(default_factory=list)

    @property
    def envelopes(self) -> list[Envelope]:
        return [f.envelope for f in self.found] + [r.envelope for r in self.retracted]


class Judge:
    def __init__(self, packs: Mapping[Jurisdiction, RulePack]) -> None:
        self._packs = packs

    async def verdicts(self, uow: UnitOfWork, entries: Sequence[NewEntry]) -> Verdicts:
        """Judge every loan these entries name whole, by every fact logged so far: violations
        not standing yet are found; standing ones no longer found are retracted (their entries
        stay: the log is append-only)."""
        touched = sorted({(e.lender_id, e.loan_id) for e in entries if e.loan_id is not None})
        timelines = await uow.log.judged_timelines(touched)
        standing = await uow.violations.standing(touched)
        verdicts = Verdicts()
        for lender_id, loan_id in touched:
            events = [_logged(row) for row in timelines.get((lender_id, loan_id), [])]
            judged = judge_loan(lender_id, loan_id, events, self._packs)
            stands = standing.get((lender_id, loan_id), [])
            known = {v.violation_id for v in stands}
            verdicts.found.extend(
                Found(lender_id, v, _found(lender_id, v))
                for v in judged
                if v.violation_id not in known
            )
            verdicts.retracted.extend(
                Retracted(lender_id, r, _retracted(lender_id, r))
                for r in retractions(stands, judged, events)
            )
        return verdicts


def _logged(row: EntryRow) -> LoggedEvent:
    return LoggedEvent(row["leaf_index"], row["event_type"], orjson.loads(row["entry"])["data"])


def _found(lender_id: str, v: Judged) -> Envelope:
    data = ViolationFound(
        **_about(v),
        contact_at=v.contact_at,
        leaf_indexes=list(v.leaf_indexes),
        explanation=v.explanation,
    )
    return VIOLATION_FOUND.envelope(source=SOURCE, subject=v.loan_id, tenant=lender_id, data=data)


def _retracted(lender_id: str, r: Retraction) -> Envelope:
    v = r.violation
    data = ViolationRetracted(
        **_about(v),
        violation_leaf_index=v.leaf_index,
        clearing_leaf_indexes=list(r.clearing_leaf_indexes),
        explanation=r.explanation,
    )
    return VIOLATION_RETRACTED.envelope(
        source=SOURCE, subject=v.loan_id, tenant=lender_id, data=data
    )


def _about(v: Judged | StandingViolation) -> dict[str, Any]:
    """What a found and a retracted violation's events both say of it."""
    return {
        "violation_id": v.violation_id,
        "rule_id": v.rule_id,
        "pack_version": v.pack_version,
        "loan_id": v.loan_id,
        "party": v.party,
        "agency_id": v.agency_id,
        "contact_id": v.contact_id,
    }
