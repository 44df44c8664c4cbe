"""The platform's Prometheus metrics (every name starts with ``collections_``) and the calls
that record them. The middleware timing HTTP requests and the ``/metrics`` route every service
serves to operators are ``shared/http/metrics.py``'s.

Each fact is counted where it happens, a batch at a time: the consumer runner counts the events
of a batch once it committed, the unit of work counts the events it committed to the outbox
(notifications, placements, violations are read off them: no query feeds a counter), the
notifier's dispatcher times each provider call, the gateway's webhook worker counts its
attempts. Gauges of stored state (the outbox's backlog, the audit log's size and checkpoint) are
read when Prometheus scrapes, one cheap query each (``on_scrape``).

Metrics live in the process's default registry: each service runs in its own process, and a
process serves what it counted (a test platform running four services in one process serves
them all on each ``/metrics``; the ``service`` and ``group`` labels tell them apart).
"""

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_EXPIRED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    NOTIFICATION_EVENTS,
    VIOLATION_FOUND,
    VIOLATION_RETRACTED,
)
from shared.events.envelope import Envelope

NONE = "none"  # the rule label of a notification no rule refused

HTTP_REQUESTS = Counter(
    "collections_http_requests",
    "HTTP requests answered, by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "collections_http_request_duration_seconds",
    "Time to answer an HTTP request, by service, method and route template.",
    ["service", "method", "route"],
)
CONSUMER_LAG = Gauge(
    "collections_consumer_lag",
    "Messages of a partition not yet consumed by the group (end offset minus position).",
    ["group", "topic", "partition"],
)
CONSUMER_EVENTS = Counter(
    "collections_consumer_events",
    "Events a consumer group took, by type and outcome "
    "(applied, duplicate, skipped: no handler, dead_lettered).",
    ["group", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "collections_dead_letters",
    "Messages sent to a group's dead-letter topic, by group and reason "
    "(the error's type, or 'not a valid event envelope').",
    ["group", "reason"],
)
EVENTS_PUBLISHED = Counter(
    "collections_events_published",
    "Events committed to the outbox (published with their state change), by source and type.",
    ["source", "type"],
)
OUTBOX_BACKLOG = Gauge(
    "collections_outbox_backlog",
    "Outbox rows not yet published (parked rows apart), read at scrape time.",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "collections_outbox_parked",
    "Outbox rows Kafka refused for good, waiting for an operator, read at scrape time.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "collections_outbox_oldest_age_seconds",
    "Age of the oldest unpublished, unparked outbox row (0 when there is none).",
    ["service"],
)
NOTIFICATIONS = Counter(
    "collections_notifications",
    "Notification state changes, by status, channel and rule (a suppression counts once per "
    "rule that refused it; 'none' otherwise).",
    ["status", "channel", "rule"],
)
PROVIDER_SENDS = Counter(
    "collections_provider_sends",
    "Calls to a provider to send a message, by provider, channel and outcome (sent, error).",
    ["provider", "channel", "outcome"],
)
PROVIDER_ERRORS = Counter(
    "collections_provider_errors",
    "Failed provider calls, by kind (retriable, refused, ambiguous: the outcome is unknown, "
    "unexpected).",
    ["provider", "channel", "kind"],
)
PROVIDER_DURATION = Histogram(
    "collections_provider_send_duration_seconds",
    "Time a provider took to answer a send, by provider and channel.",
    ["provider", "channel"],
)
PLACEMENTS = Counter(
    "collections_placements",
    "Loans placed with an agency, by agency.",
    ["agency"],
)
PLACEMENT_ENDS = Counter(
    "collections_placement_ends",
    "Placements ended, by how (recalled, returned, expired) and reason "
    "(an expired acknowledgement lease is expired/ack_lease_lapsed).",
    ["how", "reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "collections_webhook_deliveries",
    "Webhook delivery attempts to agencies, by outcome (delivered, retrying, given_up).",
    ["outcome"],
)
VIOLATIONS = Counter(
    "collections_violations",
    "Violations found, by rule and party ('lender' or 'agency:<id>').",
    ["rule", "party"],
)
VIOLATIONS_RETRACTED = Counter(
    "collections_violations_retracted",
    "Violations retracted by a later judgement, by rule and party.",
    ["rule", "party"],
)
AUDIT_TREE_SIZE = Gauge(
    "collections_audit_tree_size",
    "Entries in the audit log's Merkle tree, read at scrape time.",
)
AUDIT_CHECKPOINT_AGE = Gauge(
    "collections_audit_checkpoint_age_seconds",
    "Seconds since the newest signed checkpoint of the audit log, read at scrape time.",
)

# ---------------------------------------------------------------------------------------------
# Consumers


def observe_consumer_lag(group: str, lags: Mapping[Any, int]) -> None:
    """Set the lag of each (topic, partition) of the group (``TopicPartition`` keys)."""
    for tp, lag in lags.items():
        CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)


def forget_partitions(group: str, partitions: Iterable[Any]) -> None:
    """The group gave these partitions away: another member reports their lag now."""
    for tp in partitions:
        try:
            CONSUMER_LAG.remove(group, tp.topic, str(tp.partition))
        except KeyError:
            continue


def count_consumed(group: str, outcome: str, types: Iterable[str]) -> None:
    """Count a committed batch's events of one outcome."""
    for event_type, count in Tally(types).items():
        CONSUMER_EVENTS.labels(group, event_type, outcome).inc(count)


def reason_label(reason: str) -> str:
    """A dead letter's reason as a label: what precedes its first colon (the error's type,
    or 'not a valid event envelope'), so the label takes few values."""
    return reason.split(":", 1)[0].strip()[:80] or "unknown"


def count_dead_letters(group: str, reasons: Iterable[str]) -> None:
    for reason, count in Tally(reason_label(r) for r in reasons).items():
        DEAD_LETTERS.labels(group, reason).inc(count)


# ---------------------------------------------------------------------------------------------
# Facts read off the events a unit of work committed

_NOTIFICATION_TYPES = {event.name for event in NOTIFICATION_EVENTS.values()} | {
    AGENCY_NOTICE_SENT.name
}
_ENDS = {
    ASSIGNMENT_RECALLED.name: "recalled",
    ASSIGNMENT_RETURNED.name: "returned",
    ASSIGNMENT_EXPIRED.name: "expired",
}


def count_committed(events: Sequence[Envelope]) -> None:
    """Count the events one transaction committed to the outbox, and the facts they carry:
    notifications by status and rule, placements and their ends, violations."""
    for (source, event_type), count in Tally((e.source, e.type) for e in events).items():
        EVENTS_PUBLISHED.labels(source, event_type).inc(count)
    for event in events:
        data = event.data
        if event.type in _NOTIFICATION_TYPES:
            rules = data.get("rule_ids") or [NONE]
            for rule in rules:
                NOTIFICATIONS.labels(str(data.get("status")), str(data.get("channel")), rule).inc()
        elif event.type == ASSIGNMENT_PLACED.name:
            PLACEMENTS.labels(str(data.get("agency_id"))).inc()
        elif event.type in _ENDS:
            PLACEMENT_ENDS.labels(_ENDS[event.type], str(data.get("reason"))).inc()
        elif event.type == VIOLATION_FOUND.name:
            VIOLATIONS.labels(str(data.get("rule_id")), str(data.get("party"))).inc()
        elif event.type == VIOLATION_RETRACTED.name:
            VIOLATIONS_RETRACTED.labels(str(data.get("rule_id")), str(data.get("party"))).inc()


# ---------------------------------------------------------------------------------------------
# Providers, webhooks, stored state


@contextmanager
def provider_send(
    provider: str, channel: str, failure_kind: Callable[[Exception], str]
) -> Iterator[None]:
    """Time one provider call and count its outcome (``failure_kind`` names a failure)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        PROVIDER_SENDS.labels(provider, channel, "error").inc()
        PROVIDER_ERRORS.labels(provider, channel, failure_kind(error)).inc()
        raise
    else:
        PROVIDER_SENDS.labels(provider, channel, "sent").inc()
    finally:
        PROVIDER_DURATION.labels(provider, channel).observe(time.perf_counter() - started)


def count_webhook_deliveries(outcomes: Iterable[str]) -> None:
    for outcome, count in Tally(outcomes).items():
        WEBHOOK_DELIVERIES.labels(outcome).inc(count)


def set_outbox_state(service: str, backlog: int, parked: int, oldest_age_seconds: float) -> None:
    OUTBOX_BACKLOG.labels(service).set(backlog)
    OUTBOX_PARKED.labels(service).set(parked)
    OUTBOX_OLDEST_AGE.labels(service).set(oldest_age_seconds)


def set_audit_state(tree_size: int, checkpoint_age_seconds: float | None) -> None:
    AUDIT_TREE_SIZE.set(tree_size)
    if checkpoint_age_seconds is not None:
        AUDIT_CHECKPOINT_AGE.set(checkpoint_age_seconds)


def exported_names() -> set[str]:
    """Every sample name the platform's metrics export (``_total``, ``_bucket``... included)."""
    names: set[str] = set()
    for metric in [m for m in globals().values() if isinstance(m, MetricWrapperBase)]:
        for family in metric.describe():
            suffixes = {
                "counter": ("_total", "_created"),
                "histogram": ("_bucket", "_count", "_sum", "_created"),
                "gauge": ("",),
            }[family.type]
            names.update(family.name + suffix for suffix in suffixes)
    return names
