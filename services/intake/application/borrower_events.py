"""What intake learns from the other services about its loans and borrowers: the agency that
holds each loan, disputes agencies report, the notices sent, and answers to data requests.

Each method takes a run of consecutive events of one type (lender, data) in the consumer's
batch, applied in the batch's unit of work; a redelivered event changes nothing.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from services.intake.application.data_requests import sealed_answer
from services.intake.application.ports import HolderRecord, NoticeRecord, StoredAnswer, UnitOfWork
from services.intake.application.sealing import Sealing
from services.intake.domain.disputes import Dispute
from services.intake.domain.loan import Hold
from shared.contact_rules.sources import dispute_hold
from shared.crypto import DecryptionError
from shared.events.assignments import AssignmentEnded, AssignmentPlaced, DisputeRaised
from shared.events.borrowers import (
    DATA_HOLDERS,
    DataAnswer,
    DataRequestAnswered,
    DisputeReason,
    DisputeSource,
    open_answer,
)
from shared.events.models import HoldReason
from shared.events.notifications import NotificationChanged


class BorrowerEvents:
    def __init__(
        self, sealing: Sealing, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._sealing = sealing
        self._now = clock

    async def placed(self, uow: UnitOfWork, events: Sequence[tuple[str, AssignmentPlaced]]) -> None:
        await uow.borrowers.hold(
            [
                HolderRecord(
                    lender,
                    data.loan_id,
                    data.assignment_id,
                    data.agency_id,
                    data.agency_name,
                    data.agency_phone,
                    data.placed_at,
                )
                for lender, data in events
            ]
        )

    async def ended(self, uow: UnitOfWork, events: Sequence[tuple[str, AssignmentEnded]]) -> None:
        await uow.borrowers.release(
            [(lender, data.loan_id, data.assignment_id) for lender, data in events]
        )

    async def agency_disputes(
        self, uow: UnitOfWork, events: Sequence[tuple[str, DisputeRaised]]
    ) -> None:
        """Each dispute an agency reports, so the lender can resolve it; the loan is held by
        the hold every service placed for it (``agency-dispute:<dispute id>``)."""
        holds: dict[str, list[tuple[str, Hold]]] = defaultdict(list)
        for lender, data in events:
            hold = dispute_hold(data)
            dispute = Dispute(
                lender,
                data.dispute_id,
                data.loan_id,
                DisputeSource.AGENCY,
                DisputeReason.OTHER,
                hold.hold_id,
                data.raised_at,
            )
            details = self._sealing.seal_text(data.reason, f"{lender}/{data.dispute_id}/details")
            if await uow.disputes.add(dispute, details):
                holds[lender].append(
                    (data.loan_id, Hold(hold.hold_id, HoldReason.DISPUTE, hold.placed_at))
                )
        for lender, held in holds.items():
            await uow.loans.add_holds(lender, held)

    async def notices(
        self, uow: UnitOfWork, events: Sequence[tuple[str, NotificationChanged]]
    ) -> None:
        await uow.borrowers.add_notices(
            [
                NoticeRecord(
                    lender,
                    data.loan_id,
                    data.notification_id,
                    data.at,
                    data.channel,
                    data.kind.value,
                )
                for lender, data in events
            ]
        )

    async def answers(
        self, uow: UnitOfWork, events: Sequence[tuple[str, DataRequestAnswered]]
    ) -> None:
        """Each answer checked (the request is this lender's and this borrower's, the service
        one that answers, a sealed answer opens for its request, the borrower has not erased
        it since) and kept sealed with intake's own keys; a request is ready once every
        service answered. Others are left out."""
        requests = await uow.borrowers.requests({data.request_id for _, data in events})
        kept: list[StoredAnswer] = []
        for lender, data in events:
            request = requests.get(data.request_id)
            if (
                request is None
                or request.status == "erased"
                or (request.lender_id, request.borrower_ref) != (lender, data.borrower_ref)
                or data.service not in DATA_HOLDERS
            ):
                continue
            answer = self._opened(data)
            if answer is not None:
                kept.append(
                    sealed_answer(
                        self._sealing, data.request_id, data.service, answer, data.answered_at
                    )
                )
        await uow.borrowers.add_answers(kept)
        await uow.borrowers.mark_ready({a.request_id for a in kept}, DATA_HOLDERS, self._now())

    def _opened(self, data: DataRequestAnswered) -> DataAnswer | None:
        if data.sealed_answer is None:
            return data.answer
        try:
            return open_answer(self._sealing.transit, data.request_id, data.sealed_answer)
        except (DecryptionError, ValueError):
            return None  # not sealed for this request with the transit keys: not an answer
