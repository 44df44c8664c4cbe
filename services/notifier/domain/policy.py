"""A lender's reminder cadence as versioned data: which message goes when, retries, and stops.

One TOML file per policy (``services/notifier/policies/``), validated by Pydantic at start-up
(``adapters/policy_files.py``). The helpers here are pure: the notifier's state machine asks
them when each step is due, when to retry, and when reminders stop. Dates from 1970 to 9999 are
safe: where a result would fall past the calendar's end the helper returns ``None``.

Fixed by the platform, not by a policy: a full payment cancels every pending reminder; a closed
loan gets no more reminders; a hold (POL-01) or an opt-out of a channel (POL-02) is honoured by
the contact-rules check before each send.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from services.notifier.domain.messages import SENDABLE_CHANNELS
from shared.db.backoff import backoff
from shared.vocabulary import Channel, Jurisdiction

WILDCARD = "*"
MAX_DAYS_PAST_DUE = 36_500  # a hundred years: every step date of a 1970..9999 loan stays exact

Days = Annotated[int, Field(strict=True, ge=0, le=MAX_DAYS_PAST_DUE)]
Positive = Annotated[int, Field(strict=True, ge=1)]


class SendFailure(StrEnum):
    """Why a send failed, as the provider adapters report it."""

    TIMEOUT = "timeout"  # outcome unknown: look the message up before sending it again
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    REJECTED = "rejected"  # the provider refused this message: permanent
    INVALID_ADDRESS = "invalid_address"  # permanent


PERMANENT_FAILURES = frozenset({SendFailure.REJECTED, SendFailure.INVALID_ADDRESS})


class PartialPayment(StrEnum):
    CONTINUE = "continue"  # the cadence goes on as planned (messages show the new amount)
    PAUSE = "pause"  # no reminder for ``pause_days`` after the payment; later steps go on
    RESTART = "restart"  # the cadence starts again, its days counted from the payment's day


class AfterHold(StrEnum):
    RESUME = "resume"  # steps whose time passed during the hold are skipped
    CATCH_UP = "catch_up"  # the latest missed step goes out once, at the next send time


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyMatch(_Model):
    """Which loans a policy serves; ``*`` matches any value, an exact value beats it."""

    lender_id: StrictStr = Field(min_length=1)
    product: StrictStr = Field(min_length=1)
    jurisdiction: StrictStr

    @field_validator("jurisdiction")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != WILDCARD and value not in set(Jurisdiction):
            known = ", ".join(j.value for j in Jurisdiction)
            raise ValueError(f"must be {WILDCARD!r} or one of {known}")
        return value

    def matches(self, lender_id: str, product: str, jurisdiction: str) -> bool:
        return all(
            mine in (WILDCARD, theirs)
            for mine, theirs in (
                (self.lender_id, lender_id),
                (self.product, product),
                (self.jurisdiction, jurisdiction),
            )
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        """Ordered: an exact lender beats an exact product, which beats an exact jurisdiction."""
        return (
            self.lender_id != WILDCARD,
            self.product != WILDCARD,
            self.jurisdiction != WILDCARD,
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.lender_id, self.product, self.jurisdiction)


def _sendable(channel: Channel) -> Channel:
    if channel not in SENDABLE_CHANNELS:
        raise ValueError(f"the notifier sends only {' and '.join(SENDABLE_CHANNELS)}")
    return channel


SendableChannel = Annotated[Channel, AfterValidator(_sendable)]


class CadenceStep(_Model):
    days_past_due: Days
    channel: SendableChannel
    template: StrictStr = Field(min_length=1)


class AgencyNotice(_Model):
    """A message sent as soon as a placement with an agency arrives (CN-09)."""

    channel: SendableChannel
    template: StrictStr = Field(min_length=1)


class RetryRules(_Model):
    max_attempts: Annotated[int, Field(strict=True, ge=1, le=20)]
    backoff_base_minutes: Positive
    backoff_max_minutes: Positive
    retry_on: tuple[SendFailure, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.backoff_max_minutes < self.backoff_base_minutes:
            raise ValueError("backoff_max_minutes: must be at least backoff_base_minutes")
        for number, failure in enumerate(self.retry_on, start=1):
            if failure in PERMANENT_FAILURES:
                raise ValueError(f"retry_on.{number}: {failure} is permanent, never retried")
        return self


class PaymentRules(_Model):
    on_partial: PartialPayment
    pause_days: Annotated[int, Field(strict=True, ge=1, le=365)] | None = None

    @model_validator(mode="after")
    def _pause_days_with_pause(self) -> Self:
        if (self.on_partial is PartialPayment.PAUSE) != (self.pause_days is not None):
            raise ValueError("pause_days: required with on_partial = 'pause', and only then")
        return self


class HoldRules(_Model):
    on_lift: AfterHold


class StopRules(_Model):
    after_days_past_due: Days  # no reminder once the loan is later than this
    on_placement: StrictBool  # the agency takes over: the lender's reminders stop
    resume_after_recall: StrictBool  # a recalled loan picks the cadence up where it stands


class CadencePolicy(_Model):
    id: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: StrictStr = Field(pattern=r"^\d{4}-\d{2}-\d{2}\.\d+$")
    description: StrictStr = ""
    match: PolicyMatch
    send_at: Annotated[  # the borrower's local wall-clock time for every send
        time, WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}$", "examples": ["10:00"]})
    ]
    steps: tuple[CadenceStep, ...] = Field(min_length=1)
    retry: RetryRules
    payments: PaymentRules
    holds: HoldRules
    stop: StopRules
    agency_notice: tuple[AgencyNotice, ...] = ()

    @field_validator("send_at", mode="before")
    @classmethod
    def _wall_clock(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
                raise ValueError("must be a local time written HH:MM, e.g. 10:00")
            return time.fromisoformat(value)
        if isinstance(value, time) and value.tzinfo is not None:
            raise ValueError("must be a local wall-clock time, without offset")
        return value

    @field_serializer("send_at")
    def _as_written(self, value: time) -> str:
        """As the file writes it (HH:MM): a wall-clock time, with no offset to misread."""
        return value.strftime("%H:%M")

    @field_validator("version")
    @classmethod
    def _dated(cls, value: str) -> str:
        try:
            date.fromisoformat(value.partition(".")[0])
        except ValueError:
            raise ValueError("must start with a real date, e.g. 2026-12-01.1") from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        for number, (before, step) in enumerate(itertools.pairwise(self.steps), start=2):
            if step.days_past_due <= before.days_past_due:
                raise ValueError(
                    f"steps.{number}.days_past_due: {step.days_past_due} must be greater than "
                    f"step {number - 1}'s {before.days_past_due}"
                )
        last = self.steps[-1].days_past_due
        if last > self.stop.after_days_past_due:
            raise ValueError(
                f"stop.after_days_past_due: {self.stop.after_days_past_due} is before the last "
                f"step (day {last})"
            )
        channels = [notice.channel for notice in self.agency_notice]
        if len(set(channels)) != len(channels):
            raise ValueError("agency_notice: one notice per channel")
        if self.match.jurisdiction in (WILDCARD, Jurisdiction.CN) and not self.agency_notice:
            raise ValueError(
                "agency_notice: CN-09 requires telling the borrower of a placement; "
                "name at least one channel and template"
            )
        return self

    @property
    def label(self) -> str:
        """``id@version``: what every notification records as the policy that decided it."""
        return f"{self.id}@{self.version}"

    def numbered_steps(self) -> tuple[tuple[int, CadenceStep], ...]:
        """Steps numbered from 1, as in the file."""
        return tuple(enumerate(self.steps, start=1))

    def due_steps(self, days_past_due: int) -> tuple[tuple[int, CadenceStep], ...]:
        """The numbered steps due at or before ``days_past_due`` (none once reminders stop)."""
        if self.stops_at(days_past_due):
            return ()
        return tuple((n, s) for n, s in self.numbered_steps() if s.days_past_due <= days_past_due)

    def next_step(self, days_past_due: int) -> tuple[int, CadenceStep] | None:
        """The first numbered step after ``days_past_due``; ``None`` if none is left."""
        later = [(n, s) for n, s in self.numbered_steps() if s.days_past_due > days_past_due]
        return later[0] if later else None

    def stops_at(self, days_past_due: int) -> bool:
        return days_past_due > self.stop.after_days_past_due

    def step_date(self, anchor: date, step: CadenceStep) -> date | None:
        """The day ``step`` falls on: ``anchor`` is the due date (or the partial payment's day
        when ``payments.on_partial`` is ``restart``); ``None`` past the calendar's end."""
        return _add_days(anchor, step.days_past_due)

    def send_time(self, on: date, zone: tzinfo) -> datetime | None:
        """``send_at`` on the local day ``on`` in ``zone``, aware; ``None`` past 9999.

        A time a daylight-saving change skips moves forward by the gap (01:30 on a night that
        jumps 01:00 -> 02:00 becomes 02:30); a time it repeats is its first occurrence.
        """
        try:
            wall = datetime.combine(on, self.send_at, tzinfo=zone)  # fold=0: the earlier offset
            return wall.astimezone(UTC).astimezone(zone)
        except (OverflowError, ValueError):
            return None

    def next_send_time(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first ``send_at`` strictly after the instant ``after``; ``None`` past 9999."""
        try:
            today = after.astimezone(zone).date()
        except (OverflowError, ValueError):
            return None
        for offset in (0, 1, 2):
            day = _add_days(today, offset)
            candidate = self.send_time(day, zone) if day else None
            if candidate is not None and candidate > after:
                return candidate
        return None

    def schedule(self, anchor: date, zone: tzinfo) -> tuple[ScheduledStep, ...]:
        """Every step with its send time (``None`` where it falls past the calendar's end)."""
        scheduled = []
        for number, step in self.numbered_steps():
            day = self.step_date(anchor, step)
            at = self.send_time(day, zone) if day else None
            scheduled.append(ScheduledStep(number, step, at))
        return tuple(scheduled)

    def retry_delay(self, attempts_made: int, failure: SendFailure) -> timedelta | None:
        """How long to wait after the ``attempts_made``-th failed attempt; ``None``: give up.

        Exponential: base, 2 x base, 4 x base ... capped at ``backoff_max_minutes``.
        """
        rules = self.retry
        if failure not in rules.retry_on or not 1 <= attempts_made < rules.max_attempts:
            return None
        return backoff(
            attempts_made,
            timedelta(minutes=rules.backoff_base_minutes),
            timedelta(minutes=rules.backoff_max_minutes),
        )

    def retry_at(
        self, failed_at: datetime, attempts_made: int, failure: SendFailure
    ) -> datetime | None:
        """When to try again; ``None`` to give up (or past the calendar's end)."""
        delay = self.retry_delay(attempts_made, failure)
        if delay is None:
            return None
        try:
            return failed_at + delay
        except OverflowError:
            return None

    def paused_until(self, paid_on: date) -> date | None:
        """After a partial payment on ``paid_on`` (local day), the first day reminders may go
        again under ``pause``; ``None`` for other behaviours; ``date.max`` past the calendar."""
        if self.payments.on_partial is not PartialPayment.PAUSE or self.payments.pause_days is None:
            return None
        return _add_days(paid_on, self.payments.pause_days) or date.max


@dataclass(frozen=True, slots=True)
class ScheduledStep:
    number: int
    step: CadenceStep
    send_at: datetime | None


def _add_days(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None
