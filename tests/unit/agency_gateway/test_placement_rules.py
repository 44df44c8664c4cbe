"""Pure placement rules: exclusions, the champion/challenger arm, allocation by share."""

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from services.agency_gateway.adapters.policy_file import load_policy
from services.agency_gateway.domain.allocation import AgencyLoad, allocate
from services.agency_gateway.domain.cases import CaseFacts, exclusion, status_of
from services.agency_gateway.domain.contact_check import banned_phrases
from services.agency_gateway.domain.policy import CaseStatus, PlacementPolicy, Variant
from shared.contact_rules import load_pack
from shared.contact_rules.wording import banned_in
from shared.vocabulary import Jurisdiction

POLICY = PlacementPolicy(threshold_days=30, minimum_amount=Decimal("100"))


def case(**changes: object) -> CaseFacts:
    base: dict[str, object] = {
        "lender_id": "lender-a",
        "loan_id": "L-1",
        "days_past_due": 40,
        "amount": Decimal("1250"),
    }
    return CaseFacts(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"days_past_due": 29}, "below_threshold"),
        ({"amount": Decimal("99.99")}, "below_minimum_amount"),
        ({"holds": {"H1": "hardship"}}, "hold:hardship"),
        ({"holds": {"H1": "dispute"}}, "dispute"),
        ({"holds": {"H1": "suspected_illegal_debt"}}, "illegal_debt"),
        ({"cease": True}, "cease"),
        ({"attorney": True}, "attorney"),
        ({"lender_recalled": True}, "lender_recall"),
        ({"ended_reason": "cured"}, "cured"),
        ({"ended_reason": "closed:settled"}, "closed:settled"),
    ],
)
def test_each_exclusion_is_named(changes: dict[str, object], reason: str | None) -> None:
    assert exclusion(case(**changes), POLICY, Variant.CHAMPION) == reason


def test_status_follows_the_reason() -> None:
    assert (
        status_of(case(), POLICY, Variant.CHAMPION, placed=False) is CaseStatus.READY_FOR_PLACEMENT
    )
    young = case(days_past_due=3)
    assert status_of(young, POLICY, Variant.CHAMPION, placed=False) is CaseStatus.AWAITING_THRESHOLD
    held = case(holds={"H": "dispute"})
    assert status_of(held, POLICY, Variant.CHAMPION, placed=False) is CaseStatus.EXCLUDED
    cured = case(ended_reason="cured")
    assert status_of(cured, POLICY, Variant.CHAMPION, placed=False) is CaseStatus.ENDED
    assert status_of(case(), POLICY, Variant.CHAMPION, placed=True) is CaseStatus.PLACED


def test_the_challenger_arm_is_a_stable_share_with_its_own_threshold() -> None:
    policy = PlacementPolicy.model_validate(
        {"challenger": {"percent": 20, "threshold_days": 45}, "threshold_days": 30}
    )
    variants = Counter(policy.variant("lender-a", f"L-{n}") for n in range(5000))
    assert 0.17 < variants[Variant.CHALLENGER] / 5000 < 0.23
    assert [policy.variant("lender-a", f"L-{n}") for n in range(50)] == [
        policy.variant("lender-a", f"L-{n}") for n in range(50)
    ]
    challenger = next(
        f"L-{n}" for n in range(100) if policy.variant("lender-a", f"L-{n}") is Variant.CHALLENGER
    )
    facts = case(loan_id=challenger, days_past_due=40)
    assert exclusion(facts, policy, Variant.CHALLENGER) == "below_threshold"
    assert exclusion(facts, policy, Variant.CHAMPION) is None


def agency(
    agency_id: str,
    share: int,
    capacity: int = 10**6,
    jurisdictions: str = "CN",
    regions: frozenset[str] = frozenset(),
    open_accounts: int = 0,
) -> AgencyLoad:
    return AgencyLoad(
        agency_id, frozenset(jurisdictions.split(",")), regions, capacity, share, open_accounts
    )


def test_allocation_follows_the_shares_among_eligible_agencies() -> None:
    agencies = [agency("north", 3), agency("south", 1), agency("west", 5, jurisdictions="US")]
    won: Counter[str] = Counter()
    for n in range(8000):
        choice = allocate(f"lender-a/L-{n}", "CN", None, agencies)
        assert choice is not None
        won[choice.agency_id] += 1
    assert set(won) == {"north", "south"}
    assert 0.72 < won["north"] / 8000 < 0.78
    again = allocate("lender-a/L-7", "CN", None, agencies)
    assert again == allocate("lender-a/L-7", "CN", None, list(reversed(agencies)))


def test_allocation_skips_full_agencies_and_those_that_held_the_loan() -> None:
    full = agency("north", 3, capacity=5, open_accounts=5)
    agencies = [full, agency("south", 1)]
    assert allocate("lender-a/L-1", "CN", None, agencies).agency_id == "south"  # type: ignore[union-attr]
    assert allocate("lender-a/L-1", "CN", None, [agency("south", 1)], avoid={"south"}) is None
    assert allocate("lender-a/L-1", "US", None, agencies) is None


def test_a_regional_agency_gets_only_its_regions_and_loans_of_no_stated_region() -> None:
    canton = agency("canton", 1, regions=frozenset({"CN-GD"}))
    national = agency("national", 1)
    for n in range(200):
        loan = f"lender-a/L-{n}"
        beijing = allocate(loan, "CN", "CN-BJ", [canton, national])
        assert beijing is not None
        assert beijing.agency_id == "national"
        assert allocate(loan, "CN", "CN-BJ", [canton]) is None
        guangdong = allocate(loan, "CN", "CN-GD", [canton, national])
        assert guangdong is not None
        assert guangdong.eligible == 2
    unstated = {allocate(f"lender-a/L-{n}", "CN", None, [canton]) for n in range(20)}
    assert {choice.agency_id for choice in unstated if choice} == {"canton"}


def test_the_shipped_policy_loads_and_a_bad_one_names_its_file(tmp_path: Path) -> None:
    shipped = load_policy()
    assert shipped.version
    assert shipped.threshold_days == 30
    bad = tmp_path / "placement.toml"
    bad.write_text('version = "x"\nthreshold_days = -1\n')
    with pytest.raises(ValueError, match=r"placement\.toml"):
        load_policy(bad)


def test_notes_are_screened_for_every_packs_banned_phrases() -> None:
    phrases = banned_phrases([load_pack(j) for j in Jurisdiction])
    assert phrases
    assert banned_in(f"told them {phrases[0].upper()} today", phrases) == [phrases[0]]
    assert banned_in("agreed to pay on Friday", phrases) == []
