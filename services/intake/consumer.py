"""Intake's consumer: placements, agencies' disputes, notices sent and answers to data
requests, each run handed to ``BorrowerEvents`` in the batch's unit of work (the runner
commits it, and its inbox makes a redelivery a no-op)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.intake.application.borrower_events import BorrowerEvents
from services.intake.application.ports import UnitOfWork
from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_EXPIRED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    DATA_REQUEST_ANSWERED,
    DISPUTE_RAISED,
    NOTIFICATION_EVENTS,
)
from shared.events.notifications import NotificationStatus
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Received

GROUP = "intake"
TOPICS = (Topic.ASSIGNMENTS, Topic.AGENCY_ACTIVITIES, Topic.NOTIFICATIONS, Topic.DATA_ANSWERS)

Apply = Callable[[UnitOfWork, Sequence[tuple[str, Any]]], Awaitable[None]]


@dataclass(frozen=True)
class IntakeConsumer:
    events: BorrowerEvents

    def handlers(self) -> EventHandlers[Any]:
        handlers: EventHandlers[Any] = EventHandlers()
        handlers.on(ASSIGNMENT_PLACED, _each(self.events.placed))
        ended = _each(self.events.ended)
        for ending in (ASSIGNMENT_RECALLED, ASSIGNMENT_RETURNED, ASSIGNMENT_EXPIRED):
            handlers.on(ending, ended)
        handlers.on(DISPUTE_RAISED, _each(self.events.agency_disputes))
        notices = _each(self.events.notices)
        for notice in (
            NOTIFICATION_EVENTS[NotificationStatus.SENT],
            NOTIFICATION_EVENTS[NotificationStatus.DELIVERED],
            AGENCY_NOTICE_SENT,
        ):
            handlers.on(notice, notices)
        handlers.on(DATA_REQUEST_ANSWERED, _each(self.events.answers))
        return handlers


def _each(apply: Apply) -> Callable[[UnitOfWork, Sequence[Received[Any]]], Awaitable[None]]:
    async def handle(uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        await apply(uow, [(event.envelope.tenantid, event.data) for event in events])

    return handle
