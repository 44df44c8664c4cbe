"""A changed rule pack judged over the past: every logged contact of a period judged by the
candidate pack and by the current one, and where they differ.

Read-only: it reads the audit log through ``DryRunReads`` (a read-only transaction in
production, ``adapters/dry_run_reads.py``) and runs compliance's own judgement
(``domain/judgement.py``, the shared engine) twice; it records, signs and publishes nothing.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from services.compliance.application.ports import EntryRow, LoanPair
from services.compliance.domain.judgement import CONTACT_TYPES, Judged, LoggedEvent, judge_loan
from shared.contact_rules import RulePack
from shared.vocabulary import Jurisdiction

Progress = Callable[[int, int], None]
"""Told (done, total) after each batch of loans."""

BATCH = 200


class DryRunReads(Protocol):
    async def loans_logged(
        self, time_from: datetime, time_to: datetime, lender_id: str | None
    ) -> list[LoanPair]:
        """Loans with an entry logged in ``[time_from, time_to)``, in a stable order."""

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        """Their timelines (the loan's entries and its borrower's), in leaf order."""


@dataclass(frozen=True)
class RuleDifference:
    lender_id: str
    loan_id: str
    contact_id: str
    contact_at: datetime
    party: str
    rule_id: str
    change: str  # "violation" (the candidate finds it, the current pack not) or "cleared"
    explanation: str

    def as_json(self) -> dict[str, Any]:
        return {
            "lender_id": self.lender_id,
            "loan_id": self.loan_id,
            "contact_id": self.contact_id,
            "contact_at": self.contact_at.isoformat(),
            "party": self.party,
            "rule_id": self.rule_id,
            "change": self.change,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class RulePackDryRun:
    candidate: str
    current: str
    time_from: datetime
    time_to: datetime
    loans: int = 0
    contacts: int = 0
    current_violations: int = 0
    candidate_violations: int = 0
    differences: list[RuleDifference] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "rule-pack",
            "candidate": self.candidate,
            "current": self.current,
            "from": self.time_from.isoformat(),
            "to": self.time_to.isoformat(),
            "summary": {
                "loans": self.loans,
                "contacts": self.contacts,
                "current_violations": self.current_violations,
                "candidate_violations": self.candidate_violations,
                "new_violations": sum(d.change == "violation" for d in self.differences),
                "cleared": sum(d.change == "cleared" for d in self.differences),
            },
            "differences": [d.as_json() for d in self.differences],
        }


async def rule_pack_dry_run(
    reads: DryRunReads,
    candidate: RulePack,
    packs: Mapping[Jurisdiction, RulePack],
    time_from: datetime,
    time_to: datetime,
    *,
    lender_id: str | None = None,
    progress: Progress | None = None,
) -> RulePackDryRun:
    """Judge every contact made in ``[time_from, time_to)`` of the loans logged in that period
    by ``candidate`` (for its jurisdiction) and by the current ``packs``; the differences."""
    current = packs[candidate.jurisdiction]
    trial = {**packs, candidate.jurisdiction: candidate}
    loans = await reads.loans_logged(time_from, time_to, lender_id)
    differences: list[RuleDifference] = []
    contacts = before_count = after_count = 0
    for start in range(0, len(loans), BATCH):
        batch = loans[start : start + BATCH]
        timelines = await reads.timelines(batch)
        for lender, loan in batch:
            events = [_logged(row) for row in timelines.get((lender, loan), [])]
            contacts += _contacts_in(events, time_from, time_to)
            before = _in_period(judge_loan(lender, loan, events, packs), time_from, time_to)
            after = _in_period(judge_loan(lender, loan, events, trial), time_from, time_to)
            before_count += len(before)
            after_count += len(after)
            differences += [
                _difference(lender, v, "violation") for k, v in after.items() if k not in before
            ]
            differences += [
                _difference(lender, v, "cleared") for k, v in before.items() if k not in after
            ]
        if progress is not None:
            progress(min(start + BATCH, len(loans)), len(loans))
    differences.sort(key=lambda d: (d.contact_at, d.loan_id, d.rule_id))
    return RulePackDryRun(
        candidate=candidate.version,
        current=current.version,
        time_from=time_from,
        time_to=time_to,
        loans=len(loans),
        contacts=contacts,
        current_violations=before_count,
        candidate_violations=after_count,
        differences=differences,
    )


def _logged(row: EntryRow) -> LoggedEvent:
    return LoggedEvent(row["leaf_index"], row["event_type"], orjson.loads(row["entry"])["data"])


def _contacts_in(events: Sequence[LoggedEvent], time_from: datetime, time_to: datetime) -> int:
    return sum(
        1
        for e in events
        if e.type in CONTACT_TYPES and time_from <= datetime.fromisoformat(e.data["at"]) < time_to
    )


def _in_period(
    judged: list[Judged], time_from: datetime, time_to: datetime
) -> dict[tuple[str, str], Judged]:
    return {(v.contact_id, v.rule_id): v for v in judged if time_from <= v.contact_at < time_to}


def _difference(lender_id: str, v: Judged, change: str) -> RuleDifference:
    return RuleDifference(
        lender_id, v.loan_id, v.contact_id, v.contact_at, v.party, v.rule_id, change, v.explanation
    )
