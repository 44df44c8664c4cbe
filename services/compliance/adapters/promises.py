"""The agencies' promises and the lender's payments, read from the audit log's own entries
(both are logged whole: amounts and dates are no personal data, so no table of their own)."""

from collections.abc import Collection
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Date, DateTime, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import audit_entries
from services.compliance.domain.promises import LoanKey, LoggedPromise
from shared.events.assignments import PromiseRecorded
from shared.events.catalog import PAYMENT_RECEIVED, PROMISE_RECORDED
from shared.events.models import PaymentReceived
from shared.promises import Paid

c = audit_entries.c
entry_data = cast(func.convert_from(c.entry, "UTF8"), JSONB)["data"]
# The first instant of a promise's due date, in UTC: what the report's period is compared with.
due_start = func.timezone("UTC", cast(cast(entry_data["due_date"].astext, Date), DateTime))


class SqlPromiseEntries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def due(
        self, lender_id: str | None, time_from: datetime | None, time_to: datetime | None
    ) -> list[LoggedPromise]:
        """Promises whose due date starts in ``[time_from, time_to)`` (of one lender, or of
        all), each once however often it was logged."""
        # Inline, so every plan can use the partial index of promise entries.
        conditions: list[Any] = [
            c.event_type == literal(PROMISE_RECORDED.name, literal_execute=True)
        ]
        if lender_id is not None:
            conditions.append(c.tenant_id == lender_id)
        if time_from is not None:
            conditions.append(due_start >= time_from)
        if time_to is not None:
            conditions.append(due_start < time_to)
        rows = await self._session.execute(
            select(c.tenant_id, c.entry).where(*conditions).order_by(c.leaf_index)
        )
        found: dict[tuple[str, str, str], LoggedPromise] = {}
        for row in rows:
            data = PromiseRecorded.model_validate(orjson.loads(row.entry)["data"])
            promise = LoggedPromise(
                lender_id=row.tenant_id,
                loan_id=data.loan_id,
                agency_id=data.agency_id,
                promise_id=data.promise_id,
                amount=data.amount.amount,
                currency=data.amount.currency,
                made_at=data.recorded_at,
                due=data.due_date,
            )
            found.setdefault((row.tenant_id, data.agency_id, data.promise_id), promise)
        return list(found.values())

    async def lender_payments(self, loans: Collection[LoanKey]) -> dict[LoanKey, list[Paid]]:
        """The payments the lender reported on each loan, each once."""
        if not loans:
            return {}
        rows = await self._session.execute(
            select(c.tenant_id, c.loan_id, c.entry)
            .where(
                c.event_type == PAYMENT_RECEIVED.name,
                tuple_(c.tenant_id, c.loan_id).in_(list(loans)),
            )
            .order_by(c.leaf_index)
        )
        found: dict[LoanKey, dict[str, Paid]] = {}
        for row in rows:
            data = PaymentReceived.model_validate(orjson.loads(row.entry)["data"])
            paid = Paid(data.payment_id, data.amount.amount, data.amount.currency, data.paid_at)
            found.setdefault((row.tenant_id, row.loan_id), {}).setdefault(data.payment_id, paid)
        return {loan: list(payments.values()) for loan, payments in found.items()}
