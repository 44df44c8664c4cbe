"""The per-agency report: contacts, standing violations and promises in a period."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from services.compliance.application.ports import AuditReads, Period
from services.compliance.domain.promises import promises_by_agency
from shared.promises import PromiseStatus


@dataclass(frozen=True)
class AgencyFigures:
    agency_id: str
    contacts_by_channel: dict[str, int]
    violations_by_rule: dict[str, int]
    promises: Counter[PromiseStatus]


async def agencies_report(reads: AuditReads, period: Period, today: date) -> list[AgencyFigures]:
    """Every agency with something in the period, by agency id; promises as of ``today``."""
    contacts = await reads.activity.contacts_by_agency(period)
    violated = await reads.activity.standing_by_agency(period)
    due = await reads.promises.due(period.lender_id, period.time_from, period.time_to)
    paid = await reads.promises.lender_payments({promise.loan for promise in due})
    promises = promises_by_agency(due, paid, today)
    return [
        AgencyFigures(
            agency_id=agency,
            contacts_by_channel=dict(contacts.get(agency, {})),
            violations_by_rule=dict(violated.get(agency, {})),
            promises=promises.get(agency, Counter()),
        )
        for agency in sorted(set(contacts) | set(violated) | set(promises))
    ]
