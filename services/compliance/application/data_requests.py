"""Answering borrowers' data requests (``collections.borrower.data-requested``) in the batch's
unit of work: each answer (``collections.borrower.data-request-answered``, in the clear: compliance
holds no personal data) reaches the outbox in the transaction that logged its request."""

from collections.abc import Sequence
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson

from services.compliance.application.ports import Clock, EntryRow, UnitOfWork
from services.compliance.domain.data_requests import (
    SERVICE,
    BorrowerEntry,
    KeepingOf,
    Request,
    answer,
    first_asked,
)
from shared.events.borrowers import DataRequestAnswered
from shared.events.catalog import DATA_REQUEST_ANSWERED
from shared.events.envelope import Envelope

SOURCE = "/collections/compliance"


class DataRequests:
    def __init__(self, clock: Clock, keeping: KeepingOf) -> None:
        self._clock = clock
        self._keeping = keeping

    async def answer(self, uow: UnitOfWork, requests: Sequence[Request]) -> list[Envelope]:
        """Answer every request logged for the first time (after its entry is appended): the
        borrowers' entries and their loans' standing violations are read once for the batch."""
        if not requests:
            return []
        borrowers = sorted({(r.lender_id, r.data.borrower_ref) for r in requests})
        logged = {
            borrower: [_entry(row) for row in rows]
            for borrower, rows in (await uow.log.of_borrowers(borrowers)).items()
        }
        loans = sorted(
            {
                (lender, e.loan_id)
                for (lender, _), entries in logged.items()
                for e in entries
                if e.loan_id is not None
            }
        )
        breached: dict[str, list[str]] = {}
        for stands in (await uow.violations.standing(loans)).values():
            for v in stands:
                breached.setdefault(v.contact_id, []).append(v.rule_id)
        answers = []
        for request in requests:
            entries = logged.get((request.lender_id, request.data.borrower_ref), [])
            if not first_asked(request, entries):
                continue
            given = answer(request, entries, breached, self._keeping)
            data = DataRequestAnswered(
                request_id=request.data.request_id,
                loan_id=request.data.loan_id,
                borrower_ref=request.data.borrower_ref,
                kind=request.data.kind,
                service=SERVICE,
                answered_at=self._clock.now(),
                answer=given,
            )
            envelope = DATA_REQUEST_ANSWERED.envelope(
                source=SOURCE,
                subject=request.data.loan_id,
                tenant=request.lender_id,
                data=data,
                event_id=answer_id(request.lender_id, request.data.request_id),
            )
            uow.publish(envelope)
            answers.append(envelope)
        return answers


def answer_id(lender_id: str, request_id: str) -> UUID:
    """The answer's event id, the same however often the request arrives."""
    return uuid5(NAMESPACE_URL, f"collections:{lender_id}:{request_id}:{SERVICE}")


def _entry(row: EntryRow) -> BorrowerEntry:
    return BorrowerEntry(
        leaf_index=row["leaf_index"],
        event_id=str(row["event_id"]),
        type=row["event_type"],
        loan_id=row["loan_id"],
        time=row["event_time"],
        data=orjson.loads(bytes(row["entry"]))["data"],
    )
