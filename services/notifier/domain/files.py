"""What the notifier knows of a loan, a borrower and a notification, as plain values.

A ``Case`` is one loan as the events told it; ``Preferences`` are one borrower's, shared by
all their loans at one lender; a ``Notification`` is one reminder or notice with its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.events.legal import DemandTerms, LegalStage
from shared.events.models import ContactPreferences, OverdueReported
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.vocabulary import Channel, Jurisdiction


class LoanState(StrEnum):
    ACTIVE = "active"
    CURED = "cured"  # paid in full
    RECALLED = "recalled"  # the lender took it back
    CLOSED = "closed"  # written off, settled, closed


@dataclass
class CaseHold:
    hold_id: str
    reason: str
    placed_at: datetime


@dataclass
class CasePlacement:
    assignment_id: str
    agency_id: str
    agency_name: str
    agency_phone: str | None
    placed_at: datetime
    notice_sent_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class Case:
    lender_id: str
    loan_id: str
    borrower_ref: str
    jurisdiction: Jurisdiction
    product: str
    locale: str
    timezone: str
    due_date: date
    days_past_due: int
    as_of: datetime
    amount_overdue: str
    currency: str
    contact_sealed: dict[str, Any]  # opened only when a message is sent
    phone_refs: list[str]
    reachable: frozenset[Channel]  # the channels the borrower has an address on
    policy_id: str
    policy_version: str
    state: LoanState = LoanState.ACTIVE
    state_reason: str | None = None
    cycle: int = 0  # bumped when the cadence starts over (a hold lifted)
    ended_at: datetime | None = None  # closed, cured or recalled: when (retention counts from it)
    holds: dict[str, CaseHold] = field(default_factory=dict)
    placements: list[CasePlacement] = field(default_factory=list)
    legal_stage: LegalStage | None = None  # the escalation's stage, if one was granted
    demand: DemandTerms | None = None  # what the demand letter says (from demand_sent)

    @classmethod
    def of_report(
        cls,
        lender_id: str,
        report: OverdueReported,
        policy: tuple[str, str],
        contact_sealed: dict[str, Any],
        phone_refs: list[str],
        reachable: frozenset[Channel],
    ) -> Case:
        """The file of a reported loan, under ``policy`` (id, version), with its borrower's
        contact details as this service stores them."""
        return cls(
            lender_id=lender_id,
            loan_id=report.loan_id,
            borrower_ref=report.borrower.ref,
            jurisdiction=Jurisdiction(report.jurisdiction),
            product=report.product,
            locale=report.borrower.locale,
            timezone=report.borrower.timezone,
            due_date=report.due_date,
            days_past_due=report.days_past_due,
            as_of=report.as_of,
            amount_overdue=str(report.amount_overdue.model_dump()["amount"]),
            currency=report.amount_overdue.currency,
            contact_sealed=contact_sealed,
            phone_refs=phone_refs,
            reachable=reachable,
            policy_id=policy[0],
            policy_version=policy[1],
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.lender_id, self.loan_id)

    @property
    def placement(self) -> CasePlacement | None:
        """The agency that holds the loan now, if any."""
        current = self.placements[-1] if self.placements else None
        return current if current is not None and current.ended_at is None else None


@dataclass
class Preferences:
    """One borrower's contact preferences at one lender, with opt-outs by reply as well."""

    lender_id: str
    borrower_ref: str
    reported: ContactPreferences = field(default_factory=ContactPreferences)
    reported_at: datetime | None = None
    reply_opt_outs: dict[Channel, datetime] = field(default_factory=dict)

    def opted_out(self, channel: Channel) -> bool:
        return channel in self.reply_opt_outs or channel in self.reported.opted_out_channels


@dataclass(frozen=True)
class Transition:
    """One step of a notification's history, and the event that publishes it."""

    notification_id: UUID
    status: NotificationStatus
    at: datetime
    detail: dict[str, Any]


@dataclass
class Notification:
    id: UUID
    lender_id: str
    loan_id: str
    borrower_ref: str
    kind: NotificationKind
    step: int | None
    channel: Channel
    template: str
    locale: str
    policy_id: str
    policy_version: str
    due_at: datetime
    dedupe_key: str
    status: NotificationStatus = NotificationStatus.SCHEDULED
    attempts: int = 0
    pack_version: str | None = None
    rule_ids: tuple[str, ...] = ()
    next_allowed_at: datetime | None = None
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    agency_id: str | None = None
    assignment_id: str | None = None
    claim_token: UUID | None = None  # the sender holding it; only that one records
    send_began_at: datetime | None = None  # a send began, outcome unrecorded: it may be out
    # The W3C trace context of the work that planned it (opaque here): its send continues it.
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def pending(self) -> bool:
        return self.status is NotificationStatus.SCHEDULED

    def move(self, status: NotificationStatus, at: datetime, **detail: Any) -> Transition:
        """Enter ``status``; the transition goes to the history and out as an event."""
        self.status = status
        return Transition(self.id, status, at, {k: v for k, v in detail.items() if v is not None})
