"""Borrower link tokens: opaque, scoped, expiring; any change to one is refused alike."""

import string
from datetime import UTC, datetime, timedelta

import pytest

from shared.borrower_links import BorrowerLinks, InvalidLinkError, redacted
from shared.crypto import KeyRing

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
REF = "bref_0123456789abcdef0123456789abcdef"
ALPHABET = string.ascii_letters + string.digits + "-_."  # what a token is written in


def links(kid: str = "l1") -> BorrowerLinks:
    return BorrowerLinks(KeyRing.parse(KeyRing.generate_spec(kid)), timedelta(days=30))


def test_a_token_opens_to_its_lender_loan_and_borrower_and_reveals_none_of_them() -> None:
    minter = links()
    token = minter.mint("lender-a", "loan-1", REF, now=NOW)
    claims = minter.open(token, now=NOW + timedelta(days=29))
    assert (claims.lender_id, claims.loan_id, claims.borrower_ref) == ("lender-a", "loan-1", REF)
    assert claims.expires_at == NOW + timedelta(days=30)
    for secret in ("lender-a", "loan-1", REF, "bref"):
        assert secret not in token
    assert set(token) <= set(ALPHABET)


def test_two_tokens_for_the_same_loan_differ_and_have_their_own_link_ids() -> None:
    minter = links()
    one, two = (minter.mint("lender-a", "loan-1", REF, now=NOW) for _ in range(2))
    assert one != two
    assert minter.open(one, now=NOW).link_id != minter.open(two, now=NOW).link_id


def test_an_expired_token_is_refused() -> None:
    minter = links()
    token = minter.mint("lender-a", "loan-1", REF, now=NOW)
    with pytest.raises(InvalidLinkError):
        minter.open(token, now=NOW + timedelta(days=30))


def test_a_token_changed_in_any_one_character_to_any_other_is_refused() -> None:
    """Every position, every other character (the last one's spare bits included: a decoder
    alone would drop them and take the changed token)."""
    minter = links()
    for _ in range(5):
        token = minter.mint("lender-a", "loan-1", REF, now=NOW)
        for index, kept in enumerate(token):
            for other in ALPHABET.replace(kept, ""):
                with pytest.raises(InvalidLinkError):
                    minter.open(token[:index] + other + token[index + 1 :], now=NOW)


@pytest.mark.parametrize("junk", ["", "b1", "b1..", "b1.l1.!!!", "x" * 600, "b1.l1.AAAA"])
def test_junk_is_refused_without_any_other_error(junk: str) -> None:
    with pytest.raises(InvalidLinkError):
        links().open(junk, now=NOW)


def test_a_token_made_with_another_ring_is_refused_and_rotation_keeps_old_tokens_good() -> None:
    old = links("l1")
    token = old.mint("lender-a", "loan-1", REF, now=NOW)
    with pytest.raises(InvalidLinkError):
        links("l1").open(token, now=NOW)
    rotated = BorrowerLinks(
        KeyRing({"l2": bytes(32), **old.keys.keys}, primary="l2"), timedelta(days=30)
    )
    assert rotated.open(token, now=NOW).loan_id == "loan-1"


def test_a_log_sees_only_the_version_and_key_id() -> None:
    token = links().mint("lender-a", "loan-1", REF, now=NOW)
    assert redacted(token) == "b1.l1.…"
