"""The most specific policy serves a loan: exact lender, then exact product, then jurisdiction."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.adapters.policy_files import load_policies
from services.notifier.domain.cadence_policies import CadencePolicies, NoPolicyError
from tests.unit.notifier.support import EXAMPLE_POLICY, POLICIES, book, catalog, copy_of

MATCHES = {
    "any-cn": ("*", "*", "CN"),
    "cash-any": ("*", "cash_loan", "*"),
    "acme-any": ("acme", "*", "*"),
    "acme-cn": ("acme", "*", "CN"),
    "acme-cash-cn": ("acme", "cash_loan", "CN"),
    "anything": ("*", "*", "*"),
}


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> CadencePolicies:
    directory = tmp_path_factory.mktemp("policies")
    template = (POLICIES / "cn-default.toml").read_text("utf-8")
    for name, (lender, product, jurisdiction) in MATCHES.items():
        text = template.replace('id = "cn-default"', f'id = "{name}"')
        text = text.replace(
            'lender_id = "*"\nproduct = "*"\njurisdiction = "CN"',
            f'lender_id = "{lender}"\nproduct = "{product}"\njurisdiction = "{jurisdiction}"',
        )
        (directory / f"{name}.toml").write_text(text, "utf-8")
    return load_policies(directory, catalog())


@pytest.mark.parametrize(
    ("lender", "product", "jurisdiction", "chosen"),
    [
        ("acme", "cash_loan", "CN", "acme-cash-cn"),
        ("acme", "bnpl", "CN", "acme-cn"),
        ("acme", "cash_loan", "US", "acme-any"),
        ("other", "cash_loan", "CN", "cash-any"),
        ("other", "bnpl", "CN", "any-cn"),
        ("other", "bnpl", "US", "anything"),
    ],
)
def test_the_most_specific_match_wins(
    layered: CadencePolicies, lender: str, product: str, jurisdiction: str, chosen: str
) -> None:
    assert layered.select(lender, product, jurisdiction).id == chosen


@given(
    lender=st.sampled_from(["acme", "other"]),
    product=st.sampled_from(["cash_loan", "bnpl"]),
    jurisdiction=st.sampled_from(["CN", "US"]),
)
def test_no_other_matching_policy_is_more_specific(
    layered: CadencePolicies, lender: str, product: str, jurisdiction: str
) -> None:
    chosen = layered.select(lender, product, jurisdiction)
    for policy in layered.policies:
        if policy.match.matches(lender, product, jurisdiction):
            assert policy.match.specificity <= chosen.match.specificity


def test_a_lender_policy_beats_the_default_only_for_its_loans(tmp_path: Path) -> None:
    directory = copy_of(POLICIES, tmp_path / "policies")
    copy_of(EXAMPLE_POLICY.parent, directory)
    loaded = load_policies(directory, catalog())
    assert loaded.select("acme", "cash_loan", "CN").label == "acme-cash-loan-cn@2026-12-01.1"
    assert loaded.select("acme", "bnpl", "CN").id == "cn-default"
    assert loaded.select("acme", "cash_loan", "US").id == "us-default"


def test_no_match_is_a_clear_error() -> None:
    with pytest.raises(NoPolicyError, match="no cadence policy matches lender 'x', product 'y'"):
        book().select("x", "y", "UK")


def test_the_listing_shows_id_version_match_and_steps() -> None:
    listed = {p.id: p.model_dump(mode="json") for p in book().policies}
    cn = listed["cn-default"]
    assert cn["version"] == "2026-12-01.1"
    assert cn["match"] == {"lender_id": "*", "product": "*", "jurisdiction": "CN"}
    assert [(s["days_past_due"], s["channel"]) for s in cn["steps"]] == [
        (1, "sms"),
        (3, "sms"),
        (5, "email"),
        (10, "sms"),
    ]
