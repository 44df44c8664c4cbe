"""A small cadence for the lifecycle's unit tests (the real ones live in policy files)."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.vocabulary import Channel


@dataclass(frozen=True)
class Step:
    days_past_due: int
    channel: Channel
    template: str


@dataclass(frozen=True)
class TestCadence:
    policy_id: str = "test"
    version: str = "2026-12-01.1"
    reminder_steps: tuple[Step, ...] = (
        Step(1, Channel.SMS, "gentle"),
        Step(3, Channel.EMAIL, "firm"),
        Step(7, Channel.SMS, "final"),
    )
    notice_steps: tuple[Step, ...] = (Step(0, Channel.SMS, "agency_notice"),)
    stop_on_placement: bool = True
    partial_payment_pause: timedelta = timedelta(0)
    max_attempts: int = 3
    at: time = time(10, 0)

    def send_time(self, on: date, zone: ZoneInfo) -> datetime | None:
        return datetime.combine(on, self.at, zone)

    def retry_delay(self, attempt: int) -> timedelta:
        return timedelta(minutes=5 * attempt)


@dataclass
class OnePolicy:
    cadence: TestCadence = field(default_factory=TestCadence)

    def select(self, lender_id: str, product: str, jurisdiction: str) -> TestCadence:
        return self.cadence

    def by_id(self, policy_id: str) -> TestCadence | None:
        return self.cadence if policy_id == self.cadence.policy_id else None
