"""The borrower's side of intake: ``BorrowerDesk`` over intake's units of work.

Every call takes the claims of a link opened by ``open_link`` and sees the one loan (and the
one borrower) they name; a loan gone from under the link refuses it like an unknown one.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from services.intake.application.borrower_desk import (
    BorrowerView,
    DataRequestView,
    DisputeView,
    Holder,
    LinkRefusedError,
    LoanEndedError,
    NoticeSent,
)
from services.intake.application.data_requests import (
    SERVICE,
    opened_answers,
    own_part,
    sealed_answer,
)
from services.intake.application.handlers import IntakeHandlers
from services.intake.application.ports import (
    DataRequestRecord,
    StoredBorrower,
    UnitOfWork,
)
from services.intake.application.sealing import Sealing
from services.intake.domain.disputes import BorrowerChoices, Dispute
from services.intake.domain.loan import LoanNotFoundError, LoanStatus
from shared.borrower_links import BorrowerLinks, ExpiredLinkError, InvalidLinkError, LinkClaims
from shared.events.borrowers import DataAnswer, DataRequestKind, DisputeReason
from shared.events.models import ContactPreferences, InconvenientTime
from shared.vocabulary import Channel


class BorrowerSide:
    """Implements ``BorrowerDesk``."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        handlers: IntakeHandlers,
        sealing: Sealing,
        links: BorrowerLinks,
        lender_names: Mapping[str, str],
        data_request_due: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._handlers = handlers
        self._sealing = sealing
        self._links = links
        self._lender_names = lender_names
        self._due = data_request_due
        self._now = clock

    async def open_link(self, token: str) -> LinkClaims:
        try:
            claims = self._links.open(token, now=self._now())
        except ExpiredLinkError:
            raise LinkRefusedError(gone=True) from None
        except InvalidLinkError:
            raise LinkRefusedError(gone=False) from None
        async with self._unit_of_work() as uow:
            loan = await uow.loans.get(claims.lender_id, claims.loan_id)
            if loan is None or loan.borrower_ref != claims.borrower_ref:
                raise LinkRefusedError(gone=False)
            revoked = await uow.borrowers.links_revoked_before(claims.lender_id, claims.loan_id)
        if revoked is not None and claims.issued_at < revoked:
            raise LinkRefusedError(gone=True)
        return claims

    async def view(self, claims: LinkClaims) -> BorrowerView:
        lender_id, loan_id = claims.lender_id, claims.loan_id
        async with self._unit_of_work() as uow:
            stored = await _borrower(uow, claims)
            holds = await uow.loans.holds_of(lender_id, loan_id)
            disputes = await uow.disputes.of_loan(lender_id, loan_id)
            holder = await uow.borrowers.holder_of(lender_id, loan_id)
            notices = await uow.borrowers.notices_of(lender_id, loan_id)
            requests = await uow.borrowers.requests_of(lender_id, claims.borrower_ref)
            preferences = await uow.loans.preferences_of(lender_id, stored.borrower_id)
        loan = stored.loan
        held = any(hold.active for hold in holds)
        return BorrowerView(
            lender_id=lender_id,
            lender_name=self._lender_names.get(lender_id, lender_id),
            loan_id=loan_id,
            locale=stored.locale,
            amount_overdue=loan.money(loan.outstanding),
            overdue_since=loan.due_date,
            days_past_due=max((self._now().date() - loan.due_date).days, 0),
            status=_status(loan.status, held),
            held_by=Holder(holder.agency_id, holder.name, holder.phone) if holder else None,
            preferences=preferences.effective if preferences else ContactPreferences(),
            disputes=[dispute_view(d) for d in disputes],
            notices=[NoticeSent(n.at, n.channel, n.kind) for n in notices],
            data_requests=[_request_view(r) for r in requests],
        )

    async def open_dispute(
        self, claims: LinkClaims, reason: DisputeReason, details: str
    ) -> DisputeView:
        async with self._unit_of_work() as uow:
            try:
                dispute = await self._handlers.open_dispute(
                    uow, claims.lender_id, claims.loan_id, claims.borrower_ref, reason, details
                )
            except LoanNotFoundError:
                raise LinkRefusedError(gone=False) from None
            await uow.commit()
        return dispute_view(dispute)

    async def set_preferences(
        self,
        claims: LinkClaims,
        opted_out_channels: list[Channel],
        inconvenient_times: list[InconvenientTime],
    ) -> ContactPreferences:
        times: list[InconvenientTime] = []
        times += [t for t in inconvenient_times if t not in times]
        choices = BorrowerChoices(tuple(dict.fromkeys(opted_out_channels)), tuple(times))
        async with self._unit_of_work() as uow:
            stored = await _borrower(uow, claims)
            if stored.loan.status is LoanStatus.CLOSED:
                raise LoanEndedError("the loan is closed")
            recorded = await self._handlers.set_borrower_choices(
                uow, claims.lender_id, stored.borrower_id, choices
            )
            await uow.commit()
        assert recorded.preferences is not None
        return recorded.preferences

    async def unsubscribe_email(self, claims: LinkClaims) -> None:
        """Always honoured (a closed loan too); a second one changes nothing."""
        async with self._unit_of_work() as uow:
            stored = await _borrower(uow, claims)
            current = await uow.loans.preferences_of(claims.lender_id, stored.borrower_id)
            choices = current.choices if current is not None else BorrowerChoices()
            if Channel.EMAIL in choices.opted_out_channels:
                return
            choices = BorrowerChoices(
                (*choices.opted_out_channels, Channel.EMAIL), choices.inconvenient_times
            )
            await self._handlers.set_borrower_choices(
                uow, claims.lender_id, stored.borrower_id, choices
            )
            await uow.commit()

    async def request_data(self, claims: LinkClaims, kind: DataRequestKind) -> DataRequestView:
        now = self._now()
        request = DataRequestRecord(
            request_id=f"R-{uuid4().hex[:16]}",
            lender_id=claims.lender_id,
            loan_id=claims.loan_id,
            borrower_ref=claims.borrower_ref,
            kind=kind,
            status="pending",
            requested_at=now,
            due_by=now + self._due,
        )
        async with self._unit_of_work() as uow:
            stored = await _borrower(uow, claims)
            loans = await uow.loans.loans_of_borrower(claims.lender_id, claims.borrower_ref)
            preferences = await uow.loans.preferences_of(claims.lender_id, stored.borrower_id)
            part = own_part(kind, loans, preferences, self._sealing)
            await uow.loans.erase_contacts(claims.lender_id, part.erase)
            await uow.disputes.erase_details(claims.lender_id, part.erase)
            if kind is DataRequestKind.DELETION:
                await uow.borrowers.erase_access_answers(claims.lender_id, claims.borrower_ref)
            await self._handlers.record_data_request(uow, request)
            answer = sealed_answer(self._sealing, request.request_id, SERVICE, part.answer, now)
            await uow.borrowers.add_answers([answer])
            await uow.commit()
        return _request_view(request)

    async def data_request(self, claims: LinkClaims, request_id: str) -> DataRequestView | None:
        async with self._unit_of_work() as uow:
            request = (await uow.borrowers.requests([request_id])).get(request_id)
            if request is None or (request.lender_id, request.borrower_ref) != (
                claims.lender_id,
                claims.borrower_ref,
            ):
                return None
            answers = (
                await uow.borrowers.answers_of(request_id) if request.status == "ready" else []
            )
        return _request_view(request, opened_answers(self._sealing, answers))


async def _borrower(uow: UnitOfWork, claims: LinkClaims) -> StoredBorrower:
    stored = await uow.loans.borrower_of(claims.lender_id, claims.loan_id)
    if stored is None or stored.loan.borrower_ref != claims.borrower_ref:
        raise LinkRefusedError(gone=False)
    return stored


def _status(status: LoanStatus, held: bool) -> str:
    if status is LoanStatus.DELINQUENT:
        return "on_hold" if held else "overdue"
    return status.value


def dispute_view(dispute: Dispute) -> DisputeView:
    return DisputeView(
        dispute_id=dispute.dispute_id,
        reason=dispute.reason,
        status=dispute.status,
        source=dispute.source.value,
        opened_at=dispute.opened_at,
        resolved_at=dispute.resolved_at,
    )


def _request_view(
    request: DataRequestRecord, answers: list[DataAnswer] | None = None
) -> DataRequestView:
    return DataRequestView(
        request_id=request.request_id,
        kind=request.kind,
        status=request.status,
        requested_at=request.requested_at,
        due_by=request.due_by,
        answers=answers or [],
    )
