"""The gateway's consumer: overdue reports open (or update) collection cases."""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.cases import CaseRepository
from services.agency_gateway.adapters.contacts import ContactKeys
from services.agency_gateway.domain import PlacementPolicy
from shared.events.catalog import OVERDUE_REPORTED, latest_reports
from shared.events.models import OverdueReported
from shared.kafka.handlers import EventHandlers, Received

GROUP = "agency-gateway"


def gateway_handlers(policy: PlacementPolicy, contacts: ContactKeys) -> EventHandlers:
    """A report whose contact does not open with the transit keys is dead-lettered (after a
    transit key rotation, replay it once the gateway holds the new key)."""

    async def handle_reports(
        session: AsyncSession, events: Sequence[Received[OverdueReported]]
    ) -> None:
        now = datetime.now(UTC)
        rows = []
        for event in latest_reports(events):
            report = event.data
            case = {
                "lender_id": event.envelope.tenantid,
                "loan_id": report.loan_id,
                "borrower_ref": report.borrower.ref,
            }
            rows.append(
                {
                    **case,
                    "contact_sealed": contacts.stored(report.borrower.contact, case),
                    "jurisdiction": report.jurisdiction,
                    "amount_overdue": report.amount_overdue.amount,
                    "currency": report.amount_overdue.currency,
                    "days_past_due": report.days_past_due,
                    "as_of": report.as_of,
                    "status": policy.status_for(report.days_past_due).value,
                    "updated_at": now,
                }
            )
        await CaseRepository(session).upsert(rows)

    handlers = EventHandlers()
    handlers.on(OVERDUE_REPORTED, handle_reports)
    return handlers
