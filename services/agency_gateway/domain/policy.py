"""The placement policy: versioned data (``policies/placement.toml``), recorded on every
decision it makes."""

import hashlib
import tomllib
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_FILE = Path(__file__).parent.parent / "policies" / "placement.toml"


class Arm(StrEnum):
    """Champion/challenger: which variant of the policy decided a loan."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"


class CaseStatus(StrEnum):
    AWAITING_THRESHOLD = "awaiting_threshold"  # reminders still run; not yet for an agency
    READY_FOR_PLACEMENT = "ready_for_placement"  # eligible, no agency holds it (yet)
    PLACED = "placed"  # an agency holds it
    EXCLUDED = "excluded"  # old enough, but a hold, a dispute, a cease ... stops it
    ENDED = "ended"  # cured or closed: never placed again


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Challenger(_Strict):
    percent: int = Field(default=0, ge=0, le=100)
    threshold_days: int = Field(default=30, ge=0)


class EscalationPolicy(_Strict):
    validation_days: int = Field(default=30, ge=0)
    minimum_amount: Decimal = Field(default=Decimal("500.00"), ge=0)
    time_bar_days: int = Field(default=1095, ge=1)


class PlacementPolicy(_Strict):
    version: str = "default"
    threshold_days: int = Field(default=30, ge=0)
    minimum_amount: Decimal = Field(default=Decimal("0"), ge=0)
    ack_lease_hours: float = Field(default=24, gt=0)
    term_days: float = Field(default=90, gt=0)
    retry_minutes: float = Field(default=60, gt=0)
    expiring_notice_days: float = Field(default=7, ge=0)
    challenger: Challenger = Challenger()
    escalation: EscalationPolicy = EscalationPolicy()

    @classmethod
    def load(cls, path: Path = DEFAULT_FILE) -> "PlacementPolicy":
        """The policy of a TOML file; a bad value raises naming the file and the key."""
        try:
            return cls.model_validate(tomllib.loads(path.read_text()))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error

    @property
    def ack_lease(self) -> timedelta:
        return timedelta(hours=self.ack_lease_hours)

    @property
    def term(self) -> timedelta:
        return timedelta(days=self.term_days)

    @property
    def expiring_notice(self) -> timedelta:
        return timedelta(days=self.expiring_notice_days)

    @property
    def retry(self) -> timedelta:
        return timedelta(minutes=self.retry_minutes)

    def arm(self, lender_id: str, loan_id: str) -> Arm:
        """The loan's arm, from a stable hash of its ids: the same on every run and replica."""
        bucket = stable_hash(f"{lender_id}/{loan_id}") % 100
        return Arm.CHALLENGER if bucket < self.challenger.percent else Arm.CHAMPION

    def status_for(self, days_past_due: int) -> CaseStatus:
        """A case's status by its age alone (the placement worker refines it)."""
        if days_past_due >= self.threshold_days:
            return CaseStatus.READY_FOR_PLACEMENT
        return CaseStatus.AWAITING_THRESHOLD

    def threshold(self, arm: Arm) -> int:
        return self.challenger.threshold_days if arm is Arm.CHALLENGER else self.threshold_days


def stable_hash(text: str) -> int:
    """64 bits of SHA-256: unlike ``hash()``, the same in every process."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
