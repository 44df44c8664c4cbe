"""What is known about a debt, each fact with the time it became true, so a past contact is
judged by what was true at its own time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.contact_rules.clock import utc, zone
from shared.events.models import ConsentKind, ConsentRecord, HoldReason, InconvenientTime
from shared.vocabulary import Channel, Jurisdiction


def _in_utc(fact: object, *names: str) -> None:
    for name in names:
        value = getattr(fact, name)
        if value is not None:
            object.__setattr__(fact, name, utc(value, f"{type(fact).__name__}.{name}"))


@dataclass(frozen=True, slots=True)
class Hold:
    reason: HoldReason
    placed_at: datetime
    lifted_at: datetime | None = None

    def __post_init__(self) -> None:
        _in_utc(self, "placed_at", "lifted_at")

    def active_at(self, at: datetime) -> bool:
        return self.placed_at <= at and (self.lifted_at is None or at < self.lifted_at)


ANSWER_HOLDS = frozenset({HoldReason.SUSPECTED_ILLEGAL_DEBT})
"""The holds that stop even the lender's answer to a dispute (a notice the borrower asked for):
only a debt suspected illegal, which is never collected (CN-11); telling a borrower that such a
debt stands would be collecting it."""


def binding_holds(holds: Iterable[Hold], *, answer_to_dispute: bool) -> tuple[Hold, ...]:
    """The holds that stop a message: every hold stops a reminder or an agency notice; the
    answer to a dispute only a hold in :data:`ANSWER_HOLDS`. The notifier checks a message
    before sending and compliance judges it after with this one function."""
    return tuple(h for h in holds if not answer_to_dispute or h.reason in ANSWER_HOLDS)


class DisputeKind(StrEnum):
    DEBT = "debt"
    ORIGINAL_CREDITOR_REQUEST = "original_creditor_request"


@dataclass(frozen=True, slots=True)
class Dispute:
    """A dispute and its state: open until the verification is sent (US-05)."""

    received_at: datetime
    written: bool = True
    kind: DisputeKind = DisputeKind.DEBT
    agency_id: str | None = None
    verification_sent_at: datetime | None = None

    def __post_init__(self) -> None:
        _in_utc(self, "received_at", "verification_sent_at")

    def open_at(self, at: datetime) -> bool:
        return self.received_at <= at and (
            self.verification_sent_at is None or at < self.verification_sent_at
        )


@dataclass(frozen=True, slots=True)
class OptOut:
    channel: Channel
    at: datetime

    def __post_init__(self) -> None:
        _in_utc(self, "at")


@dataclass(frozen=True, slots=True)
class Placement:
    """An agency holds the account from ``placed_at`` until recall or return (``ended_at``)."""

    agency_id: str
    placed_at: datetime
    borrower_notified_at: datetime | None = None
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        _in_utc(self, "placed_at", "borrower_notified_at", "ended_at")

    def active_at(self, at: datetime) -> bool:
        return self.placed_at <= at and (self.ended_at is None or at < self.ended_at)


@dataclass(frozen=True, slots=True)
class ValidationNotice:
    agency_id: str
    sent_at: datetime
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        _in_utc(self, "sent_at", "received_at")


@dataclass(frozen=True, slots=True)
class ThirdPartyObjection:
    third_party_ref: str
    at: datetime

    def __post_init__(self) -> None:
        _in_utc(self, "at")


@dataclass(frozen=True, slots=True)
class DebtFacts:
    """Facts about one person's debt. ``borrower_zone`` is an IANA name: quiet hours and
    calendar days are the borrower's, never the server's."""

    debt_id: str
    person_ref: str
    jurisdiction: Jurisdiction
    borrower_zone: str
    us_state: str | None = None
    holds: tuple[Hold, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    opt_outs: tuple[OptOut, ...] = ()
    consents: tuple[ConsentRecord, ...] = ()
    inconvenient_times: tuple[InconvenientTime, ...] = ()
    cease_requested_at: datetime | None = None
    attorney_represented_since: datetime | None = None
    illegal_debt: bool = False
    placements: tuple[Placement, ...] = ()
    validation_notices: tuple[ValidationNotice, ...] = ()
    third_party_objections: tuple[ThirdPartyObjection, ...] = ()
    debtor_unreachable_since: datetime | None = None
    time_barred: bool = False

    def __post_init__(self) -> None:
        zone(self.borrower_zone)
        _in_utc(
            self, "cease_requested_at", "attorney_represented_since", "debtor_unreachable_since"
        )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.borrower_zone)

    def consent_at(
        self, kind: ConsentKind, at: datetime, channel: Channel | None = None
    ) -> ConsentRecord | None:
        """The latest consent record of ``kind`` at or before ``at`` (granted or revoked).

        A record naming a channel applies to that channel only; one naming none, to all.
        """
        latest: ConsentRecord | None = None
        for record in self.consents:
            if record.kind is not kind or record.recorded_at > at:
                continue
            if record.channel is not None and record.channel is not channel:
                continue
            if latest is None or record.recorded_at >= latest.recorded_at:
                latest = record
        return latest

    def consents_at(self, kind: ConsentKind, at: datetime, channel: Channel | None = None) -> bool:
        record = self.consent_at(kind, at, channel)
        return record is not None and record.granted

    def opted_out(self, channel: Channel, at: datetime) -> OptOut | None:
        for opt_out in self.opt_outs:
            if opt_out.channel is channel and opt_out.at <= at:
                return opt_out
        return None
