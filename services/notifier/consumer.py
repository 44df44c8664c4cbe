"""Notifier's consumer: overdue reports become loans with a reminder plan."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.plans import PlanRepository
from services.notifier.domain.planning import plan_reminders
from shared.events.catalog import OVERDUE_REPORTED, latest_reports
from shared.events.models import OverdueReported
from shared.kafka.handlers import EventHandlers, Received

GROUP = "notifier"


def notifier_handlers() -> EventHandlers:
    handlers = EventHandlers()
    handlers.on(OVERDUE_REPORTED, handle_reports)
    return handlers


async def handle_reports(
    session: AsyncSession, events: Sequence[Received[OverdueReported]]
) -> None:
    now = datetime.now(UTC)
    loan_rows: list[dict[str, Any]] = []
    reminder_rows: list[dict[str, Any]] = []
    for event in latest_reports(events):
        lender_id, report = event.envelope.tenantid, event.data
        loan_rows.append(
            {
                "lender_id": lender_id,
                "loan_id": report.loan_id,
                "borrower_ref": report.borrower.ref,
                "contact_sealed": report.borrower.contact.model_dump(),
                "locale": report.borrower.locale,
                "timezone": report.borrower.timezone,
                "jurisdiction": report.jurisdiction,
                "days_past_due": report.days_past_due,
                "as_of": report.as_of,
                "updated_at": now,
            }
        )
        for reminder in plan_reminders(report.due_date, report.as_of, report.borrower.timezone):
            reminder_rows.append(
                {
                    "lender_id": lender_id,
                    "loan_id": report.loan_id,
                    "step": reminder.step,
                    "channel": reminder.channel.value,
                    "scheduled_for": reminder.scheduled_for,
                    "status": reminder.status.value,
                }
            )
    repository = PlanRepository(session)
    await repository.upsert_loans(loan_rows)
    await repository.add_reminders(reminder_rows)
