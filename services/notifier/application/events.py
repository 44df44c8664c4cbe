"""The events the notifier publishes: a notification's every state, and a borrower's opt-out."""

from datetime import datetime
from typing import Any

from services.notifier.domain.files import Notification
from services.notifier.domain.lifecycle import CaseBatch, OptOut
from shared.events.catalog import AGENCY_NOTICE_SENT, NOTIFICATION_EVENTS, OPT_OUT_RECORDED
from shared.events.envelope import Envelope
from shared.events.notifications import (
    NotificationChanged,
    NotificationKind,
    NotificationStatus,
    OptOutRecorded,
)

SOURCE = "notifier"


def notification_event(
    n: Notification, status: NotificationStatus, at: datetime, detail: dict[str, Any]
) -> Envelope:
    data = NotificationChanged(
        notification_id=n.id,
        loan_id=n.loan_id,
        borrower_ref=n.borrower_ref,
        kind=n.kind,
        step=n.step,
        channel=n.channel,
        template=n.template,
        locale=n.locale,
        policy_id=n.policy_id,
        policy_version=n.policy_version,
        pack_version=n.pack_version,
        status=status,
        at=at,
        due_at=n.due_at,
        rule_ids=list(detail.get("rule_ids", [])),
        next_allowed_at=detail.get("next_allowed_at"),
        reason=detail.get("reason"),
        provider=detail.get("provider"),
        provider_message_id=detail.get("provider_message_id"),
        agency_id=n.agency_id,
    )
    notice_sent = n.kind is NotificationKind.AGENCY_NOTICE and status is NotificationStatus.SENT
    event_type = AGENCY_NOTICE_SENT if notice_sent else NOTIFICATION_EVENTS[status]
    return event_type.envelope(source=SOURCE, subject=n.loan_id, tenant=n.lender_id, data=data)


def opt_out_event(opt_out: OptOut) -> Envelope:
    data = OptOutRecorded(
        borrower_ref=opt_out.borrower_ref,
        channel=opt_out.channel,
        source=opt_out.source,
        at=opt_out.at,
        loan_ids=list(opt_out.loan_ids),
    )
    return OPT_OUT_RECORDED.envelope(
        source=SOURCE, subject=opt_out.borrower_ref, tenant=opt_out.lender_id, data=data
    )


def case_batch_events(batch: CaseBatch) -> list[Envelope]:
    """What applying events to ``batch`` publishes: each transition, then each opt-out."""
    known = {n.id: n for n in [*batch.created, *batch.changed.values()]}
    events = [
        notification_event(known[t.notification_id], t.status, t.at, t.detail)
        for t in batch.transitions
    ]
    return events + [opt_out_event(opt_out) for opt_out in batch.opt_outs]
