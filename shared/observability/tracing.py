"""OpenTelemetry traces: one trace from a lender's request to every consumer, send and webhook.

- :func:`configure_tracing` gives the process its tracer provider (resource ``service.name``)
  once; export over OTLP/HTTP only when the service's ``OTLP_ENDPOINT`` setting is set (off by
  default: spans are made, so logs carry trace ids and contexts travel, but go nowhere).
  FastAPI server spans come from :func:`instrument_app`; httpx client spans (provider sends,
  webhooks) from the httpx instrumentation it switches on.
- The W3C context (``traceparent``, ``tracestate``) of the work that publishes an event is
  stored in its outbox row (:func:`carrier_for`), put in the Kafka record's headers by the
  relay (:func:`kafka_headers`) and taken out per event by the consumer kit
  (:func:`parent_of`, :func:`processing`).
- Consumers apply a batch at a time. :func:`processing` starts one ``process`` span per event,
  parented to that event's context, and maps the event's message key (``tenant/loan``) to its
  span while the handler runs: what the handler writes for a key (an outbox row, a planned
  notification, a webhook) carries the context of the event of that key
  (``shared/kafka/README.md`` explains why that is exact for batches).
"""

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
EXCLUDED_URLS = "healthz,readyz,metrics"  # probes and scrapes are no one's trace

tracer = trace.get_tracer("collections")  # a proxy until the provider is set
log = logging.getLogger(__name__)

Carrier = tuple[str, str | None]
"""A stored W3C context: ``traceparent`` and ``tracestate`` (None when empty)."""

# Message key (``tenant/subject``) -> the context of the event of that key being handled.
_causes: ContextVar[Mapping[str, Context] | None] = ContextVar("trace_causes", default=None)
_httpx_instrumented = False


def tracer_provider(service: str, otlp_endpoint: str = "") -> TracerProvider:
    """A provider whose spans name ``service``; exporting over OTLP/HTTP to
    ``<otlp_endpoint>/v1/traces`` if an endpoint is given, else exporting nothing."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(service: str, otlp_endpoint: str = "") -> None:
    """Give this process its tracer provider, unless it has one (a test's, or the first
    service's when several run in one process), and trace httpx clients."""
    global _httpx_instrumented
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(tracer_provider(service, otlp_endpoint))
    if not _httpx_instrumented:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument()
        _httpx_instrumented = True


def instrument_app(app: FastAPI, service: str, otlp_endpoint: str = "") -> None:
    """Server spans for every request of ``app`` (the caller's ``traceparent`` continued)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    configure_tracing(service, otlp_endpoint)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )


def _carrier(context: Context | None) -> Carrier | None:
    span = trace.get_current_span(context).get_span_context()
    if not span.is_valid:
        return None
    parent = f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}"
    return parent, span.trace_state.to_header() or None


def _context(traceparent: str, tracestate: str | None) -> Context | None:
    """The remote context a W3C ``traceparent`` (and ``tracestate``) names, or None if it is
    not a valid one (as :class:`TraceContextTextMapPropagator` reads it, without its cost)."""
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex, rest = match.groups()
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if version == "ff" or (version == "00" and rest) or not (trace_id and span_id):
        return None
    flags = int(flags_hex, 16)
    state = TraceState.from_header([tracestate]) if tracestate else None
    span = SpanContext(trace_id, span_id, True, TraceFlags(flags), state)
    return trace.set_span_in_context(trace.NonRecordingSpan(span))


def carrier_for(key: str | None = None) -> Carrier | None:
    """The context to store with work done now for message key ``key``: that of the event
    of ``key`` a consumer is handling, else the current one; None outside any trace."""
    causes = _causes.get()
    if causes is not None and key is not None:
        cause = causes.get(key)
        if cause is not None:
            return _carrier(cause)
    return _carrier(None)


def context_of(carrier: Carrier | None) -> Context | None:
    """The context a stored carrier names (None: none stored, a new trace begins)."""
    return None if carrier is None else _context(*carrier)


def kafka_headers(carrier: Carrier | None) -> list[tuple[str, bytes]]:
    """The Kafka record headers that carry a stored context."""
    if carrier is None:
        return []
    headers = [(TRACEPARENT, carrier[0].encode())]
    if carrier[1]:
        headers.append((TRACESTATE, carrier[1].encode()))
    return headers


def parent_of(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    """The context in a Kafka record's headers (None: it has none, or not a valid one)."""
    parent = state = None
    for name, value in headers or ():
        if name == TRACEPARENT:
            parent = value.decode("latin-1")
        elif name == TRACESTATE:
            state = value.decode("latin-1")
    return None if parent is None else _context(parent, state)


def trace_id_of(context: Context | None) -> int:
    """The trace id a context belongs to (0: none)."""
    if context is None:
        return 0
    return trace.get_current_span(context).get_span_context().trace_id


@dataclass(frozen=True, slots=True)
class Consumed:
    """What a ``process`` span of one consumed event is made of."""

    key: str  # the message key: tenant/subject
    parent: Context | None
    topic: str
    partition: int
    offset: int
    group: str
    event_id: UUID
    event_type: str

    def attributes(self) -> dict[str, str | int]:
        """The span's attributes (OpenTelemetry's messaging conventions, and CloudEvents')."""
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": self.topic,
            "messaging.destination.partition.id": str(self.partition),
            "messaging.kafka.offset": self.offset,
            "messaging.consumer.group.name": self.group,
            "messaging.message.id": str(self.event_id),
            "cloudevents.event_type": self.event_type,
        }


def exporting() -> bool:
    """Whether a span made now goes anywhere: the process's provider has a span processor
    (an OTLP exporter, or a test's in-memory one)."""
    provider = trace.get_tracer_provider()
    active = getattr(provider, "_active_span_processor", None)
    return bool(getattr(active, "_span_processors", ()))


@contextmanager
def processing(events: Sequence[Consumed]) -> Iterator[list[Span]]:
    """One ``process`` span per event, each parented to its event's context, open while a
    handler applies them; yields the spans (in order).

    While it is open, :func:`carrier_for` maps each event's key to its event's span. The
    current span is the events' own when they share one trace (a log line carries that trace
    id), else the caller's (the batch's, which links to every event).

    When spans go nowhere (export off), none is made: each key maps to its event's own
    context, which is all that is stored and logged then (the trace id travels on, at no cost
    per event).
    """
    if exporting():
        spans = [
            tracer.start_span(
                f"process {event.topic}",
                context=event.parent,
                kind=SpanKind.CONSUMER,
                attributes=event.attributes(),
            )
            for event in events
        ]
    else:
        spans = [trace.get_current_span(event.parent) for event in events]
    pairs = zip(events, spans, strict=True)
    causes = {event.key: trace.set_span_in_context(span) for event, span in pairs}
    token = _causes.set(causes)
    one_trace = len({span.get_span_context().trace_id for span in spans}) == 1
    try:
        if spans and one_trace and spans[-1].get_span_context().is_valid:
            with trace.use_span(spans[-1], end_on_exit=False):
                yield spans
        else:
            yield spans
    except BaseException as error:
        for span in spans:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        _causes.reset(token)
        for span in spans:
            span.end()


@contextmanager
def batch_span(group: str, parents: Sequence[Context | None]) -> Iterator[None]:
    """The span of a consumer's batch, linked to its events' traces (none when export is
    off)."""
    if not exporting():
        yield
        return
    with tracer.start_as_current_span(
        f"process batch {group}",
        links=links_to(parents),
        attributes={
            "messaging.system": "kafka",
            "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(parents),
        },
    ):
        yield


def links_to(parents: Sequence[Context | None]) -> list[Link]:
    """Links from a batch's span to the contexts of its events (one per trace)."""
    seen: dict[int, Link] = {}
    for parent in parents:
        context = trace.get_current_span(parent).get_span_context() if parent else None
        if context is not None and context.is_valid and context.trace_id not in seen:
            seen[context.trace_id] = Link(context)
    return list(seen.values())


@contextmanager
def continuing(
    carrier: Carrier | None, name: str, attributes: Mapping[str, str | int] | None = None
) -> Iterator[Span]:
    """A span continuing the trace of a stored context (a planned send, a webhook), current
    while the work it names is done."""
    with tracer.start_as_current_span(
        name, context=context_of(carrier), attributes=attributes
    ) as span:
        yield span


@contextmanager
def causes(carriers: Mapping[str, Carrier | None]) -> Iterator[None]:
    """Map message keys to stored contexts while work for them is done (the events a sender
    publishes about the notifications it sent). Each distinct carrier is read once: the keys
    of a batch request share its one."""
    contexts = {carrier: context_of(carrier) for carrier in set(carriers.values())}
    mapped = {key: c for key, carrier in carriers.items() if (c := contexts[carrier])}
    token = _causes.set(mapped)
    try:
        yield
    finally:
        _causes.reset(token)
