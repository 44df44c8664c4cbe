"""The rest of a loan's life after its report: payments, holds, recall, closure, and the
borrower's contact preferences. Each change is state, history and an outbox row in the
caller's transaction."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.loans import LoanRepository
from services.intake.domain import LoanConflictError, LoanNotFoundError, LoanState, LoanStatus
from services.intake.reporting import SOURCE
from services.intake.schemas import (
    ClosureRequest,
    HoldRequest,
    PaymentReport,
    PreferencesRequest,
    RecallRequest,
)
from services.intake.sealing import Sealing
from shared.events.catalog import (
    CONTACT_PREFERENCES_UPDATED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
    EventType,
)
from shared.events.models import (
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    LoanClosed,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.money import Money
from shared.kafka import outbox


@dataclass(frozen=True)
class Recorded:
    """The event that stands for a change: new, or the one on record for a resubmission."""

    event_id: UUID
    duplicate: bool


class LoanLifecycle:
    def __init__(self, sealing: Sealing, loan_events_topic: str) -> None:
        self._sealing = sealing
        self._topic = loan_events_topic

    async def record_payment(
        self, session: AsyncSession, lender_id: str, loan_id: str, payment: PaymentReport
    ) -> tuple[Recorded, LoanState]:
        repository = LoanRepository(session)
        state = await self._locked_state(repository, lender_id, loan_id)
        identity = f"payment:{payment.payment_id}"
        on_record = await self._on_record(
            repository, lender_id, loan_id, identity, f"payment {payment.payment_id!r}"
        )
        if on_record is not None:
            return Recorded(on_record, duplicate=True), state
        after = state.with_payment(payment.amount.amount, payment.amount.currency, payment.paid_at)
        data = PaymentReceived(
            loan_id=loan_id,
            payment_id=payment.payment_id,
            amount=payment.amount,
            paid_at=payment.paid_at,
            outstanding=Money.in_minor_units(after.outstanding, after.currency),
            cured=after.status is LoanStatus.CURED,
        )
        recorded = await self._record(
            session, PAYMENT_RECEIVED, lender_id, loan_id, identity, data, payment.paid_at
        )
        await repository.save_state(lender_id, loan_id, after)
        return recorded, after

    async def place_hold(
        self, session: AsyncSession, lender_id: str, loan_id: str, request: HoldRequest
    ) -> tuple[Recorded, str]:
        repository = LoanRepository(session)
        state = await self._locked_state(repository, lender_id, loan_id)
        hold_id = request.hold_id or f"H-{uuid4().hex[:16]}"
        identity = f"hold:{hold_id}:placed"
        on_record = await self._on_record(
            repository, lender_id, loan_id, identity, f"hold {hold_id!r}"
        )
        if on_record is not None:
            return Recorded(on_record, duplicate=True), hold_id
        state.ensure_open()
        now = datetime.now(UTC)
        if not await repository.add_hold(lender_id, loan_id, hold_id, request.reason.value, now):
            raise LoanConflictError(f"hold {hold_id!r} exists on another loan")
        data = HoldPlaced(loan_id=loan_id, hold_id=hold_id, reason=request.reason, placed_at=now)
        recorded = await self._record(session, HOLD_PLACED, lender_id, loan_id, identity, data, now)
        return recorded, hold_id

    async def lift_hold(
        self, session: AsyncSession, lender_id: str, loan_id: str, hold_id: str
    ) -> Recorded:
        repository = LoanRepository(session)
        await self._locked_state(repository, lender_id, loan_id)
        hold = await repository.hold(lender_id, loan_id, hold_id)
        if hold is None:
            raise LoanNotFoundError(f"no hold {hold_id!r} on loan {loan_id!r}")
        identity = f"hold:{hold_id}:lifted"
        on_record = await repository.event_ids_of(lender_id, [identity])
        if identity in on_record:
            return Recorded(on_record[identity], duplicate=True)
        now = datetime.now(UTC)
        await repository.lift_hold(lender_id, hold_id, now)
        data = HoldLifted(loan_id=loan_id, hold_id=hold_id, lifted_at=now)
        return await self._record(session, HOLD_LIFTED, lender_id, loan_id, identity, data, now)

    async def recall(
        self, session: AsyncSession, lender_id: str, loan_id: str, request: RecallRequest
    ) -> Recorded:
        repository = LoanRepository(session)
        (await self._locked_state(repository, lender_id, loan_id)).ensure_open()
        at = request.recalled_at or datetime.now(UTC)
        data = PlacementRecalled(loan_id=loan_id, reason=request.reason, recalled_at=at)
        identity = f"recall:{uuid4()}"  # every recall counts; retries use Idempotency-Key
        return await self._record(
            session, PLACEMENT_RECALLED, lender_id, loan_id, identity, data, at
        )

    async def close(
        self, session: AsyncSession, lender_id: str, loan_id: str, request: ClosureRequest
    ) -> Recorded:
        repository = LoanRepository(session)
        state = await self._locked_state(repository, lender_id, loan_id)
        identity = f"close:{loan_id}"
        on_record = await repository.event_ids_of(lender_id, [identity])
        if identity in on_record:
            return Recorded(on_record[identity], duplicate=True)
        at = request.closed_at or datetime.now(UTC)
        closed = state.closed()
        data = LoanClosed(loan_id=loan_id, reason=request.reason, closed_at=at)
        recorded = await self._record(session, LOAN_CLOSED, lender_id, loan_id, identity, data, at)
        await repository.save_state(lender_id, loan_id, closed, closure_reason=request.reason.value)
        return recorded

    async def update_preferences(
        self, session: AsyncSession, lender_id: str, borrower_id: str, request: PreferencesRequest
    ) -> tuple[UUID, int]:
        reference = self._sealing.pseudonyms.reference(lender_id, borrower_id)
        preferences = ContactPreferences.model_validate(
            request.model_dump(exclude={"effective_at"})
        )
        version = await LoanRepository(session).save_preferences(
            lender_id, borrower_id, reference, preferences.model_dump(mode="json")
        )
        data = ContactPreferencesUpdated(
            borrower_ref=reference,
            preferences=preferences,
            effective_at=request.effective_at or datetime.now(UTC),
        )
        envelope = CONTACT_PREFERENCES_UPDATED.envelope(
            source=SOURCE, subject=reference, tenant=lender_id, data=data
        )
        await outbox.enqueue(session, self._topic, [envelope])
        return envelope.id, version

    async def _locked_state(
        self, repository: LoanRepository, lender_id: str, loan_id: str
    ) -> LoanState:
        state = await repository.lock_state(lender_id, loan_id)
        if state is None:
            raise LoanNotFoundError(f"no loan {loan_id!r}")
        return state

    async def _on_record(
        self,
        repository: LoanRepository,
        lender_id: str,
        loan_id: str,
        identity: str,
        what: str,
    ) -> UUID | None:
        """The event a resubmission stands for. Payment and hold ids are unique per lender, so
        one already recorded on another loan is a conflict, not a retry."""
        recorded = await repository.recorded_event(lender_id, identity)
        if recorded is None:
            return None
        event_id, recorded_loan = recorded
        if recorded_loan != loan_id:
            raise LoanConflictError(f"{what} is recorded on another loan")
        return event_id

    async def _record(
        self,
        session: AsyncSession,
        event_type: EventType,
        lender_id: str,
        loan_id: str,
        identity: str,
        data: BaseModel,
        occurred_at: datetime,
    ) -> Recorded:
        """History row and outbox row for a new event (the caller checked it is new)."""
        envelope = event_type.envelope(source=SOURCE, subject=loan_id, tenant=lender_id, data=data)
        details: dict[str, Any] = envelope.data
        fresh = await LoanRepository(session).record_events(
            [
                {
                    "event_id": envelope.id,
                    "lender_id": lender_id,
                    "loan_id": loan_id,
                    "event_type": envelope.type,
                    "identity": identity,
                    "occurred_at": occurred_at,
                    "details": details,
                }
            ]
        )
        if envelope.id not in fresh:  # a concurrent request about another loan came first
            raise LoanConflictError("the same change was just recorded on another loan")
        await outbox.enqueue(session, self._topic, [envelope])
        return Recorded(envelope.id, duplicate=False)
