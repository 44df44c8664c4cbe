"""The gateway's pure rules: placement policy, exclusions, allocation among agencies."""

from services.agency_gateway.domain.cases import CaseFacts, exclusion
from services.agency_gateway.domain.policy import CaseStatus, PlacementPolicy, Variant

__all__ = ["CaseFacts", "CaseStatus", "PlacementPolicy", "Variant", "exclusion"]
