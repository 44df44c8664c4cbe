"""docs/contact-rules.md is what the packs produce: it cannot drift from them."""

from shared.contact_rules.reference import DOCUMENT, render


def test_the_generated_reference_is_up_to_date() -> None:
    assert DOCUMENT.read_text("utf-8") == render(), (
        "docs/contact-rules.md is stale: run python -m shared.contact_rules.reference"
    )


def test_the_reference_lists_every_rule_with_status_parameters_and_source() -> None:
    text = render()
    assert "| CN-02 |" in text
    assert "max_per_day = 3" in text
    assert "NIFA 2024 guideline" in text
    assert "| US-10 |" in text
    assert "out of scope (A)" in text
