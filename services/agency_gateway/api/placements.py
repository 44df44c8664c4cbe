"""``GET /v1/loans/{loan_id}/placement`` (lender role): the case, every placement and the
legal stage."""

from fastapi import APIRouter

from services.agency_gateway.api.dependencies import Cases, LenderKey
from services.agency_gateway.api.legal import legal_state
from services.agency_gateway.api.models import Placement, PlacementRecord
from shared.events.money import Money
from shared.http.params import LoanId

router = APIRouter(prefix="/v1", tags=["placements"])


@router.get(
    "/loans/{loan_id}/placement",
    summary="A loan's collection case, its current placement and every past one",
)
async def loan_placement(loan_id: LoanId, lender: LenderKey, cases: Cases) -> Placement:
    found = await cases.placement(lender.tenant, loan_id)
    case = found.case
    records = [PlacementRecord.model_validate(row) for row in found.assignments]
    return Placement(
        loan_id=loan_id,
        status=case["status"],
        agency_id=case["agency_id"],
        days_past_due=case["days_past_due"],
        placement_threshold_days=found.threshold_days,
        amount_overdue=Money.in_minor_units(case["amount_overdue"], case["currency"]),
        opened_at=case["opened_at"],
        as_of=case["as_of"],
        policy_version=found.policy_version,
        note=case["placement_note"],
        current=next((r for r in records if r.ended_at is None), None),
        placements=records,
        legal_stage=None if found.legal is None else legal_state(found.legal),
    )
