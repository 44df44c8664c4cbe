"""The per-agency figures of the auditors' report: contacts logged and standing violations."""

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import violations
from services.compliance.application.ports import Period

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


class SqlAgencyActivity:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def contacts_by_agency(self, period: Period) -> dict[str, dict[str, int]]:
        params = {"lender": period.lender_id, "time_from": period.time_from}
        params["time_to"] = period.time_to
        contacts: dict[str, dict[str, int]] = defaultdict(dict)
        for row in await self._session.execute(CONTACTS_BY_AGENCY, params):
            contacts[row.agency_id][row.kind] = int(row.contacts)
        return dict(contacts)

    async def standing_by_agency(self, period: Period) -> dict[str, dict[str, int]]:
        v = violations.c
        conditions: list[Any] = [v.agency_id.is_not(None), v.retracted_at.is_(None)]
        if period.lender_id is not None:
            conditions.append(v.lender_id == period.lender_id)
        if period.time_from is not None:
            conditions.append(v.contact_at >= period.time_from)
        if period.time_to is not None:
            conditions.append(v.contact_at < period.time_to)
        counted = select(v.agency_id, v.rule_id, func.count()).where(*conditions)
        violated: dict[str, dict[str, int]] = defaultdict(dict)
        for agency, rule, count in await self._session.execute(
            counted.group_by(v.agency_id, v.rule_id)
        ):
            violated[agency][rule] = int(count)
        return dict(violated)
