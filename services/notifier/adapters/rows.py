"""Notifier's values as table rows and back: loan files, preferences, notifications."""

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from services.notifier.domain.files import (
    Case,
    CaseHold,
    CasePlacement,
    LoanState,
    Notification,
    Preferences,
)
from shared.events.envelope import message_key
from shared.events.legal import DemandTerms, LegalStage
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.observability.tracing import carrier_for
from shared.vocabulary import Channel, Jurisdiction


def case_of_row(row: Any) -> Case:
    return Case(
        lender_id=row["lender_id"],
        loan_id=row["loan_id"],
        borrower_ref=row["borrower_ref"],
        jurisdiction=Jurisdiction(row["jurisdiction"]),
        product=row["product"],
        locale=row["locale"],
        timezone=row["timezone"],
        due_date=row["due_date"],
        days_past_due=row["days_past_due"],
        as_of=row["as_of"],
        amount_overdue=row["amount_overdue"],
        currency=row["currency"],
        contact_sealed=row["contact_sealed"] or {},  # NULL: erased
        phone_refs=list(row["phone_refs"]),
        reachable=frozenset(Channel(c) for c in row["reachable_channels"]),
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        state=LoanState(row["state"]),
        state_reason=row["state_reason"],
        cycle=row["cycle"],
        ended_at=row["ended_at"],
        holds={
            hold_id: CaseHold(hold_id, h["reason"], datetime.fromisoformat(h["placed_at"]))
            for hold_id, h in row["holds"].items()
        },
        placements=[
            CasePlacement(
                p["assignment_id"],
                p["agency_id"],
                p["agency_name"],
                p.get("agency_phone"),
                datetime.fromisoformat(p["placed_at"]),
                _instant(p.get("notice_sent_at")),
                _instant(p.get("ended_at")),
            )
            for p in row["placements"]
        ],
        legal_stage=LegalStage(row["legal_stage"]) if row["legal_stage"] else None,
        demand=DemandTerms.model_validate(row["demand"]) if row["demand"] else None,
    )


def loan_row(file: Case, updated_at: datetime | None = None) -> dict[str, Any]:
    """The row of a loan file (enums as their values: ``str()`` of a ``StrEnum``, which is
    its value, costs far less than ``.value`` on this hot path)."""
    return {
        "lender_id": file.lender_id,
        "loan_id": file.loan_id,
        "borrower_ref": file.borrower_ref,
        "contact_sealed": file.contact_sealed or None,
        "phone_refs": file.phone_refs,
        "reachable_channels": sorted(map(str, file.reachable)),
        "locale": file.locale,
        "timezone": file.timezone,
        "jurisdiction": str(file.jurisdiction),
        "product": file.product,
        "due_date": file.due_date,
        "days_past_due": file.days_past_due,
        "amount_overdue": file.amount_overdue,
        "currency": file.currency,
        "as_of": file.as_of,
        "policy_id": file.policy_id,
        "policy_version": file.policy_version,
        "state": str(file.state),
        "state_reason": file.state_reason,
        "cycle": file.cycle,
        "ended_at": file.ended_at,
        "holds": {
            h.hold_id: {"reason": h.reason, "placed_at": h.placed_at.isoformat()}
            for h in file.holds.values()
        },
        "placements": [
            {
                "assignment_id": p.assignment_id,
                "agency_id": p.agency_id,
                "agency_name": p.agency_name,
                "agency_phone": p.agency_phone,
                "placed_at": p.placed_at.isoformat(),
                "notice_sent_at": p.notice_sent_at and p.notice_sent_at.isoformat(),
                "ended_at": p.ended_at and p.ended_at.isoformat(),
            }
            for p in file.placements
        ],
        "legal_stage": str(file.legal_stage) if file.legal_stage else None,
        "demand": file.demand.model_dump(mode="json") if file.demand else None,
        "updated_at": updated_at or datetime.now(UTC),
    }


def preferences_row(prefs: Preferences) -> dict[str, Any]:
    return {
        "lender_id": prefs.lender_id,
        "borrower_ref": prefs.borrower_ref,
        "preferences": prefs.reported.model_dump(mode="json"),
        "reported_at": prefs.reported_at,
        "reply_opt_outs": {c.value: at.isoformat() for c, at in prefs.reply_opt_outs.items()},
    }


_NOTIFICATION_FIELDS = tuple(f.name for f in fields(Notification))


def notification_row(n: Notification) -> dict[str, Any]:
    """The row of a notification: its fields, enums as their values, rule ids as a list."""
    row = {name: getattr(n, name) for name in _NOTIFICATION_FIELDS}
    row.update(kind=str(n.kind), channel=str(n.channel), status=str(n.status))
    row["rule_ids"] = list(n.rule_ids)
    return row


def traced(row: dict[str, Any]) -> dict[str, Any]:
    """A new notification's row with the trace context of the work planning it: the consumed
    event's of its loan (see ``shared.observability.tracing.carrier_for``)."""
    if row["traceparent"] is None:
        trace = carrier_for(message_key(row["lender_id"], row["loan_id"]))
        if trace is not None:
            row["traceparent"], row["tracestate"] = trace
    return row


def notification_of(row: Any) -> Notification:
    values = {name: row[name] for name in _NOTIFICATION_FIELDS}
    values.update(
        kind=NotificationKind(row["kind"]),
        channel=Channel(row["channel"]),
        status=NotificationStatus(row["status"]),
        rule_ids=tuple(row["rule_ids"]),
    )
    return Notification(**values)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
