"""Compliance's consumer: every event of every catalogued type becomes an audit-log entry."""

from collections.abc import Sequence

from services.compliance.adapters.unit_of_work import ComplianceUnitOfWork
from services.compliance.application.log_writer import LogWriter
from services.compliance.domain.entries import new_entry
from shared.events.catalog import EVENT_TYPES
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Received

GROUP = "compliance"
# Everything the other services publish; compliance's own violations are appended directly.
AUDITED_TOPICS = [Topic.LOANS, Topic.NOTIFICATIONS, Topic.ASSIGNMENTS, Topic.AGENCY_ACTIVITIES]


class Recorder:
    def __init__(self, writer: LogWriter) -> None:
        self._writer = writer

    def handlers(self) -> EventHandlers[ComplianceUnitOfWork]:
        """One recorder for every type, so a batch's events are appended in one call, in
        order, in the batch's one unit of work, and signed once."""
        handlers: EventHandlers[ComplianceUnitOfWork] = EventHandlers()
        for event_type in EVENT_TYPES.values():
            if event_type.topic in AUDITED_TOPICS:
                handlers.on(event_type, self.record)
        return handlers

    async def record(self, uow: ComplianceUnitOfWork, events: Sequence[Received]) -> None:
        if events:
            await self._writer.append(uow, [new_entry(event.envelope) for event in events])
