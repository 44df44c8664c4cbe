"""The placement policy: versioned data (``policies/placement.toml``, read by
``adapters/policy_file.py``), recorded on every decision it makes."""

import hashlib
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Variant(StrEnum):
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
    agency_may_report_stage: bool = False  # the agency may report the legal stage's moves
    demand_respond_days: int = Field(default=15, ge=1, le=365)  # a demand's default deadline


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

    @property
    def ack_deadline(self) -> timedelta:
        """How long an agency has to acknowledge a placement (policy key ``ack_lease_hours``)."""
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

    def variant(self, lender_id: str, loan_id: str) -> Variant:
        """The loan's variant (column and field ``arm``), from a stable hash of its ids: the
        same on every run and replica."""
        bucket = stable_hash(f"{lender_id}/{loan_id}") % 100
        return Variant.CHALLENGER if bucket < self.challenger.percent else Variant.CHAMPION

    def status_for(self, days_past_due: int) -> CaseStatus:
        """A case's status by its age alone (the placement worker refines it)."""
        if days_past_due >= self.threshold_days:
            return CaseStatus.READY_FOR_PLACEMENT
        return CaseStatus.AWAITING_THRESHOLD

    def threshold(self, variant: Variant) -> int:
        if variant is Variant.CHALLENGER:
            return self.challenger.threshold_days
        return self.threshold_days


def stable_hash(text: str) -> int:
    """64 bits of SHA-256: unlike ``hash()``, the same in every process."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
