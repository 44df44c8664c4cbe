"""A placement policy's dry run on fakes: the same cases decided by the candidate and by the
current policy; only reads are possible (the fake has no write)."""

from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.agency_gateway.application.dry_run import placement_dry_run
from services.agency_gateway.application.ports import LoanKey, Row
from services.agency_gateway.domain.policy import Challenger, PlacementPolicy

FROM = datetime(2026, 11, 1, tzinfo=UTC)
TO = datetime(2026, 12, 1, tzinfo=UTC)
CURRENT = PlacementPolicy(version="now", threshold_days=30, minimum_amount=Decimal("100"))


def case(loan_id: str, days: int, amount: str = "800.00", **changes: Any) -> Row:
    return {
        "lender_id": "lender-1",
        "loan_id": loan_id,
        "borrower_ref": f"b-{loan_id}",
        "days_past_due": days,
        "amount_overdue": Decimal(amount),
        "currency": "CNY",
        "holds": {},
        "ended_reason": None,
        "lender_recalled_at": None,
        "legal_stage": None,
        "status": "placed" if days >= 30 else "awaiting_threshold",
        "agency_id": "agency-a" if days >= 30 else None,
    } | changes


class FakeReads:
    def __init__(self, cases: list[Row], prefs: dict[tuple[str, str], Row] | None = None) -> None:
        self._cases = {(c["lender_id"], c["loan_id"]): c for c in cases}
        self._prefs = prefs or {}

    async def cases_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        return sorted(self._cases)

    async def cases(self, keys: Collection[LoanKey]) -> list[Row]:
        return [self._cases[k] for k in keys]

    async def preferences(self, borrowers: Collection[tuple[str, str]]) -> dict[Any, Row]:
        return {b: p for b, p in self._prefs.items() if b in borrowers}


async def test_a_lower_threshold_places_younger_debts() -> None:
    reads = FakeReads([case("L1", 10), case("L2", 20), case("L3", 40)])
    candidate = CURRENT.model_copy(update={"version": "try", "threshold_days": 15})
    done = await placement_dry_run(reads, candidate, CURRENT, FROM, TO)
    report = done.as_json()
    assert [(d["loan_id"], d["current"], d["candidate"]) for d in report["differences"]] == [
        ("L2", "below_threshold", "place")
    ]
    assert report["differences"][0]["change"] == "placed"
    assert report["differences"][0]["actual"] == "awaiting_threshold"
    assert report["summary"] == {
        "cases": 3,
        "current_places": 1,
        "candidate_places": 2,
        "placed": 1,
        "not_placed": 0,
        "reason_changed": 0,
    }


async def test_a_higher_minimum_keeps_small_debts_with_the_lender() -> None:
    reads = FakeReads([case("L1", 40, "150.00"), case("L2", 40, "900.00")])
    candidate = CURRENT.model_copy(update={"version": "try", "minimum_amount": Decimal("500")})
    done = await placement_dry_run(reads, candidate, CURRENT, FROM, TO)
    [only] = done.differences
    assert (only.loan_id, only.change, only.candidate) == (
        "L1",
        "not_placed",
        "below_minimum_amount",
    )
    assert only.actual == "placed (agency-a)"


async def test_the_challenger_arm_is_decided_by_its_own_threshold() -> None:
    loans = [case(f"L{n}", 35) for n in range(40)]
    candidate = CURRENT.model_copy(
        update={"version": "try", "challenger": Challenger(percent=100, threshold_days=45)}
    )
    done = await placement_dry_run(FakeReads(loans), candidate, CURRENT, FROM, TO)
    assert len(done.differences) == 40
    assert {d.candidate for d in done.differences} == {"below_threshold"}


async def test_exclusions_stay_whatever_the_policy() -> None:
    prefs = {("lender-1", "b-L2"): {"cease": True, "attorney": False}}
    reads = FakeReads([case("L1", 10, holds={"H": "dispute"}), case("L2", 10)], prefs)
    candidate = CURRENT.model_copy(update={"version": "try", "threshold_days": 0})
    done = await placement_dry_run(reads, candidate, CURRENT, FROM, TO)
    assert done.differences == []  # held by a dispute, and a cease: neither is placed
    assert (done.current_places, done.candidate_places) == (0, 0)


async def test_progress_is_told_after_each_batch() -> None:
    told: list[tuple[int, int]] = []
    reads = FakeReads([case(f"L{n:04}", 40) for n in range(1200)])
    await placement_dry_run(reads, CURRENT, CURRENT, FROM, TO, progress=lambda *d: told.append(d))
    assert told == [(500, 1200), (1000, 1200), (1200, 1200)]
