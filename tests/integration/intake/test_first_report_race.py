"""Two first reports of one new loan, in two transactions at once: the second waits for the
first (a per-loan advisory lock), so it sees the loan the first opened and only one opens it."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.intake.adapters.unit_of_work import SqlUnitOfWork
from services.intake.application.handlers import IntakeHandlers
from services.intake.domain.commands import ReportOverdueLoans
from shared.events.envelope import message_key
from tests.harness import RunningPlatform
from tests.integration.intake.support import IntakeTables, intake_sealing
from tests.support.factories import new_loan_id, report_as_of

EARLIER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(days=1)


def _unit_of_work(platform: RunningPlatform) -> SqlUnitOfWork:
    runtime = platform.runtime("intake")
    return SqlUnitOfWork(runtime.sessions, runtime.topic)


async def _report(
    platform: RunningPlatform,
    handlers: IntakeHandlers,
    lender_id: str,
    loan_id: str,
    as_of: datetime,
) -> None:
    async with _unit_of_work(platform) as uow:
        command = ReportOverdueLoans((report_as_of(loan_id, as_of),))
        await handlers.report_overdue_loans(uow, lender_id, command)
        await uow.commit()


async def _story(tables: IntakeTables, lender_id: str, loan_id: str) -> list[str]:
    """The outcome of each outbox row written for the loan (its witness), in outbox order."""
    async with tables.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT e.details->>'outcome' AS outcome"
                " FROM outbox_witness o JOIN loan_events e ON e.event_id = o.event_id"
                " WHERE o.message_key = :key ORDER BY o.id"
            ),
            {"key": message_key(lender_id, loan_id)},
        )
        return [row.outcome for row in rows]


async def _loan_as_of(tables: IntakeTables, lender_id: str, loan_id: str) -> datetime:
    async with tables.engine.connect() as connection:
        as_of = await connection.scalar(
            text("SELECT as_of FROM loans WHERE lender_id = :l AND loan_id = :id"),
            {"l": lender_id, "id": loan_id},
        )
    assert isinstance(as_of, datetime)
    return as_of


async def test_a_second_first_report_waits_and_sees_the_loan_the_first_opened(
    platform: RunningPlatform, lender_id: str, tables: IntakeTables
) -> None:
    handlers = IntakeHandlers(intake_sealing(platform.runtime("intake")))
    loan_id = new_loan_id()
    async with _unit_of_work(platform) as first:
        command = ReportOverdueLoans((report_as_of(loan_id, EARLIER),))
        await handlers.report_overdue_loans(first, lender_id, command)
        second = asyncio.create_task(_report(platform, handlers, lender_id, loan_id, LATER))
        await asyncio.sleep(0.5)  # the second decides now, unless it waits for the first
        await first.commit()
    await second

    outcomes = await _story(tables, lender_id, loan_id)
    assert outcomes == ["opened", "updated"]
    assert await _loan_as_of(tables, lender_id, loan_id) == LATER


async def test_concurrent_first_reports_open_a_loan_once_and_keep_the_newest(
    platform: RunningPlatform, lender_id: str, tables: IntakeTables
) -> None:
    handlers = IntakeHandlers(intake_sealing(platform.runtime("intake")))
    for _ in range(25):
        loan_id = new_loan_id()
        await asyncio.gather(
            _report(platform, handlers, lender_id, loan_id, LATER),
            _report(platform, handlers, lender_id, loan_id, EARLIER),
        )
        story = await _story(tables, lender_id, loan_id)
        assert len(story) == 2, story
        assert story[0] == "opened", story
        assert story[1] in ("updated", "stale"), story
        assert await _loan_as_of(tables, lender_id, loan_id) == LATER
