"""The legal stage's moves: the lender's route, and the agency's where the lender allows it."""

from typing import Annotated

from fastapi import APIRouter, Header

from services.agency_gateway.api.dependencies import AgencyKey, LegalStages, LenderKey
from services.agency_gateway.api.models import (
    ENDED,
    AssignmentId,
    LegalStageChange,
    LegalStageState,
    Responses,
    StageMoveRequest,
)
from services.agency_gateway.application.legal import LegalStageView, StageMove
from shared.events.limits import IDENTIFIER_PATTERN
from shared.http.params import LoanId

router = APIRouter(prefix="/v1", tags=["legal stage"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDENTIFIER_PATTERN,
        description="A repeat with the same key changes nothing and answers the stage.",
    ),
]
MOVES: Responses = {
    409: {
        "description": "The loan has no legal stage (no escalation granted), or the stage "
        "cannot make that move (the answer names the current stage and the allowed ones)"
    }
}


@router.post(
    "/loans/{loan_id}/legal-stage",
    summary="Report the loan's legal stage (demand sent, filed, judgment, settled, withdrawn)",
    responses=MOVES,
)
async def move_loan_stage(
    loan_id: LoanId,
    body: StageMoveRequest,
    lender: LenderKey,
    handlers: LegalStages,
    idempotency_key: IdempotencyKey = None,
) -> LegalStageState:
    view = await handlers.move_by_lender(lender.tenant, loan_id, _move(body), idempotency_key)
    return legal_state(view)


@router.post(
    "/assignments/{assignment_id}/legal-stage",
    summary="Report the legal stage of an assignment's loan, where the lender allows it",
    responses=ENDED
    | MOVES
    | {403: {"description": "The lender's policy does not let agencies report the stage"}},
)
async def move_assignment_stage(
    assignment_id: AssignmentId,
    body: StageMoveRequest,
    agency: AgencyKey,
    handlers: LegalStages,
    idempotency_key: IdempotencyKey = None,
) -> LegalStageState:
    view = await handlers.move_by_agency(agency.tenant, assignment_id, _move(body), idempotency_key)
    return legal_state(view)


def _move(body: StageMoveRequest) -> StageMove:
    return StageMove(body.stage, body.note, body.respond_by_days)


def legal_state(view: LegalStageView) -> LegalStageState:
    return LegalStageState(
        stage=view.stage,
        escalation_id=view.escalation_id,
        history=[LegalStageChange.model_validate(h) for h in view.history],
    )
