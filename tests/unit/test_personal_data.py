"""What survives a deletion, and until when: from the rule packs' retention periods."""

from datetime import UTC, datetime

from shared.personal_data import KeepingBasis, collection_records, debt_owed
from shared.vocabulary import Jurisdiction


def test_collection_records_are_kept_the_packs_period_after_the_last_activity() -> None:
    last = datetime(2026, 3, 1, tzinfo=UTC)
    us = collection_records(Jurisdiction.US, last)
    cn = collection_records(Jurisdiction.CN, last)
    assert us.until == datetime(2029, 3, 1, tzinfo=UTC)
    assert cn.until == datetime(2031, 3, 1, tzinfo=UTC)
    assert us.legal_basis.startswith("US-11")
    assert cn.legal_basis.startswith("CN-08")
    assert us.basis is KeepingBasis.COLLECTION_RECORDS


def test_a_29_february_ends_on_28_february() -> None:
    kept = collection_records(Jurisdiction.US, datetime(2028, 2, 29, tzinfo=UTC))
    assert kept.until == datetime(2031, 2, 28, tzinfo=UTC)


def test_contact_details_are_kept_while_the_debt_is_owed_with_no_fixed_date() -> None:
    kept = debt_owed()
    assert kept.until is None
    assert "PIPL art. 13" in kept.legal_basis
