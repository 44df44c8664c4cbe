"""A changed placement policy run over the past: each case of a period decided by the
candidate policy and by the current one (same facts, same pure rules: ``domain/cases.py``'s
``exclusion``), and where they differ.

Read-only: the cases come through ``DryRunReads`` (a read-only transaction in production,
``adapters/dry_run_reads.py``); nothing is placed, recalled, written or published. Which agency
would take a case is not replayed (the agencies' loads of the past are not kept): the decision
compared is whether the case may be placed, and if not, why.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.agency_gateway.application.placement import case_facts
from services.agency_gateway.application.ports import LoanKey, Row
from services.agency_gateway.domain.cases import exclusion
from services.agency_gateway.domain.policy import PlacementPolicy

Progress = Callable[[int, int], None]
"""Told (done, total) after each batch of cases."""

BATCH = 500
PLACE = "place"


class DryRunReads(Protocol):
    async def cases_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        """Cases open at some time in ``[time_from, time_to)``, in a stable order."""

    async def cases(self, keys: Collection[LoanKey]) -> list[Row]:
        """Those cases' rows (``collection_cases``)."""

    async def preferences(
        self, borrowers: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], Row]:
        """The borrowers' reported preferences (cease, attorney), by (lender, borrower)."""


@dataclass(frozen=True)
class PlacementDifference:
    lender_id: str
    loan_id: str
    days_past_due: int
    amount: str
    actual: str  # the case's status (and agency) as the gateway recorded it
    current: str  # "place" or the reason it is not placed, by the current policy
    candidate: str  # the same, by the candidate policy

    @property
    def change(self) -> str:
        if self.candidate == PLACE:
            return "placed"
        if self.current == PLACE:
            return "not_placed"
        return "reason_changed"

    def as_json(self) -> dict[str, Any]:
        return {
            "lender_id": self.lender_id,
            "loan_id": self.loan_id,
            "days_past_due": self.days_past_due,
            "amount": self.amount,
            "actual": self.actual,
            "current": self.current,
            "candidate": self.candidate,
            "change": self.change,
        }


@dataclass(frozen=True)
class PlacementDryRun:
    candidate: str
    current: str
    time_from: datetime
    time_to: datetime
    cases: int = 0
    current_places: int = 0
    candidate_places: int = 0
    differences: list[PlacementDifference] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        changes = [d.change for d in self.differences]
        return {
            "kind": "placement",
            "candidate": self.candidate,
            "current": self.current,
            "from": self.time_from.isoformat(),
            "to": self.time_to.isoformat(),
            "summary": {
                "cases": self.cases,
                "current_places": self.current_places,
                "candidate_places": self.candidate_places,
                "placed": changes.count("placed"),
                "not_placed": changes.count("not_placed"),
                "reason_changed": changes.count("reason_changed"),
            },
            "differences": [d.as_json() for d in self.differences],
        }


def decision(case: Row, prefs: Row | None, policy: PlacementPolicy) -> str:
    """``place``, or the first reason the policy keeps the case from an agency."""
    facts = case_facts(case, prefs)
    variant = policy.variant(case["lender_id"], case["loan_id"])
    return exclusion(facts, policy, variant) or PLACE


async def placement_dry_run(
    reads: DryRunReads,
    candidate: PlacementPolicy,
    current: PlacementPolicy,
    time_from: datetime,
    time_to: datetime,
    *,
    progress: Progress | None = None,
) -> PlacementDryRun:
    """Decide every case open in ``[time_from, time_to)`` by both policies; the differences."""
    keys = await reads.cases_open(time_from, time_to)
    differences: list[PlacementDifference] = []
    now_places = trial_places = 0
    for start in range(0, len(keys), BATCH):
        rows = await reads.cases(keys[start : start + BATCH])
        prefs = await reads.preferences({(r["lender_id"], r["borrower_ref"]) for r in rows})
        for row in rows:
            mine = prefs.get((row["lender_id"], row["borrower_ref"]))
            before, after = decision(row, mine, current), decision(row, mine, candidate)
            now_places += before == PLACE
            trial_places += after == PLACE
            if before != after:
                differences.append(_difference(row, before, after))
        if progress is not None:
            progress(min(start + BATCH, len(keys)), len(keys))
    differences.sort(key=lambda d: (d.lender_id, d.loan_id))
    return PlacementDryRun(
        candidate=candidate.version,
        current=current.version,
        time_from=time_from,
        time_to=time_to,
        cases=len(keys),
        current_places=now_places,
        candidate_places=trial_places,
        differences=differences,
    )


def _difference(row: Row, before: str, after: str) -> PlacementDifference:
    actual = row["status"] + (f" ({row['agency_id']})" if row["agency_id"] else "")
    return PlacementDifference(
        row["lender_id"],
        row["loan_id"],
        row["days_past_due"],
        f"{row['amount_overdue']} {row['currency']}",
        actual,
        before,
        after,
    )
