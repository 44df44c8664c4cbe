"""The per-agency report (auditor role): contacts, violations and promises in a period."""

from collections import Counter
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.compliance.api.dependencies import Auditor, ConsistentReads, WallClock, own_lender
from services.compliance.api.paging import OTHER_LENDER, FromQuery, LenderQuery, ToQuery
from services.compliance.application.ports import Period
from services.compliance.application.reports import agencies_report as figures
from services.compliance.application.scope import lender_in_scope
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


@router.get(
    "/reports/agencies",
    summary="Per agency and period: contacts, violations and promises",
    responses=OTHER_LENDER,
)
async def agencies_report(
    auditor: Auditor,
    consistent_reads: ConsistentReads,
    clock: WallClock,
    lender_id: LenderQuery = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
) -> AgenciesReport:
    """Contacts by channel count the agencies' activities logged in the period; violations by
    rule count the standing ones whose contact falls in it; promises count those due in it,
    kept, broken or pending today."""
    lender = lender_in_scope(own_lender(auditor), lender_id, naming_a_loan=False)
    async with consistent_reads() as read:
        found = await figures(read, Period(lender, time_from, time_to), clock.now().date())
    return AgenciesReport.model_validate(
        {
            "lender_id": lender,
            "from": time_from,
            "to": time_to,
            "agencies": [
                AgencyReport(
                    agency_id=agency.agency_id,
                    contacts_by_channel=agency.contacts_by_channel,
                    violations_by_rule=agency.violations_by_rule,
                    promises=counts(agency.promises),
                )
                for agency in found
            ],
        }
    )
