"""Typed event handlers: what reaches which handler, in which runs, and what is poison."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from pydantic import BaseModel

from shared.db.unit_of_work import UnitOfWork
from shared.events.catalog import EventType
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Handler, PoisonMessageError, Received


class Step(BaseModel):
    seq: int


REPORT = EventType(name="t.report", version=1, topic=Topic.LOANS, model=Step, summary="r")
PAYMENT = EventType(name="t.payment", version=1, topic=Topic.LOANS, model=Step, summary="p")
HOLD = EventType(name="t.hold", version=1, topic=Topic.LOANS, model=Step, summary="h")
UOW = cast(UnitOfWork, object())  # the handlers below never touch it


def envelope(type_name: str, data: dict[str, Any], version: int = 1) -> Envelope:
    return Envelope(
        id=uuid4(),
        source="/tests",
        type=type_name,
        time=datetime.now(UTC),
        subject="loan-1",
        schemaversion=version,
        tenantid="lender-1",
        data=data,
    )


def record(offset: int) -> "ConsumerRecord[bytes, bytes]":
    return ConsumerRecord("topic", 0, offset, 0, 0, b"loan-1", b"", None, 6, 0, [])


def received(handlers: EventHandlers, *types: EventType) -> list[Received]:
    events = []
    for offset, event_type in enumerate(types):
        event = handlers.receive(envelope(event_type.name, {"seq": offset}), record(offset))
        assert event is not None
        events.append(event)
    return events


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, list[int]]] = []

    def handler(self, name: str) -> Handler[UnitOfWork, Step]:
        async def handle(_uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
            self.made.append((name, [event.data.seq for event in events]))

        return handle


async def test_each_run_of_consecutive_events_goes_to_its_handler_in_order() -> None:
    calls = Calls()
    handlers = EventHandlers()
    handlers.on(REPORT, calls.handler("report"))
    handlers.on(PAYMENT, calls.handler("payment"))

    events = received(handlers, REPORT, REPORT, PAYMENT, REPORT, PAYMENT, PAYMENT)
    await handlers.dispatch(UOW, events)

    assert calls.made == [
        ("report", [0, 1]),
        ("payment", [2]),
        ("report", [3]),
        ("payment", [4, 5]),
    ]


async def test_a_handler_of_several_types_gets_their_consecutive_events_in_one_call() -> None:
    calls = Calls()
    handlers = EventHandlers()
    every = calls.handler("every")
    handlers.on(REPORT, every)
    handlers.on(PAYMENT, every)
    handlers.on(HOLD, calls.handler("hold"))

    await handlers.dispatch(UOW, received(handlers, REPORT, PAYMENT, REPORT, HOLD, PAYMENT))

    assert calls.made == [("every", [0, 1, 2]), ("hold", [3]), ("every", [4])]


async def test_nothing_to_dispatch_calls_nothing() -> None:
    calls = Calls()
    handlers = EventHandlers()
    handlers.on(REPORT, calls.handler("report"))
    await handlers.dispatch(UOW, [])
    assert calls.made == []


def test_received_events_carry_their_typed_data_and_record() -> None:
    handlers = EventHandlers()
    handlers.on(REPORT, Calls().handler("report"))
    sent = envelope(REPORT.name, {"seq": 7})

    event = handlers.receive(sent, record(42))

    assert event is not None
    assert event.envelope == sent
    assert event.data == Step(seq=7)
    assert (event.record.topic, event.record.offset) == ("topic", 42)


def test_a_type_without_a_handler_is_not_received() -> None:
    handlers = EventHandlers()
    handlers.on(REPORT, Calls().handler("report"))
    assert handlers.receive(envelope(PAYMENT.name, {"seq": 1}), record(0)) is None


@pytest.mark.parametrize(
    ("data", "version", "reason"),
    [
        ({"seq": "seven"}, 1, "seq"),
        ({}, 1, "seq"),
        ({"seq": 7}, 2, "t.report v2 is not understood here"),
    ],
)
def test_data_that_does_not_fit_or_an_unknown_version_is_poison(
    data: dict[str, Any], version: int, reason: str
) -> None:
    handlers = EventHandlers()
    handlers.on(REPORT, Calls().handler("report"))
    sent = envelope(REPORT.name, data, version)

    with pytest.raises(PoisonMessageError) as raised:
        handlers.receive(sent, record(0))

    assert str(raised.value).startswith(f"t.report v{version} event {sent.id}: ")
    assert reason in str(raised.value)


def test_a_type_has_one_handler() -> None:
    handlers = EventHandlers()
    handlers.on(REPORT, Calls().handler("first"))
    with pytest.raises(ValueError, match=r"t\.report already has a handler"):
        handlers.on(REPORT, Calls().handler("second"))
