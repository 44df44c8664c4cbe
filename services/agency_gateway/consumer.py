"""The gateway's consumer: overdue reports open (or update) collection cases."""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.cases import CaseRepository
from services.agency_gateway.domain import PlacementPolicy
from shared.events.catalog import latest_reports
from shared.kafka.consumer import BatchHandler, ConsumedEvent

GROUP = "agency-gateway"


def delinquency_handler(policy: PlacementPolicy) -> BatchHandler:
    async def handle(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
        reports = latest_reports([event.envelope for event in events])
        if not reports:
            return
        now = datetime.now(UTC)
        await CaseRepository(session).upsert(
            [
                {
                    "lender_id": envelope.tenantid,
                    "loan_id": report.loan_id,
                    "borrower_ref": report.borrower.ref,
                    "contact_sealed": report.borrower.contact.model_dump(),
                    "jurisdiction": report.jurisdiction,
                    "amount_overdue": report.amount_overdue.amount,
                    "currency": report.amount_overdue.currency,
                    "days_past_due": report.days_past_due,
                    "as_of": report.as_of,
                    "status": policy.status_for(report.days_past_due).value,
                    "updated_at": now,
                }
                for envelope, report in reports
            ]
        )

    return handle
