"""The gateway's HTTP entry points."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.agency_gateway.adapters.cases import CaseRepository
from services.agency_gateway.domain import PlacementPolicy
from shared.auth import Principal, Role
from shared.db.engine import transaction
from shared.events.money import Money
from shared.http.params import LoanId
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime


class Placement(BaseModel):
    loan_id: str
    status: str
    agency_id: str | None
    days_past_due: int
    placement_threshold_days: int
    amount_overdue: Money
    opened_at: datetime
    as_of: datetime


def placements_router(runtime: ServiceRuntime, policy: PlacementPolicy) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["placements"])
    require_lender = runtime.auth.require(Role.LENDER)

    @router.get("/loans/{loan_id}/placement", summary="The collection case of a loan")
    async def loan_placement(
        loan_id: LoanId, lender: Annotated[Principal, Depends(require_lender)]
    ) -> Placement:
        async with transaction(runtime.sessions) as session:
            case = await CaseRepository(session).get(lender.subject, loan_id)
        if case is None:
            raise ProblemError(404, "Loan not found", f"No case for loan {loan_id!r} is open.")
        return Placement(
            loan_id=loan_id,
            status=case["status"],
            agency_id=case["agency_id"],
            days_past_due=case["days_past_due"],
            placement_threshold_days=policy.threshold_days,
            amount_overdue=Money.in_minor_units(case["amount_overdue"], case["currency"]),
            opened_at=case["opened_at"],
            as_of=case["as_of"],
        )

    return router
