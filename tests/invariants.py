"""The invariant checker of the fault suite: what must hold after any run, however it was
disturbed, read from each service's database and the local providers' journal.

:func:`check` is pure (a :class:`Snapshot` in, :class:`Findings` out: the counts it saw and
every violation by invariant), so it is unit-tested on small fixtures; :func:`read_snapshot`
fills a snapshot from a running platform's databases, journal and dead-letter topics.

The invariants:

- ``outbox_drained``: every event a service committed was published (no outbox row left).
  What a service committed is read from its ``outbox_witness`` (:mod:`tests.outbox_witness`:
  a copy of each row written, since the relay deletes the rows it publishes).
- ``inbox_exactly_once``: every published event of a consumer's topics and types is in its
  inbox once, applied (not rejected); none it applied came from nowhere.
- ``audit_once``: the audit log holds every audited event exactly once, nothing else but
  compliance's own events, and its signed tree verifies.
- ``no_double_delivery``: the journal (what providers accepted) holds at most one message
  per notification, each naming a notification the notifier has.
- ``sent_is_witnessed``: a notification recorded ``sent``/``delivered`` has its message.
- ``no_send_after_stop``: no message was accepted later than ``send_margin`` after the
  notifier recorded the stop that cancelled its notification or the borrower's STOP reply on
  its channel (the margin bounds how long a send that began before the stop can take).
- ``dead_letters_are_the_poison``: each group's dead-letter topic holds exactly the poison
  messages, once each, each with a reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.kafka.connection import KafkaTarget
from shared.kafka.dead_letters import read_dead_letters

SENT_STATUSES = frozenset({"sent", "delivered"})


@dataclass(frozen=True)
class Published:
    """An event a service committed to its outbox."""

    event_id: UUID
    topic: str
    type: str
    publisher: str


@dataclass(frozen=True)
class ConsumerStore:
    """One consumer group's inbox: event id -> rejected (dead-lettered) or applied."""

    service: str
    group: str
    topics: frozenset[str]
    handled_types: frozenset[str]
    inbox: Mapping[UUID, bool]


@dataclass(frozen=True)
class Notification:
    id: str
    lender_id: str
    borrower_ref: str
    channel: str
    status: str
    cancelled_at: datetime | None  # when the notifier first recorded it cancelled


@dataclass(frozen=True)
class Accepted:
    """A message a provider accepted (the journal): the witness of what borrowers got."""

    reference: str | None  # the sender's key for it: the notification id
    to: str
    channel: str
    received_at: datetime


@dataclass(frozen=True)
class DeadLetterSeen:
    group: str
    value: bytes
    reason: str


@dataclass
class Snapshot:
    published: list[Published] = field(default_factory=list)
    unpublished: int = 0
    consumers: list[ConsumerStore] = field(default_factory=list)
    audited_topics: frozenset[str] = frozenset()
    audit_event_ids: list[UUID] = field(default_factory=list)
    audit_descriptions: dict[UUID, str] = field(default_factory=dict)  # type and subject
    audit_verification: str = ""  # "" when it verified, else why not
    notifications: dict[str, Notification] = field(default_factory=dict)
    reply_stops: dict[tuple[str, str], dict[str, datetime]] = field(default_factory=dict)
    journal: list[Accepted] = field(default_factory=list)
    dead_letters: list[DeadLetterSeen] = field(default_factory=list)
    dead_letter_groups: list[str] = field(default_factory=list)  # groups on the poisoned topic
    poison: list[bytes] = field(default_factory=list)  # the raw values injected
    send_margin: timedelta = timedelta(seconds=10)


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def violated(self, invariant: str, examples: Iterable[str]) -> None:
        found = list(examples)
        if found:
            self.violations[invariant].extend(found)

    def summary(self) -> str:
        lines = [f"  {name}: {count}" for name, count in sorted(self.counts.items())]
        for invariant, examples in sorted(self.violations.items()):
            if examples:
                lines.append(f"  VIOLATED {invariant} ({len(examples)}): {examples[:5]}")
        return "\n".join(lines)


def check(snapshot: Snapshot) -> Findings:
    findings = Findings()
    _outbox(snapshot, findings)
    _inboxes(snapshot, findings)
    _audit(snapshot, findings)
    _deliveries(snapshot, findings)
    _dead_letters(snapshot, findings)
    return findings


def _outbox(snapshot: Snapshot, findings: Findings) -> None:
    findings.counts["events published"] = len(snapshot.published)
    for publisher, count in Counter(p.publisher for p in snapshot.published).items():
        findings.counts[f"events published by {publisher}"] = count
    if snapshot.unpublished:
        findings.violated("outbox_drained", [f"{snapshot.unpublished} rows never published"])


def _inboxes(snapshot: Snapshot, findings: Findings) -> None:
    every = {p.event_id for p in snapshot.published}
    for store in snapshot.consumers:
        expected = {
            p.event_id
            for p in snapshot.published
            if p.topic in store.topics and p.type in store.handled_types
        }
        applied = {event_id for event_id, rejected in store.inbox.items() if not rejected}
        rejected = {event_id for event_id, rejected in store.inbox.items() if rejected}
        findings.counts[f"{store.service} inbox: applied"] = len(applied)
        findings.counts[f"{store.service} inbox: rejected"] = len(rejected)
        where = f"{store.service} ({store.group})"
        findings.violated(
            "inbox_exactly_once",
            [f"{where}: event {e} never applied" for e in sorted(expected - applied, key=str)],
        )
        findings.violated(
            "inbox_exactly_once",
            [f"{where}: applied {e}, which no service published" for e in applied - every],
        )
        findings.violated(
            "inbox_exactly_once",
            [f"{where}: dead-lettered accepted event {e}" for e in rejected & expected],
        )


def _audit(snapshot: Snapshot, findings: Findings) -> None:
    entries = Counter(snapshot.audit_event_ids)
    findings.counts["audit entries"] = sum(entries.values())
    audited = {p.event_id for p in snapshot.published if p.topic in snapshot.audited_topics}
    own = {p.event_id for p in snapshot.published if p.publisher == "compliance"}
    findings.violated(
        "audit_once", [f"event {e} logged {n} times" for e, n in entries.items() if n > 1]
    )
    findings.violated("audit_once", [f"event {e} not logged" for e in audited - set(entries)])
    findings.violated(
        "audit_once",
        [
            f"entry of unknown event {e} ({snapshot.audit_descriptions.get(e, '?')})"
            for e in set(entries) - audited - own
        ],
    )
    if snapshot.audit_verification:
        findings.violated("audit_once", [f"log does not verify: {snapshot.audit_verification}"])


def _deliveries(snapshot: Snapshot, findings: Findings) -> None:
    per_notification = Counter(m.reference for m in snapshot.journal)
    notifications = snapshot.notifications
    findings.counts["messages accepted by providers"] = len(snapshot.journal)
    findings.counts["notifications"] = len(notifications)
    findings.counts["notifications recorded sent or delivered"] = sum(
        n.status in SENT_STATUSES for n in notifications.values()
    )
    findings.counts["notifications cancelled"] = sum(
        n.cancelled_at is not None for n in notifications.values()
    )
    findings.counts["STOP replies recorded"] = sum(len(s) for s in snapshot.reply_stops.values())
    twice = {ref: n for ref, n in per_notification.items() if ref is not None and n > 1}
    findings.counts["notifications delivered more than once"] = len(twice)
    findings.counts["messages beyond the first of a notification"] = sum(
        n - 1 for n in twice.values()
    )
    findings.violated(
        "no_double_delivery", [f"notification {ref}: {n} messages" for ref, n in twice.items()]
    )
    findings.violated(
        "no_double_delivery",
        [f"{n} messages name no notification" for n in [per_notification[None]] if n],
    )
    findings.violated(
        "no_double_delivery",
        [
            f"message for unknown notification {ref}"
            for ref in per_notification
            if ref is not None and ref not in notifications
        ],
    )
    findings.violated(
        "sent_is_witnessed",
        [
            f"notification {n.id} recorded {n.status}, no message accepted"
            for n in notifications.values()
            if n.status in SENT_STATUSES and n.id not in per_notification
        ],
    )
    late: list[str] = []
    for message in snapshot.journal:
        notification = notifications.get(message.reference or "")
        if notification is None:
            continue
        stops = snapshot.reply_stops.get((notification.lender_id, notification.borrower_ref), {})
        for what, stopped_at in (
            ("its cancellation", notification.cancelled_at),
            (f"the borrower's STOP on {notification.channel}", stops.get(notification.channel)),
        ):
            if stopped_at is not None and message.received_at > stopped_at + snapshot.send_margin:
                late.append(
                    f"notification {notification.id} accepted at {message.received_at}, "
                    f"{what} recorded at {stopped_at}"
                )
    findings.counts["messages accepted after a stop (beyond the margin)"] = len(late)
    findings.violated("no_send_after_stop", late)


def _dead_letters(snapshot: Snapshot, findings: Findings) -> None:
    poison = Counter(snapshot.poison)
    findings.counts["poison messages injected"] = sum(poison.values())
    for group in snapshot.dead_letter_groups:
        letters = [letter for letter in snapshot.dead_letters if letter.group == group]
        findings.counts[f"dead letters of {group}"] = len(letters)
        held = Counter(letter.value for letter in letters)
        findings.violated(
            "dead_letters_are_the_poison",
            [
                f"{group}: {n} copies of a poison message"
                for value, n in held.items()
                if value in poison and n > poison[value]
            ]
            + [f"{group}: poison message not dead-lettered" for _ in (poison - held).elements()]
            + [f"{group}: dead-lettered a good message" for x in letters if x.value not in poison]
            + [f"{group}: a dead letter without a reason" for x in letters if not x.reason],
        )


# Reading a running platform.


async def read_snapshot(
    databases: Mapping[str, str],
    consumers: Sequence[tuple[str, str, Sequence[str], frozenset[str]]],
    audited_topics: Iterable[str],
    journal_url: str,
    kafka: KafkaTarget,
    poisoned_topic: str,
    poison: Sequence[bytes],
    send_margin: timedelta,
) -> Snapshot:
    """``databases``: service -> SQLAlchemy URL; ``consumers``: (service, group, topics, handled
    types) of each consumer group."""
    snapshot = Snapshot(
        audited_topics=frozenset(audited_topics), poison=list(poison), send_margin=send_margin
    )
    for service, url in databases.items():
        rows = await _rows(
            url,
            "SELECT w.event_id, w.topic, w.payload,"
            " o.id IS NOT NULL AND o.published_at IS NULL AS pending"
            " FROM outbox_witness w LEFT JOIN outbox o ON o.id = w.id",
        )
        for row in rows:
            if row["pending"]:
                snapshot.unpublished += 1
            else:
                kind = _event_type(row["payload"])
                snapshot.published.append(Published(row["event_id"], row["topic"], kind, service))
    for service, group, topics, types in consumers:
        rows = await _rows(
            databases[service],
            "SELECT event_id, rejected_at IS NOT NULL AS rejected FROM inbox "
            "WHERE consumer_group = :group",
            group=group,
        )
        inbox = {row["event_id"]: row["rejected"] for row in rows}
        snapshot.consumers.append(ConsumerStore(service, group, frozenset(topics), types, inbox))
        if poisoned_topic in topics:
            snapshot.dead_letter_groups.append(group)
            for letter in await read_dead_letters(kafka, poisoned_topic, group):
                reason = letter.header("dlq.reason")
                snapshot.dead_letters.append(DeadLetterSeen(group, letter.value or b"", reason))
    compliance = databases["compliance"]
    entries = await _rows(
        compliance, "SELECT event_id, event_type, tenant_id, subject FROM audit_entries"
    )
    snapshot.audit_event_ids = [row["event_id"] for row in entries]
    snapshot.audit_descriptions = {
        row["event_id"]: f"{row['event_type']} {row['tenant_id']}/{row['subject']}"
        for row in entries
    }
    await _read_notifier(databases["notifier"], snapshot)
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(journal_url)
        answer.raise_for_status()
    snapshot.journal = [
        Accepted(
            sender_key(m.get("client_reference")),
            m["to"],
            m["channel"],
            datetime.fromisoformat(m["received_at"]),
        )
        for m in answer.json()
    ]
    return snapshot


def sender_key(reference: str | None) -> str | None:
    """The notification id in a client reference: SMTP's Message-ID is ``<key@domain>``."""
    if reference and reference.startswith("<") and "@" in reference:
        return reference[1:].partition("@")[0]
    return reference


async def _read_notifier(url: str, snapshot: Snapshot) -> None:
    rows = await _rows(
        url,
        "SELECT n.id, n.lender_id, n.borrower_ref, n.channel, n.status, "
        "(SELECT min(h.at) FROM notification_history h "
        " WHERE h.notification_id = n.id AND h.status = 'cancelled') AS cancelled_at "
        "FROM notifications n",
    )
    snapshot.notifications = {
        str(row["id"]): Notification(
            str(row["id"]),
            row["lender_id"],
            row["borrower_ref"],
            row["channel"],
            row["status"],
            row["cancelled_at"],
        )
        for row in rows
    }
    for row in await _rows(url, "SELECT lender_id, borrower_ref, reply_opt_outs FROM borrowers"):
        stops = {c: datetime.fromisoformat(at) for c, at in row["reply_opt_outs"].items()}
        if stops:
            snapshot.reply_stops[(row["lender_id"], row["borrower_ref"])] = stops


def _event_type(payload: bytes) -> str:
    kind: Any = orjson.loads(payload).get("type")
    return str(kind)


async def _rows(url: str, query: str, **values: Any) -> list[Mapping[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(query), values)
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()
