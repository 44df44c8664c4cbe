"""What intake learns of its loans from the other services (the agency holding each, the
notices sent), borrower link revocations, and borrowers' data requests with their answers."""

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import RowMapping, Text, and_, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.tables import (
    data_answers,
    data_requests,
    link_revocations,
    loan_holders,
    notices,
)
from services.intake.application.ports import (
    DataRequestRecord,
    HolderRecord,
    NoticeRecord,
    StoredAnswer,
)
from shared.crypto import SealedValue
from shared.db.bulk import among, insert_rows, upsert_if_newer
from shared.events.borrowers import DataRequestKind
from shared.vocabulary import Channel

_REQUEST_COLUMNS = (
    data_requests.c.request_id,
    data_requests.c.lender_id,
    data_requests.c.loan_id,
    data_requests.c.borrower_ref,
    data_requests.c.kind,
    data_requests.c.status,
    data_requests.c.requested_at,
    data_requests.c.due_by,
    data_requests.c.ready_at,
)


class SqlBorrowerStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hold(self, holders: Sequence[HolderRecord]) -> None:
        newest: dict[tuple[str, str], HolderRecord] = {}
        for holder in holders:
            key = (holder.lender_id, holder.loan_id)
            if key not in newest or newest[key].since <= holder.since:
                newest[key] = holder
        await upsert_if_newer(
            self._session,
            loan_holders,
            [
                {
                    "lender_id": h.lender_id,
                    "loan_id": h.loan_id,
                    "assignment_id": h.assignment_id,
                    "agency_id": h.agency_id,
                    "agency_name": h.name,
                    "agency_phone": h.phone,
                    "since": h.since,
                }
                for h in newest.values()
            ],
            key=("lender_id", "loan_id"),
            version="since",
        )

    async def release(self, ended: Sequence[tuple[str, str, str]]) -> None:
        if not ended:
            return
        await self._session.execute(
            loan_holders.delete().where(
                among(
                    (
                        loan_holders.c.lender_id,
                        loan_holders.c.loan_id,
                        loan_holders.c.assignment_id,
                    ),
                    set(ended),
                )
            )
        )

    async def holder_of(self, lender_id: str, loan_id: str) -> HolderRecord | None:
        row = (
            await self._session.execute(
                select(loan_holders).where(
                    loan_holders.c.lender_id == lender_id, loan_holders.c.loan_id == loan_id
                )
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return HolderRecord(
            m["lender_id"],
            m["loan_id"],
            m["assignment_id"],
            m["agency_id"],
            m["agency_name"],
            m["agency_phone"],
            m["since"],
        )

    async def add_notices(self, sent: Sequence[NoticeRecord]) -> None:
        await insert_rows(
            self._session,
            notices,
            [
                {
                    "notification_id": n.notification_id,
                    "lender_id": n.lender_id,
                    "loan_id": n.loan_id,
                    "at": n.at,
                    "channel": n.channel.value,
                    "kind": n.kind,
                }
                for n in {n.notification_id: n for n in reversed(sent)}.values()
            ],
            skip_conflicts=True,
        )

    async def notices_of(self, lender_id: str, loan_id: str) -> list[NoticeRecord]:
        rows = await self._session.execute(
            select(notices)
            .where(notices.c.lender_id == lender_id, notices.c.loan_id == loan_id)
            .order_by(notices.c.at)
        )
        return [
            NoticeRecord(
                r.lender_id, r.loan_id, r.notification_id, r.at, Channel(r.channel), r.kind
            )
            for r in rows
        ]

    async def revoke_links(self, lender_id: str, loan_id: str, before: datetime) -> None:
        statement = pg_insert(link_revocations).values(
            lender_id=lender_id, loan_id=loan_id, revoked_before=before
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[link_revocations.c.lender_id, link_revocations.c.loan_id],
                set_={
                    "revoked_before": func.greatest(
                        link_revocations.c.revoked_before, statement.excluded.revoked_before
                    )
                },
            )
        )

    async def links_revoked_before(self, lender_id: str, loan_id: str) -> datetime | None:
        found: datetime | None = await self._session.scalar(
            select(link_revocations.c.revoked_before).where(
                link_revocations.c.lender_id == lender_id, link_revocations.c.loan_id == loan_id
            )
        )
        return found

    async def add_request(self, request: DataRequestRecord) -> None:
        await self._session.execute(
            pg_insert(data_requests).values(
                request_id=request.request_id,
                lender_id=request.lender_id,
                loan_id=request.loan_id,
                borrower_ref=request.borrower_ref,
                kind=request.kind.value,
                status=request.status,
                requested_at=request.requested_at,
                due_by=request.due_by,
                ready_at=request.ready_at,
            )
        )

    async def requests_of(self, lender_id: str, borrower_ref: str) -> list[DataRequestRecord]:
        rows = await self._session.execute(
            select(*_REQUEST_COLUMNS)
            .where(
                data_requests.c.lender_id == lender_id,
                data_requests.c.borrower_ref == borrower_ref,
            )
            .order_by(data_requests.c.requested_at.desc(), data_requests.c.request_id)
        )
        return [_request(row._mapping) for row in rows]

    async def requests(self, request_ids: Collection[str]) -> dict[str, DataRequestRecord]:
        if not request_ids:
            return {}
        rows = await self._session.execute(
            select(*_REQUEST_COLUMNS).where(
                data_requests.c.request_id == any_(bindparam("ids", type_=ARRAY(Text)))
            ),
            {"ids": list(request_ids)},
        )
        return {row.request_id: _request(row._mapping) for row in rows}

    async def add_answers(self, answers: Sequence[StoredAnswer]) -> None:
        await insert_rows(
            self._session,
            data_answers,
            [
                {
                    "request_id": a.request_id,
                    "service": a.service,
                    "answer_sealed": a.sealed.model_dump(),
                    "answered_at": a.answered_at,
                }
                for a in {(a.request_id, a.service): a for a in reversed(answers)}.values()
            ],
            skip_conflicts=True,
        )

    async def answers_of(self, request_id: str) -> list[StoredAnswer]:
        rows = await self._session.execute(
            select(data_answers)
            .where(data_answers.c.request_id == request_id)
            .order_by(data_answers.c.answered_at, data_answers.c.service)
        )
        return [
            StoredAnswer(
                r.request_id,
                r.service,
                SealedValue.model_validate(r.answer_sealed),
                r.answered_at,
            )
            for r in rows
        ]

    async def mark_ready(
        self, request_ids: Collection[str], services: Collection[str], at: datetime
    ) -> None:
        if not request_ids:
            return
        answered = (
            select(func.count(func.distinct(data_answers.c.service)))
            .where(
                and_(
                    data_answers.c.request_id == data_requests.c.request_id,
                    data_answers.c.service == any_(bindparam("services", type_=ARRAY(Text))),
                )
            )
            .scalar_subquery()
        )
        await self._session.execute(
            update(data_requests)
            .where(
                data_requests.c.request_id == any_(bindparam("ids", type_=ARRAY(Text))),
                data_requests.c.status == "pending",
                answered >= len(set(services)),
            )
            .values(status="ready", ready_at=at),
            {"ids": list(request_ids), "services": list(services)},
        )

    async def erase_access_answers(self, lender_id: str, borrower_ref: str) -> None:
        theirs = (
            data_requests.c.lender_id == lender_id,
            data_requests.c.borrower_ref == borrower_ref,
            data_requests.c.kind == DataRequestKind.ACCESS.value,
        )
        await self._session.execute(
            delete(data_answers).where(
                data_answers.c.request_id.in_(select(data_requests.c.request_id).where(*theirs))
            )
        )
        await self._session.execute(update(data_requests).where(*theirs).values(status="erased"))


def _request(row: RowMapping) -> DataRequestRecord:
    return DataRequestRecord(
        request_id=row["request_id"],
        lender_id=row["lender_id"],
        loan_id=row["loan_id"],
        borrower_ref=row["borrower_ref"],
        kind=DataRequestKind(row["kind"]),
        status=row["status"],
        requested_at=row["requested_at"],
        due_by=row["due_by"],
        ready_at=row["ready_at"],
    )
