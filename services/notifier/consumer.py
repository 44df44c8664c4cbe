"""Notifier's consumer: every lifecycle event of a loan, placements, agencies' contacts and
disputes, the lender's answers to disputes, the legal stage, and borrowers' contact
preferences, each run handed to ``LifecycleHandlers``; borrowers' data requests to
``DataRequestHandlers``; each in the batch's unit of work (the runner commits it)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.notifier.application.data_requests import DataRequestHandlers
from services.notifier.application.lifecycle import LifecycleHandlers
from services.notifier.application.ports import UnitOfWork
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    ASSIGNMENT_EXPIRED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    CONTACT_PREFERENCES_UPDATED,
    DATA_REQUESTED,
    DISPUTE_RAISED,
    DISPUTE_RESOLVED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LEGAL_STAGE_CHANGED,
    LOAN_CLOSED,
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
)
from shared.kafka.handlers import EventHandlers, Received

GROUP = "notifier"
EVENTS = (
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    HOLD_PLACED,
    HOLD_LIFTED,
    PLACEMENT_RECALLED,
    LOAN_CLOSED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    ASSIGNMENT_EXPIRED,
    AGENCY_ACTIVITY_RECORDED,
    DISPUTE_RAISED,
    DISPUTE_RESOLVED,
    LEGAL_STAGE_CHANGED,
    CONTACT_PREFERENCES_UPDATED,
)


@dataclass(frozen=True)
class LifecycleConsumer:
    lifecycle: LifecycleHandlers
    data_requests: DataRequestHandlers

    def handlers(self) -> EventHandlers[Any]:
        handlers: EventHandlers[Any] = EventHandlers()
        for event_type in EVENTS:
            handlers.on(event_type, self.apply)
        handlers.on(DATA_REQUESTED, self.answer)
        return handlers

    async def apply(self, uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        await self.lifecycle.apply(uow, [(e.envelope.tenantid, e.data) for e in events])

    async def answer(self, uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        await self.data_requests.answer(uow, [(e.envelope.tenantid, e.data) for e in events])
