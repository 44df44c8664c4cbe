"""The gateway's pure rules: placement policy, exclusions, allocation among agencies."""

from services.agency_gateway.domain.cases import CaseFacts, exclusion
from services.agency_gateway.domain.policy import Arm, CaseStatus, PlacementPolicy

__all__ = ["Arm", "CaseFacts", "CaseStatus", "PlacementPolicy", "exclusion"]
