"""Compliance's HTTP entry points, for auditors (read-only)."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.compliance.adapters.audit_log import AuditLog
from shared.auth import Principal, Role
from shared.db.engine import transaction
from shared.http.params import LoanId
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime


class TimelineEntry(BaseModel):
    leaf_index: int
    event_id: UUID
    type: str
    lender_id: str
    time: datetime
    recorded_at: datetime
    leaf_hash: str
    entry: dict[str, Any]


class Timeline(BaseModel):
    loan_id: str
    entries: list[TimelineEntry]


def audit_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["audit"])
    require_auditor = runtime.auth.require(Role.AUDITOR)

    @router.get("/loans/{loan_id}/timeline", summary="Every audited event of a loan, in order")
    async def loan_timeline(
        loan_id: LoanId, auditor: Annotated[Principal, Depends(require_auditor)]
    ) -> Timeline:
        async with transaction(runtime.sessions) as session:
            rows = await AuditLog(session).timeline(loan_id)
        rows = [row for row in rows if auditor.sees_lender(row["tenant_id"])]  # its scope
        if not rows:
            raise ProblemError(404, "Loan not found", f"No audit entry names loan {loan_id!r}.")
        return Timeline(
            loan_id=loan_id,
            entries=[
                TimelineEntry(
                    leaf_index=row["leaf_index"],
                    event_id=row["event_id"],
                    type=row["event_type"],
                    lender_id=row["tenant_id"],
                    time=row["event_time"],
                    recorded_at=row["recorded_at"],
                    leaf_hash=row["leaf_hash"].hex(),
                    entry=orjson.loads(row["entry"]),
                )
                for row in rows
            ],
        )

    return router
