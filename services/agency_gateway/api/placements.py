"""``GET /v1/loans/{loan_id}/placement`` (lender role): the case and every placement."""

from typing import Annotated

from fastapi import APIRouter, Depends

from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseRepository
from services.agency_gateway.api.models import Placement, PlacementRecord
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.auth import Principal, Role
from shared.db.engine import transaction
from shared.events.money import Money
from shared.http.params import LoanId
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime


def placements_router(runtime: ServiceRuntime, policy: PlacementPolicy) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["placements"])
    require_lender = runtime.auth.require(Role.LENDER)

    @router.get(
        "/loans/{loan_id}/placement",
        summary="A loan's collection case, its current placement and every past one",
    )
    async def loan_placement(
        loan_id: LoanId, lender: Annotated[Principal, Depends(require_lender)]
    ) -> Placement:
        async with transaction(runtime.sessions) as session:
            case = await CaseRepository(session).get(lender.subject, loan_id)
            history = await AssignmentStore(session).of_loan(lender.subject, loan_id)
        if case is None:
            raise ProblemError(404, "Loan not found", f"No case for loan {loan_id!r} is open.")
        records = [PlacementRecord.model_validate(row) for row in history]
        return Placement(
            loan_id=loan_id,
            status=case["status"],
            agency_id=case["agency_id"],
            days_past_due=case["days_past_due"],
            placement_threshold_days=policy.threshold(policy.arm(lender.subject, loan_id)),
            amount_overdue=Money.in_minor_units(case["amount_overdue"], case["currency"]),
            opened_at=case["opened_at"],
            as_of=case["as_of"],
            policy_version=policy.version,
            note=case["placement_note"],
            current=next((r for r in records if r.ended_at is None), None),
            placements=records,
        )

    return router
