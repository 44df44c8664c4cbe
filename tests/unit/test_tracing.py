"""Traces without I/O: the context an outbox row keeps and the Kafka headers that carry it, the
per-event spans of a batch from several traces, the sends and webhooks that continue a stored
context, trace ids in log lines, and export off by default."""

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from uuid import uuid4

import httpx
import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags
from pydantic import BaseModel

import shared.db.unit_of_work as unit_of_work_module
from services.agency_gateway.adapters.webhook_poster import SignedWebhookPoster
from services.notifier.adapters.providers.base import OutgoingMessage, SendReceipt
from services.notifier.adapters.providers.dispatch import ChannelDispatcher, RateLimitedProvider
from services.notifier.adapters.rows import traced
from shared.crypto import KeyRing
from shared.db.unit_of_work import UnitOfWork
from shared.events.catalog import EventType
from shared.events.envelope import Envelope, message_key
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Received
from shared.kafka.outbox import OutboxRelay
from shared.logging import add_trace_ids
from shared.observability.tracing import (
    TRACEPARENT,
    TRACESTATE,
    carrier_for,
    causes,
    kafka_headers,
    parent_of,
    tracer,
    tracer_provider,
)
from shared.settings import ServiceSettings
from shared.vocabulary import Channel

TRACE_A = 0xA1 << 120 | 1
TRACE_B = 0xB2 << 120 | 2


class Step(BaseModel):
    seq: int


REPORT = EventType(name="t.report", version=1, topic=Topic.LOANS, model=Step, summary="r")
PAYMENT = EventType(name="t.payment", version=1, topic=Topic.LOANS, model=Step, summary="p")


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def remote(trace_id: int, span_id: int) -> trace.NonRecordingSpan:
    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(1))
    return trace.NonRecordingSpan(context)


def envelope(type_name: str, subject: str, seq: int = 0) -> Envelope:
    return Envelope(
        id=uuid4(),
        source="/tests",
        type=type_name,
        time=datetime.now(UTC),
        subject=subject,
        schemaversion=1,
        tenantid="lender-1",
        data={"seq": seq},
    )


def record(offset: int, headers: Sequence[tuple[str, bytes]]) -> "ConsumerRecord[bytes, bytes]":
    return ConsumerRecord("loans", 0, offset, 0, 0, b"k", b"", None, 6, 0, list(headers))


# --- the outbox row and the Kafka headers -------------------------------------------------


class _Transaction:
    is_active = True

    async def commit(self) -> None:
        self.is_active = False

    async def rollback(self) -> None:
        self.is_active = False


class _Session:
    async def begin(self) -> _Transaction:
        return _Transaction()

    async def close(self) -> None:
        return None


async def test_an_outbox_row_keeps_the_context_of_the_work_that_published_it(
    monkeypatch: pytest.MonkeyPatch, spans: InMemorySpanExporter
) -> None:
    rows: list[dict[str, Any]] = []

    async def insert_rows(_session: object, _table: object, given: list[dict[str, Any]]) -> None:
        rows.extend(given)

    monkeypatch.setattr(unit_of_work_module, "insert_rows", insert_rows)
    unit = UnitOfWork(cast(Any, _Session), topic_names=lambda topic: topic.value)
    async with unit as uow:
        with tracer.start_as_current_span("request") as request:
            uow.publish(envelope("collections.loan.overdue-reported", "loan-1"))
        uow.publish(envelope("collections.loan.overdue-reported", "loan-2"))  # outside any
        await uow.commit()  # after the request's span: the context was taken at publish

    context = request.get_span_context()
    assert rows[0]["traceparent"].split("-")[1:3] == [
        trace.format_trace_id(context.trace_id),
        trace.format_span_id(context.span_id),
    ]
    assert rows[1]["traceparent"] is None
    assert [row["tracestate"] for row in rows] == [None, None]


async def test_the_relay_puts_a_rows_context_in_the_kafka_headers_and_consumers_read_it() -> None:
    sent: list[list[tuple[str, bytes]]] = []

    class Batch:
        def append(self, *, key: bytes, value: bytes, timestamp: None, headers: Any) -> object:
            sent.append(headers)
            return object()

    class Producer:
        async def partitions_for(self, topic: str) -> set[int]:
            return {0}

        def create_batch(self) -> Batch:
            return Batch()

        async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

    parent = traceparent(TRACE_A, 7)
    rows = [
        SimpleNamespace(
            id=1, topic="t", message_key="k", payload=b"v", traceparent=parent, tracestate="v=1"
        ),
        SimpleNamespace(
            id=2, topic="t", message_key="k", payload=b"v", traceparent=None, tracestate=None
        ),
    ]
    relay = OutboxRelay(cast(Any, None), cast(Any, Producer()))
    await relay._publish_rows(cast(Any, rows))

    with_context, without = sent
    assert dict(with_context)[TRACEPARENT] == parent.encode()
    assert dict(with_context)[TRACESTATE] == b"v=1"
    assert "content-type" in dict(with_context)
    assert [name for name, _ in without] == ["content-type"]
    extracted = trace.get_current_span(parent_of(with_context)).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (TRACE_A, 7)
    assert extracted.trace_state.get("v") == "1"
    assert parent_of(without) is None


def test_headers_round_trip_the_current_context() -> None:
    with trace.use_span(remote(TRACE_B, 9)):
        carrier = carrier_for()
    assert carrier == (traceparent(TRACE_B, 9), None)
    headers = kafka_headers(carrier)
    assert headers == [(TRACEPARENT, traceparent(TRACE_B, 9).encode())]
    context = trace.get_current_span(parent_of(headers)).get_span_context()
    assert (context.trace_id, context.span_id) == (TRACE_B, 9)
    assert carrier_for() is None  # outside any trace: nothing stored
    assert kafka_headers(None) == []
    assert parent_of([(TRACEPARENT, b"garbage")]) is None


# --- a batch of events from several traces ------------------------------------------------


async def test_each_event_of_a_batch_is_processed_in_a_span_of_its_own_trace(
    spans: InMemorySpanExporter,
) -> None:
    """Loan 1 reported in trace A, loan 2 in trace B, then loan 1 paid in trace B: each event's
    span is a child of its event's context, and what the handler writes for a loan carries the
    context of that loan's event (a run is cut where loan 1 comes back from trace B)."""
    stored: list[list[tuple[str, str | None]]] = []

    async def handle(_uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        stored.append(
            [
                (event.envelope.subject, (carrier_for(event.envelope.key) or ("", None))[0])
                for event in events
            ]
        )

    handlers = EventHandlers()
    handlers.on(REPORT, handle)
    handlers.on(PAYMENT, handle)
    batch = [
        (REPORT, "loan-1", traceparent(TRACE_A, 11)),
        (REPORT, "loan-2", traceparent(TRACE_B, 22)),
        (PAYMENT, "loan-1", traceparent(TRACE_B, 33)),
    ]
    events = []
    for offset, (event_type, subject, parent) in enumerate(batch):
        event = handlers.receive(
            envelope(event_type.name, subject, offset),
            record(offset, [(TRACEPARENT, parent.encode())]),
        )
        assert event is not None
        events.append(event)

    await handlers.dispatch(cast(UnitOfWork, object()), events, group="notifier")

    processed = {
        span.attributes["messaging.message.id"]: span
        for span in spans.get_finished_spans()
        if span.attributes and "messaging.message.id" in span.attributes
    }
    expected = [(TRACE_A, 11), (TRACE_B, 22), (TRACE_B, 33)]
    for event, (trace_id, parent_span) in zip(events, expected, strict=True):
        span: ReadableSpan = processed[str(event.envelope.id)]
        assert span.context is not None
        assert span.context.trace_id == trace_id
        assert span.parent is not None
        assert span.parent.span_id == parent_span
        assert span.attributes is not None
        assert span.attributes["messaging.consumer.group.name"] == "notifier"
    ids = {str(e.envelope.id): processed[str(e.envelope.id)].context for e in events}
    first, second, third = (ids[str(e.envelope.id)] for e in events)
    assert stored == [
        # one call for the two reports (two loans), each written with its own event's span
        [
            ("loan-1", traceparent(first.trace_id, first.span_id)),
            ("loan-2", traceparent(second.trace_id, second.span_id)),
        ],
        # loan 1 came back from another trace: a call of its own
        [("loan-1", traceparent(third.trace_id, third.span_id))],
    ]


async def test_a_batch_of_one_trace_stays_one_call_with_that_trace_current() -> None:
    seen: list[int] = []

    async def handle(_uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    handlers = EventHandlers()
    handlers.on(REPORT, handle)
    handlers.on(PAYMENT, handle)
    headers = [(TRACEPARENT, traceparent(TRACE_A, 5).encode())]
    events = [
        handlers.receive(envelope(t.name, "loan-1", i), record(i, headers))
        for i, t in enumerate((REPORT, PAYMENT, PAYMENT))
    ]
    await handlers.dispatch(cast(UnitOfWork, object()), [e for e in events if e], group="g")
    assert seen == [TRACE_A]  # one call for the three events of one loan and one trace


# --- later work continuing a stored context -----------------------------------------------


def test_a_planned_notification_keeps_the_context_of_its_loans_event() -> None:
    row = {"lender_id": "lender-1", "loan_id": "loan-1", "traceparent": None, "tracestate": None}
    stored = {message_key("lender-1", "loan-1"): (traceparent(TRACE_A, 3), "s=1")}
    with causes(stored):
        assert traced(dict(row))["traceparent"] == traceparent(TRACE_A, 3)
        assert traced(dict(row))["tracestate"] == "s=1"
    kept = {**row, "traceparent": traceparent(TRACE_B, 4)}
    assert traced(dict(kept))["traceparent"] == traceparent(TRACE_B, 4)


async def test_a_send_continues_the_trace_that_planned_it(spans: InMemorySpanExporter) -> None:
    class Provider:
        name, channel = "twilio", Channel.SMS

        async def send(self, message: OutgoingMessage) -> SendReceipt:
            current = trace.get_current_span().get_span_context()
            assert current.trace_id == TRACE_A  # the provider's request is inside the send
            return SendReceipt("twilio", "SM1", datetime.now(UTC))

    from aiolimiter import AsyncLimiter

    dispatcher = ChannelDispatcher(
        Channel.SMS, [RateLimitedProvider(cast(Any, Provider()), AsyncLimiter(100, 1))]
    )
    message = OutgoingMessage(
        Channel.SMS, "+8613800138000", None, "hi", "n-1", traceparent=traceparent(TRACE_A, 8)
    )
    await dispatcher.send(message)
    (send,) = [s for s in spans.get_finished_spans() if s.name == "send sms"]
    assert send.parent is not None
    assert (send.parent.trace_id, send.parent.span_id) == (TRACE_A, 8)


async def test_a_webhook_post_continues_the_trace_of_the_event_it_announces(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(trace.format_trace_id(trace.get_current_span().get_span_context().trace_id))
        return httpx.Response(200)

    monkeypatch.setattr(
        "services.agency_gateway.adapters.webhook_poster.SECRET",
        SimpleNamespace(open=lambda _ring, _agency: b"whsec_" + b"A" * 32),
    )
    poster = SignedWebhookPoster(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)), cast(KeyRing, None)
    )
    delivery = {
        "delivery_id": "wh-1",
        "event": "assignment.placed",
        "body": {"a": 1},
        "agency": {"webhook_url": "http://agency.test/hook"},
        "traceparent": traceparent(TRACE_B, 6),
        "tracestate": None,
    }
    assert await poster.post(delivery) == (200, None)
    (post,) = [s for s in spans.get_finished_spans() if s.name == "webhook assignment.placed"]
    assert post.parent is not None
    assert (post.parent.trace_id, post.parent.span_id) == (TRACE_B, 6)
    assert seen == [f"{TRACE_B:032x}"]


# --- logs and export ----------------------------------------------------------------------


def test_a_log_line_carries_the_current_trace_and_span_ids() -> None:
    with trace.use_span(remote(TRACE_A, 0xBEEF)):
        line = add_trace_ids(None, "info", {"event": "x"})
    assert line == {"event": "x", "trace_id": f"{TRACE_A:032x}", "span_id": f"{0xBEEF:016x}"}
    assert add_trace_ids(None, "info", {"event": "y"}) == {"event": "y"}


def test_export_is_off_by_default_and_goes_to_the_otlp_endpoint_when_set() -> None:
    assert ServiceSettings().otlp_endpoint == ""
    quiet = tracer_provider("notifier")
    assert quiet.resource.attributes["service.name"] == "notifier"
    assert quiet._active_span_processor._span_processors == ()  # no exporter at all
    exporting = tracer_provider("notifier", "http://collector:4318/")
    (processor,) = exporting._active_span_processor._span_processors
    assert isinstance(processor, BatchSpanProcessor)
    exporter = processor._batch_processor._exporter
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector:4318/v1/traces"
    exporting.shutdown()


# --- intake's group commit ----------------------------------------------------------------


async def test_requests_committed_together_keep_their_own_traces() -> None:
    """Two lenders' requests, two traces, one group commit: each loan's event carries the
    context of the request that reported it, not that of the task that ran the group."""
    from services.intake.application.command_bus import CommandBus, Reply, Submission
    from services.intake.application.handlers import IntakeHandlers
    from services.intake.application.sealing import Sealing
    from services.intake.domain.commands import ReportOverdueLoans
    from shared.crypto import Pseudonymizer
    from tests.support.factories import overdue_report
    from tests.unit.intake.fakes import Database, FakeUnitOfWork

    stored: dict[str, str | None] = {}

    class TracingUnitOfWork(FakeUnitOfWork):
        def publish(self, envelope: Envelope) -> None:  # as the kit's unit of work does
            stored[envelope.subject] = (carrier_for(envelope.key) or ("", None))[0]
            super().publish(envelope)

    db = Database()
    sealing = Sealing(
        storage=KeyRing.parse(KeyRing.generate_spec("k1")),
        transit=KeyRing.parse(KeyRing.generate_spec("t1")),
        pseudonyms=Pseudonymizer(b"a pseudonym key of the tests"),
    )
    bus = CommandBus(lambda: TracingUnitOfWork(db), IntakeHandlers(sealing), linger=0)

    async def report_in(trace_id: int, loan_id: str) -> None:
        command = ReportOverdueLoans((overdue_report(loan_id),))
        with trace.use_span(remote(trace_id, 1)):
            await bus.submit(Submission("lender-1", command, lambda _: Reply(202, {})))

    await asyncio.gather(report_in(TRACE_A, "L-A"), report_in(TRACE_B, "L-B"))
    assert db.commits == 1  # one group
    assert stored == {"L-A": traceparent(TRACE_A, 1), "L-B": traceparent(TRACE_B, 1)}


async def test_a_webhook_delivery_owed_for_an_event_keeps_that_events_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.agency_gateway.adapters import webhooks
    from services.agency_gateway.domain.webhooks import announced

    rows: list[dict[str, Any]] = []

    async def insert_rows(_session: object, _table: object, given: list[dict[str, Any]]) -> None:
        rows.extend(given)

    class Session:
        async def execute(self, _statement: object) -> Any:
            return SimpleNamespace(scalars=lambda: ["agency-1"])  # it has a webhook URL

    monkeypatch.setattr(webhooks, "insert_rows", insert_rows)
    placed = envelope("collections.assignment.placed", "loan-1").model_copy(
        update={"data": {"agency_id": "agency-1", "assignment_id": "as-1", "loan_id": "loan-1"}}
    )
    assert announced(placed) == "assignment.placed"
    with causes({placed.key: (traceparent(TRACE_A, 12), None)}):
        await webhooks.DeliveryLog(cast(Any, Session())).owe_for([placed], datetime.now(UTC))
    (row,) = rows
    assert (row["traceparent"], row["tracestate"]) == (traceparent(TRACE_A, 12), None)


async def test_with_export_off_no_span_is_made_and_each_key_keeps_its_events_context(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to export: the per-event spans are skipped (their cost too), and what a handler
    writes for a loan still carries its event's trace (the event's own context)."""
    import shared.observability.tracing as tracing

    monkeypatch.setattr(tracing, "exporting", lambda: False)
    stored: list[str | None] = []
    current: list[int] = []

    async def handle(_uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        stored.extend((carrier_for(e.envelope.key) or ("", None))[0] for e in events)
        current.append(trace.get_current_span().get_span_context().trace_id)

    handlers = EventHandlers()
    handlers.on(REPORT, handle)
    events = [
        handlers.receive(
            envelope(REPORT.name, f"loan-{n}", n),
            record(n, [(TRACEPARENT, traceparent(TRACE_A, 40 + n).encode())]),
        )
        for n in range(2)
    ]
    await handlers.dispatch(cast(UnitOfWork, object()), [e for e in events if e], group="g")
    assert stored == [traceparent(TRACE_A, 40), traceparent(TRACE_A, 41)]
    assert current == [TRACE_A]  # a log line in the handler carries the trace id
    assert spans.get_finished_spans() == ()


def test_the_borrowers_site_is_not_traced_because_its_urls_are_bearer_credentials() -> None:
    """A server span records the request's URL: at the borrowers' site it holds the link token,
    which must never leave the process (a span exported to a collector would carry it)."""
    from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options
    from tests.support.fake_borrower_desk import FakeBorrowerDesk
    from tests.unit.intake.borrower_site_support import borrower_app

    intake = next(service for service in SERVICES if service.name == "intake")
    options = service_options(intake, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate())
    assert getattr(build_app("intake", options), "_is_instrumented_by_opentelemetry", False)
    site = borrower_app(FakeBorrowerDesk())
    assert not getattr(site, "_is_instrumented_by_opentelemetry", False)
