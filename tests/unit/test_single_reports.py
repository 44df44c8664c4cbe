"""Single reports accepted together: a report that breaks its batch fails alone; a database
that is away fails the batch at once (no report-by-report retries against it)."""

import asyncio
from collections.abc import Sequence
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.api.single_reports import SingleReport, SingleReports
from services.intake.reporting import Acceptance, Refusal, ReportIntake
from services.intake.schemas import OverdueLoanReport
from tests.unit.test_intake_schemas import VALID


class FakeIntake(ReportIntake):
    """Accepts every report, but a batch holding loan ``poison`` raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[list[str]] = []

    async def accept(
        self, session: AsyncSession, lender_id: str, reports: Sequence[OverdueLoanReport]
    ) -> list[Acceptance | Refusal]:
        self.calls.append([r.loan_id for r in reports])
        if any(r.loan_id == "poison" for r in reports):
            raise self.error
        return [Acceptance(uuid4(), r.loan_id, duplicate=False) for r in reports]


def single(loan_id: str) -> SingleReport:
    return SingleReport("lender", OverdueLoanReport.model_validate({**VALID, "loan_id": loan_id}))


async def accept_together(intake: FakeIntake, loan_ids: list[str]) -> list[object]:
    # No statement runs outside the fake, so an unbound session factory is enough.
    reports = SingleReports(async_sessionmaker(class_=AsyncSession), intake, on_commit=lambda: None)
    return await asyncio.gather(
        *(reports.accept(single(loan_id)) for loan_id in loan_ids), return_exceptions=True
    )


async def test_a_report_that_breaks_the_batch_fails_alone() -> None:
    intake = FakeIntake(ValueError("cannot be encoded"))
    first, poisoned, last = await accept_together(intake, ["L-1", "poison", "L-2"])
    assert getattr(first, "status_code", None) == 202
    assert isinstance(poisoned, ValueError)
    assert getattr(last, "status_code", None) == 202
    assert intake.calls == [["L-1", "L-2", "poison"], ["L-1"], ["poison"], ["L-2"]]


@pytest.mark.parametrize("error", [ConnectionRefusedError(), TimeoutError()])
async def test_a_database_away_fails_the_batch_at_once(error: Exception) -> None:
    intake = FakeIntake(error)
    results = await accept_together(intake, ["L-1", "poison", "L-2"])
    assert all(result is error for result in results)
    assert len(intake.calls) == 1
