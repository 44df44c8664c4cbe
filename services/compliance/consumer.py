"""Compliance's consumer: every event of every topic becomes an audit-log entry."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import AuditLog
from services.compliance.domain import audit_entry, canonical_bytes, leaf_hash
from shared.events.topics import Topic
from shared.kafka.consumer import ConsumedEvent

GROUP = "compliance"
AUDITED_TOPICS = list(Topic)


async def record_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
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
