"""Violations found after the fact, and the per-agency report (auditor role)."""

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from services.compliance.adapters.tables import violations as violations_table
from services.compliance.adapters.violations import ViolationFilter, Violations
from services.compliance.api import Auditor, Runtime
from services.compliance.api.entries import lender_in_scope
from services.compliance.api.paging import (
    CursorQuery,
    FromQuery,
    IdQuery,
    LenderQuery,
    LimitQuery,
    ToQuery,
    cursor_value,
    next_cursor,
)
from shared.db.engine import transaction

router = APIRouter(prefix="/v1", tags=["violations"])
RuleQuery = Annotated[str | None, Query(max_length=20, pattern=r"^[A-Z]+-\d+$")]


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
    leaf_index: int = Field(description="The violation's own entry in the log.")
    explanation: str


class ViolationPage(BaseModel):
    violations: list[ViolationView]
    next_cursor: str | None


class AgencyReport(BaseModel):
    agency_id: str
    contacts_by_channel: dict[str, int] = Field(description="Activities by type (notes too).")
    violations_by_rule: dict[str, int]


class AgenciesReport(BaseModel):
    lender_id: str | None = Field(description="The lender reported on; none: every lender.")
    time_from: datetime | None = Field(alias="from")
    time_to: datetime | None = Field(alias="to")
    agencies: list[AgencyReport]


@router.get("/violations", summary="Violations found in the log, in log order")
async def list_violations(
    auditor: Auditor,
    runtime: Runtime,
    lender_id: LenderQuery = None,
    rule_id: RuleQuery = None,
    agency_id: IdQuery = None,
    loan_id: IdQuery = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> ViolationPage:
    where = ViolationFilter(
        lender_id=lender_in_scope(auditor, lender_id, naming_a_loan=loan_id is not None),
        rule_id=rule_id,
        agency_id=agency_id,
        loan_id=loan_id,
        time_from=time_from,
        time_to=time_to,
        after_index=cursor_value(cursor),
    )
    async with transaction(runtime.sessions) as session:
        rows = await Violations(session).page(where, limit)
    return ViolationPage(
        violations=[ViolationView(**row) for row in rows],
        next_cursor=next_cursor(rows, limit),
    )


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


@router.get("/reports/agencies", summary="Per agency and period: contacts and violations")
async def agencies_report(
    auditor: Auditor,
    runtime: Runtime,
    lender_id: LenderQuery = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
) -> AgenciesReport:
    """Contacts by channel count the agencies' activities logged in the period; violations by
    rule count those whose contact falls in it."""
    lender = lender_in_scope(auditor, lender_id, naming_a_loan=False)
    contacts: dict[str, dict[str, int]] = defaultdict(dict)
    broken: dict[str, dict[str, int]] = defaultdict(dict)
    v = violations_table.c
    conditions: list[Any] = [v.agency_id.is_not(None)]
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
            broken[agency][rule] = int(count)
    return AgenciesReport.model_validate(
        {
            "lender_id": lender,
            "from": time_from,
            "to": time_to,
            "agencies": [
                AgencyReport(
                    agency_id=agency,
                    contacts_by_channel=contacts.get(agency, {}),
                    violations_by_rule=broken.get(agency, {}),
                )
                for agency in sorted(set(contacts) | set(broken))
            ],
        }
    )
