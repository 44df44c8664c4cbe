"""The per-agency report (auditor role): contacts, violations and promises in a period."""

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from services.compliance.adapters.promises import PromiseEntries
from services.compliance.adapters.tables import violations as violations_table
from services.compliance.api import Auditor, Runtime
from services.compliance.api.entries import lender_in_scope
from services.compliance.api.paging import OTHER_LENDER, FromQuery, LenderQuery, ToQuery
from services.compliance.domain.promises import promises_by_agency
from shared.db.engine import transaction
from shared.promises import PromiseStatus

router = APIRouter(prefix="/v1", tags=["reports"])


class PromiseCounts(BaseModel):
    kept: int = Field(
        description="The lender received the promised amount, in its currency, between the day "
        "the promise was recorded and its due date (both included, UTC days)."
    )
    broken: int = Field(description="The due date has passed (UTC) without that amount.")
    pending: int = Field(description="Not paid in full yet, and the due date has not passed.")


class AgencyReport(BaseModel):
    agency_id: str
    contacts_by_channel: dict[str, int] = Field(description="Activities by type (notes too).")
    violations_by_rule: dict[str, int] = Field(
        description="Standing violations only (a retracted one, excused by a fact logged "
        "later, is not counted), by rule, whose contact is in the period."
    )
    promises: PromiseCounts = Field(
        description="The agency's promises due in the period (their due date's first instant, "
        "00:00 UTC, at or after `from` and before `to`), by status as of today: judged from "
        "the lender's payments (`collections.loan.payment-received`) on the promise's loan."
    )


class AgenciesReport(BaseModel):
    lender_id: str | None = Field(description="The lender reported on; none: every lender.")
    time_from: datetime | None = Field(alias="from")
    time_to: datetime | None = Field(alias="to")
    agencies: list[AgencyReport]


def counts(by_status: Counter[PromiseStatus]) -> PromiseCounts:
    return PromiseCounts(**{status.value: by_status[status] for status in PromiseStatus})


CONTACTS_BY_AGENCY = text(
    """
    SELECT agency_id, convert_from(entry, 'UTF8')::jsonb -> 'data' ->> 'type' AS kind,
           count(*) AS contacts
    FROM audit_entries
    WHERE event_type = 'collections.agency.activity-recorded'
      AND (CAST(:lender AS text) IS NULL OR tenant_id = :lender)
      AND (CAST(:time_from AS timestamptz) IS NULL OR event_time >= :time_from)
      AND (CAST(:time_to AS timestamptz) IS NULL OR event_time < :time_to)
    GROUP BY agency_id, kind
    """
)


@router.get(
    "/reports/agencies",
    summary="Per agency and period: contacts, violations and promises",
    responses=OTHER_LENDER,
)
async def agencies_report(
    auditor: Auditor,
    runtime: Runtime,
    lender_id: LenderQuery = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
) -> AgenciesReport:
    """Contacts by channel count the agencies' activities logged in the period; violations by
    rule count the standing ones whose contact falls in it; promises count those due in it,
    kept, broken or pending today."""
    lender = lender_in_scope(auditor, lender_id, naming_a_loan=False)
    contacts: dict[str, dict[str, int]] = defaultdict(dict)
    violated: dict[str, dict[str, int]] = defaultdict(dict)
    v = violations_table.c
    conditions: list[Any] = [v.agency_id.is_not(None), v.retracted_at.is_(None)]
    if lender is not None:
        conditions.append(v.lender_id == lender)
    if time_from is not None:
        conditions.append(v.contact_at >= time_from)
    if time_to is not None:
        conditions.append(v.contact_at < time_to)
    async with transaction(runtime.sessions) as session:
        params = {"lender": lender, "time_from": time_from, "time_to": time_to}
        for row in await session.execute(CONTACTS_BY_AGENCY, params):
            contacts[row.agency_id][row.kind] = int(row.contacts)
        counted = select(v.agency_id, v.rule_id, func.count()).where(*conditions)
        for agency, rule, count in await session.execute(counted.group_by(v.agency_id, v.rule_id)):
            violated[agency][rule] = int(count)
        entries = PromiseEntries(session)
        due = await entries.due(lender, time_from, time_to)
        paid = await entries.lender_payments({promise.loan for promise in due})
    promises = promises_by_agency(due, paid, datetime.now(UTC).date())
    return AgenciesReport.model_validate(
        {
            "lender_id": lender,
            "from": time_from,
            "to": time_to,
            "agencies": [
                AgencyReport(
                    agency_id=agency,
                    contacts_by_channel=contacts.get(agency, {}),
                    violations_by_rule=violated.get(agency, {}),
                    promises=counts(promises.get(agency, Counter())),
                )
                for agency in sorted(set(contacts) | set(violated) | set(promises))
            ],
        }
    )
