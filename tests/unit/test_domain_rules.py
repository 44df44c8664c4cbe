"""Pure rules of the agency gateway: placement eligibility."""

from services.agency_gateway.domain import CaseStatus, PlacementPolicy


def test_a_case_is_ready_for_placement_at_the_threshold() -> None:
    policy = PlacementPolicy(threshold_days=30)
    assert policy.status_for(29) is CaseStatus.AWAITING_THRESHOLD
    assert policy.status_for(30) is CaseStatus.READY_FOR_PLACEMENT
