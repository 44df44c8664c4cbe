"""What the lender sees of a loan at the gateway: its case, every placement and its legal
stage."""

from collections.abc import Callable
from dataclasses import dataclass

from services.agency_gateway.application.errors import LoanNotFoundError
from services.agency_gateway.application.legal import LegalStageView, legal_view
from services.agency_gateway.application.ports import Row, UnitOfWork
from services.agency_gateway.domain.policy import PlacementPolicy


@dataclass(frozen=True)
class CasePlacement:
    case: Row
    assignments: list[Row]  # newest first
    threshold_days: int  # of the policy's variant for this loan
    policy_version: str
    legal: LegalStageView | None = None  # the loan's legal stage, if it has one


@dataclass(frozen=True)
class CaseQueries:
    unit_of_work: Callable[[], UnitOfWork]
    policy: PlacementPolicy

    async def placement(self, lender_id: str, loan_id: str) -> CasePlacement:
        async with self.unit_of_work() as uow:
            case = await uow.cases.get(lender_id, loan_id)
            history = await uow.assignments.of_loan(lender_id, loan_id)
            legal = legal_view(await uow.legal.of_loan(lender_id, loan_id))
        if case is None:
            raise LoanNotFoundError(f"No case for loan {loan_id!r} is open.")
        threshold = self.policy.threshold(self.policy.variant(lender_id, loan_id))
        return CasePlacement(case, history, threshold, self.policy.version, legal)
