"""Collection cases, free of I/O: when a loan becomes eligible for placement with an agency."""

from dataclasses import dataclass
from enum import StrEnum


class CaseStatus(StrEnum):
    AWAITING_THRESHOLD = "awaiting_threshold"  # reminders still run; not yet for an agency
    READY_FOR_PLACEMENT = "ready_for_placement"


@dataclass(frozen=True)
class PlacementPolicy:
    threshold_days: int = 30

    def status_for(self, days_past_due: int) -> CaseStatus:
        if days_past_due >= self.threshold_days:
            return CaseStatus.READY_FOR_PLACEMENT
        return CaseStatus.AWAITING_THRESHOLD
