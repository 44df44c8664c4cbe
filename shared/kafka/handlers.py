"""Typed event handlers: which function applies which event type, and the order they run in.

A service registers one handler per event type it acts on::

    handlers = EventHandlers()
    handlers.on(OVERDUE_REPORTED, handle_reports)

and the consumer runner calls ``handle_reports(uow, events)`` with each maximal run of
consecutive events of a batch that go to it, in consumption order: a report, a payment and a
report again of one loan reach their handlers in three calls, in that order, and a batch costs
one call per run, not per event. A handler registered for several types (compliance records
every type) gets their consecutive events in one call. Types with no handler are left out
before runs are formed (the runner counts them). ``uow`` is the batch's unit of work (the
service's subclass of :class:`~shared.db.unit_of_work.UnitOfWork`): the runner marks the events
seen in its transaction and commits it once every handler has run.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Generic

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError
from typing_extensions import TypeVar

from shared.db.unit_of_work import UnitOfWork
from shared.events.catalog import EventType
from shared.events.envelope import Envelope
from shared.kafka.faults import describe_validation

M = TypeVar("M", bound=BaseModel, covariant=True, default=BaseModel)
U = TypeVar("U", bound=UnitOfWork, default=UnitOfWork)


@dataclass(frozen=True)
class Received(Generic[M]):
    """A consumed event: its envelope, its data validated against its type's model, its record."""

    envelope: Envelope
    data: M
    record: "ConsumerRecord[bytes, bytes]"


Handler = Callable[[U, Sequence[Received[M]]], Awaitable[None]]


class PoisonMessageError(Exception):
    """An event that can never be applied as it is (its data does not fit its type's schema)."""


class EventHandlers(Generic[U]):
    """The handler of each event type a consumer group acts on, given units of work ``U``."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}
        self._handlers: dict[str, Handler[U, Any]] = {}  # by type name

    def on(self, event_type: EventType[M], handler: Handler[U, M]) -> None:
        if event_type.name in self._types:
            raise ValueError(f"{event_type.name} already has a handler")
        self._types[event_type.name] = event_type
        self._handlers[event_type.name] = handler

    @property
    def types(self) -> frozenset[str]:
        """The names of the event types handled here (others are skipped)."""
        return frozenset(self._types)

    def receive(
        self, envelope: Envelope, record: "ConsumerRecord[bytes, bytes]"
    ) -> Received | None:
        """The event with its typed data, or None if its type has no handler here.

        Raises :class:`PoisonMessageError` if the data does not fit the model or the schema
        version is not the one understood here.
        """
        event_type = self._types.get(envelope.type)
        if event_type is None:
            return None
        try:
            data = event_type.parse(envelope)
        except ValueError as error:
            reason = describe_validation(error) if isinstance(error, ValidationError) else error
            raise PoisonMessageError(
                f"{envelope.type} v{envelope.schemaversion} event {envelope.id}: {reason}"
            ) from error
        return Received(envelope, data, record)

    async def dispatch(self, uow: U, events: Sequence[Received]) -> None:
        """Call each handler with each maximal run of consecutive events that go to it, in
        order (every event here came from :meth:`receive`, so its type has a handler)."""
        for handler, run in groupby(events, key=lambda event: self._handlers[event.envelope.type]):
            await handler(uow, list(run))
