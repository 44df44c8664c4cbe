"""Compliance's consumer: every event of every catalogued type becomes an audit-log entry; a
borrower's data request is answered in the same unit of work."""

from collections.abc import Sequence

from services.compliance.adapters.unit_of_work import ComplianceUnitOfWork
from services.compliance.application.data_requests import DataRequests
from services.compliance.application.log_writer import LogWriter
from services.compliance.domain.data_requests import Request
from services.compliance.domain.entries import new_entry
from shared.events.borrowers import DataRequested
from shared.events.catalog import DATA_REQUESTED, EVENT_TYPES
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Received

GROUP = "compliance"
# Everything the other services publish (and every service's answer to a data request, its own
# included); compliance's own violations are appended directly.
AUDITED_TOPICS = [
    Topic.LOANS,
    Topic.NOTIFICATIONS,
    Topic.ASSIGNMENTS,
    Topic.AGENCY_ACTIVITIES,
    Topic.DATA_ANSWERS,
]


class Recorder:
    def __init__(self, writer: LogWriter, data_requests: DataRequests) -> None:
        self._writer = writer
        self._data_requests = data_requests

    def handlers(self) -> EventHandlers[ComplianceUnitOfWork]:
        """One recorder for every type, so a batch's events are appended in one call, in
        order, in the batch's one unit of work, and signed once."""
        handlers: EventHandlers[ComplianceUnitOfWork] = EventHandlers()
        for event_type in EVENT_TYPES.values():
            if event_type.topic in AUDITED_TOPICS:
                handlers.on(event_type, self.record)
        return handlers

    async def record(self, uow: ComplianceUnitOfWork, events: Sequence[Received]) -> None:
        if not events:
            return
        requests = [
            Request(event.envelope.tenantid, str(event.envelope.id), event.data)
            for event in events
            if event.envelope.type == DATA_REQUESTED.name and isinstance(event.data, DataRequested)
        ]
        # A request's answer lists the violations of every contact logged before it: a batch
        # with one is judged in its own unit of work (rare); others after their commit.
        entries = [new_entry(event.envelope) for event in events]
        await self._writer.append(uow, entries, judged=bool(requests))
        await self._data_requests.answer(uow, requests)
