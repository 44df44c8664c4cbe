"""Compliance's consumer: every event of every catalogued type becomes an audit-log entry."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import AuditLog
from services.compliance.domain import audit_entry, canonical_bytes, leaf_hash
from shared.events.catalog import EVENT_TYPES
from shared.events.topics import Topic
from shared.kafka.handlers import EventHandlers, Received

GROUP = "compliance"
AUDITED_TOPICS = list(Topic)


def compliance_handlers() -> EventHandlers:
    """One recorder for every type, so a batch's events are appended in one call, in order."""
    handlers = EventHandlers()
    for event_type in EVENT_TYPES.values():
        handlers.on(event_type, record_events)
    return handlers


async def record_events(session: AsyncSession, events: Sequence[Received]) -> None:
    rows = []
    for event in events:
        envelope = event.envelope
        entry = canonical_bytes(audit_entry(envelope))
        rows.append(
            {
                "event_id": envelope.id,
                "event_type": envelope.type,
                "subject": envelope.subject,
                "tenant_id": envelope.tenantid,
                "event_time": envelope.time,
                "entry": entry,
                "leaf_hash": leaf_hash(entry),
            }
        )
    await AuditLog(session).append(rows)
