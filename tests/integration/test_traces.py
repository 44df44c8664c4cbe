"""One trace from a lender's report to every consumer and to the borrower's phone.

The four services run in this process on real Kafka and PostgreSQL (``tests/harness.py``), the
notifier sending through the local providers; their spans go to the SDK's in-memory exporter.
The lender's request carries its own W3C ``traceparent``: the report's outbox row keeps it, the
relay puts it in the Kafka headers, and the notifier, the gateway and compliance each process
the event in a span of that trace; the reminder the notifier planned is sent, later, by its
sender in a span of that trace too, around the provider's HTTP request; a consumer's log line
about the event carries the trace id. The event the sender publishes about the send, and
each consumer's batch span (by a link), belong to that trace too.
"""

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from shared.logging import configure_logging
from tests.harness import RunningPlatform, eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import daytime_zone
from tests.support.factories import report

pytestmark = pytest.mark.integration

TRACE_ID = uuid4().int & ((1 << 128) - 1) or 1
LENDER_SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{LENDER_SPAN_ID:016x}-01"
CONSUMERS = ("notifier", "agency-gateway", "compliance")
REPORTED = "collections.loan.overdue-reported"
SENT = "collections.notification.sent"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends, whichever tracer provider it has (this test's, or the one
    the first service of the session set)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    exporter.clear()
    processor.shutdown()  # an exporter shut down exports nothing more


@pytest.fixture(scope="module")
async def platform(
    infrastructure: TestInfrastructure, spans: InMemorySpanExporter
) -> AsyncIterator[RunningPlatform]:
    async with running_platform(infrastructure) as running:
        yield running


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """Logging as a service sets it up (JSON lines on its stdout, here a buffer), with the
    consumer kit's per-event line switched on; the session's logging comes back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    kit = logging.getLogger("shared.kafka.handlers")
    kit_level = kit.level
    quieted = {name: logging.getLogger(name).level for name in ("aiokafka", "kafka")}
    configuration = structlog.get_config()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        configure_logging("tests", level="INFO", json=True)
    kit.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        kit.setLevel(kit_level)
        for name, quiet_level in quieted.items():
            logging.getLogger(name).setLevel(quiet_level)
        structlog.configure(**configuration)
        structlog.contextvars.clear_contextvars()


def of_the_trace(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.context is not None and span.context.trace_id == TRACE_ID
    ]


def processed_by(spans: list[ReadableSpan], group: str) -> list[ReadableSpan]:
    return [
        span
        for span in spans
        if span.name.startswith("process ")
        and str((span.attributes or {}).get("messaging.consumer.group.name", "")).endswith(group)
    ]


async def make_due(platform: RunningPlatform, loan_id: str) -> None:
    """Time passes: the loan's first reminder is due now."""
    async with platform.runtime("notifier").sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE notifications SET due_at = now() "
                "WHERE loan_id = :loan AND status = 'scheduled' AND step = 1"
            ),
            {"loan": loan_id},
        )


def lender_report(loan_id: str) -> dict[str, Any]:
    """A loan a day overdue, in a zone where it is early afternoon (no quiet hours)."""
    zone = daytime_zone()
    local_now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    body = report(
        loan_id,
        due_date=(local_now.date() - timedelta(days=1)).isoformat(),
        days_past_due=1,
        as_of=local_now.isoformat(),
    )
    body["borrower"] = {
        **body["borrower"],
        "id": f"B-{uuid4().hex[:10]}",
        "phone": f"+86139{uuid4().int % 10**8:08d}",
        "timezone": zone,
    }
    return body


async def test_one_report_is_one_trace_through_every_consumer_to_the_provider(
    platform: RunningPlatform, spans: InMemorySpanExporter, service_log: io.StringIO
) -> None:
    loan_id = f"L-{uuid4().hex[:12]}"
    answer = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=lender_report(loan_id),
        headers={**platform.as_lender(), "traceparent": TRACEPARENT},
    )
    assert answer.status_code == 202, answer.text

    async def consumed_by_all() -> list[ReadableSpan] | None:
        found = of_the_trace(spans)
        return found if all(processed_by(found, group) for group in CONSUMERS) else None

    await eventually(consumed_by_all, within=60)
    await make_due(platform, loan_id)

    async def sent() -> list[ReadableSpan] | None:
        found = of_the_trace(spans)
        told = [
            s
            for s in processed_by(found, "compliance")
            if (s.attributes or {}).get("cloudevents.event_type") == SENT
        ]
        return found if told and any(span.name == "send sms" for span in found) else None

    found = await eventually(sent, within=60)

    # The lender's request: intake's server span continues the lender's own context.
    (request,) = [
        s for s in found if s.kind is SpanKind.SERVER and s.name.startswith("POST /v1/overdue")
    ]
    assert request.parent is not None
    assert request.parent.span_id == LENDER_SPAN_ID
    # Every consumer processed the report in a span whose parent is that request (the
    # context stored in the outbox row and carried in the Kafka headers).
    for group in CONSUMERS:
        report_spans = [
            s
            for s in processed_by(found, group)
            if (s.attributes or {}).get("cloudevents.event_type") == REPORTED
        ]
        assert report_spans, group
        assert all(s.parent and s.parent.span_id == request.context.span_id for s in report_spans)
    # What the notifier published while handling it continues the trace: compliance processed
    # those events in spans whose parents are the notifier's.
    notifier_ids = {s.context.span_id for s in processed_by(found, "notifier")}
    assert any(
        s.parent is not None and s.parent.span_id in notifier_ids
        for s in processed_by(found, "compliance")
    )
    # The send, later, by the sender: a child of the notifier's processing, around the
    # provider's HTTP request (a client span of the trace, child of the send).
    (send,) = [s for s in found if s.name == "send sms"]
    assert send.parent is not None
    assert send.parent.span_id in notifier_ids
    assert any(
        s.kind is SpanKind.CLIENT
        and s.parent is not None
        and s.parent.span_id == send.context.span_id
        for s in found
    )
    # The sender's event about the send continues the trace (compliance audits it in it).
    (told,) = [
        s
        for s in processed_by(found, "compliance")
        if (s.attributes or {}).get("cloudevents.event_type") == SENT
    ]
    assert told.parent is not None
    assert told.parent.span_id in notifier_ids
    # Each consumer's batch span links to the trace of the events it applied.
    batches = [s for s in spans.get_finished_spans() if s.name.startswith("process batch ")]
    for group in CONSUMERS:
        assert any(
            s.name.endswith(group) and any(link.context.trace_id == TRACE_ID for link in s.links)
            for s in batches
        ), group
    # A consumer's log line about the event carries the trace id.
    lines = [
        json.loads(line) for line in service_log.getvalue().splitlines() if line.startswith("{")
    ]
    handled = [
        line
        for line in lines
        if line.get("event") == "event handled"
        and line.get("type") == REPORTED
        and str(line.get("group", "")).endswith("notifier")
    ]
    assert handled
    assert all(line["trace_id"] == f"{TRACE_ID:032x}" for line in handled)
