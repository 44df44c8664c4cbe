"""Violations found after the fact (auditor role)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.compliance.api.dependencies import Auditor, Reads, own_lender
from services.compliance.api.paging import (
    OTHER_LENDER,
    CursorQuery,
    FromQuery,
    IdQuery,
    LenderQuery,
    LimitQuery,
    ToQuery,
    cursor_value,
    next_cursor,
)
from services.compliance.application.ports import Status, ViolationFilter
from services.compliance.application.scope import lender_in_scope

router = APIRouter(prefix="/v1", tags=["violations"])
RuleQuery = Annotated[str | None, Query(max_length=20, pattern=r"^[A-Z]+-\d+$")]
StatusQuery = Annotated[
    Status,
    Query(
        description="`standing`: not retracted; `retracted`: cleared by a later entry; `all` "
        "(the default, as before retractions existed): both, told apart by `retracted_at`."
    ),
]


class ViolationView(BaseModel):
    violation_id: str
    rule_id: str
    pack_version: str
    lender_id: str
    loan_id: str
    party: str = Field(description="'lender' (its notifier) or 'agency:<agency id>'.")
    agency_id: str | None
    contact_id: str
    contact_at: datetime
    leaf_indexes: list[int] = Field(description="The entries that prove it, the contact first.")
    leaf_index: int = Field(
        description="The violation's own entry in the log (its latest, if found again after a "
        "retraction)."
    )
    explanation: str
    retracted_at: datetime | None = Field(
        description="When a later judgement retracted it (facts logged after the contact "
        "excuse it); null while it stands. One found again stands again (null)."
    )
    retraction_leaf_index: int | None = Field(
        description="The `collections.compliance.violation-retracted` entry that retracted it, "
        "naming the entries that clear it; null while it stands."
    )


class ViolationPage(BaseModel):
    violations: list[ViolationView]
    next_cursor: str | None


@router.get(
    "/violations",
    summary="Violations found in the log, in log order",
    description="Each violation with its status: a violation a later judgement no longer "
    "finds (a fact logged after the contact excuses it) is retracted by a new log entry and "
    "shows `retracted_at` and `retraction_leaf_index`; its own entry stays in the log. "
    "`status` defaults to `all`, so existing clients see every violation as before; pass "
    "`status=standing` for the ones that hold now.",
    responses=OTHER_LENDER,
)
async def list_violations(
    auditor: Auditor,
    reads: Reads,
    lender_id: LenderQuery = None,
    rule_id: RuleQuery = None,
    agency_id: IdQuery = None,
    loan_id: IdQuery = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
    status: StatusQuery = "all",
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> ViolationPage:
    where = ViolationFilter(
        lender_id=lender_in_scope(
            own_lender(auditor), lender_id, naming_a_loan=loan_id is not None
        ),
        rule_id=rule_id,
        agency_id=agency_id,
        loan_id=loan_id,
        time_from=time_from,
        time_to=time_to,
        status=status,
        after_index=cursor_value(cursor),
    )
    async with reads() as read:
        rows = await read.violations.page(where, limit)
    return ViolationPage(
        violations=[ViolationView(**row) for row in rows],
        next_cursor=next_cursor(rows, limit),
    )
