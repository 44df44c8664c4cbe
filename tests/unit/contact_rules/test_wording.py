"""One banned-phrase matcher for every service (shared/contact_rules/wording.py): NFKC, case
folding, format characters and white space removed before matching."""

import pytest

from services.agency_gateway.domain.contact_check import banned_phrases as gateway_phrases
from services.notifier.domain.template_checks import banned_phrases as message_phrases
from shared.contact_rules import load_pack
from shared.contact_rules.params import BannedPhraseParams
from shared.contact_rules.wording import banned_in, fold
from shared.vocabulary import Jurisdiction

HIDDEN = [
    "told him about the ＡＲＲＥＳＴ ＷＡＲＲＡＮＴ",
    "told him about the arrest\u200bwarrant",  # a zero-width space in place of the space
    "told him about the Arrest War\u200drant",  # a zero-width joiner inside a word
    "told him about the arrest\n\twarrant",  # line breaks and tabs
    "told him about the ＡＲＲＥＳＴ\u200b ｗａｒｒａｎｔ",
]


def cn_phrases() -> list[str]:
    params = load_pack(Jurisdiction.CN).rules["CN-06"].params
    assert isinstance(params, BannedPhraseParams)
    return list(params.banned_phrases)


def test_folding_removes_what_does_not_change_the_words() -> None:
    assert fold("Ａrrest\u200b \u00adWARRANT\n") == "arrestwarrant"
    assert fold("爆　通讯录") == "爆通讯录"  # an ideographic space
    assert fold("") == ""


@pytest.mark.parametrize("text", HIDDEN)
def test_a_banned_phrase_is_found_however_it_is_written(text: str) -> None:
    phrases = cn_phrases()
    assert banned_in(text, phrases) == ["arrest warrant"]


def test_a_phrase_the_notifier_bans_is_a_phrase_the_gateway_bans() -> None:
    gateway = set(gateway_phrases([load_pack(j) for j in Jurisdiction]))
    for jurisdiction in Jurisdiction:
        assert set(message_phrases(load_pack(jurisdiction))) <= gateway


def test_innocent_text_is_not_flagged() -> None:
    phrases = cn_phrases()
    assert banned_in("agreed to pay on Friday", phrases) == []
    assert banned_in("您的账单已逾期，请尽快还款", phrases) == []
