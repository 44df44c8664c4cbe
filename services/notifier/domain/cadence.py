"""What the lifecycle needs of a cadence policy (``policy.py`` holds the policies themselves)."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.vocabulary import Channel


class CadenceStep(Protocol):
    @property
    def days_past_due(self) -> int: ...
    @property
    def channel(self) -> Channel: ...
    @property
    def template(self) -> str: ...


class Cadence(Protocol):
    """One versioned policy: its steps, its send time, and how it reacts to events."""

    @property
    def policy_id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def reminder_steps(self) -> Sequence[CadenceStep]: ...
    @property
    def notice_steps(self) -> Sequence[CadenceStep]: ...
    @property
    def stop_on_placement(self) -> bool: ...
    @property
    def partial_payment_pause(self) -> timedelta: ...
    @property
    def max_attempts(self) -> int: ...

    def send_time(self, on: date, zone: ZoneInfo) -> datetime | None:
        """The send time on local day ``on``; None past the calendar's end."""
        ...

    def retry_delay(self, attempt: int) -> timedelta: ...


class Policies(Protocol):
    def select(self, lender_id: str, product: str, jurisdiction: str) -> Cadence: ...

    def by_id(self, policy_id: str) -> Cadence | None: ...
