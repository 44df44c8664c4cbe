"""CN-06 (banned wording), CN-07 (field visits), US-12 (autodialed calls and texts)."""

import pytest

from shared.contact_rules import OptOut, check, judge
from shared.events.models import ConsentKind, ConsentRecord
from shared.vocabulary import Channel
from tests.unit.contact_rules.support import (
    AGENCY,
    CN,
    LENDER,
    NEW_YORK,
    SHANGHAI,
    US,
    at,
    cn_facts,
    contact,
    us_facts,
)


def test_cn06_banned_wording_in_a_message() -> None:
    threat = contact(
        at("2026-05-05 10:00", SHANGHAI), Channel.SMS, party=AGENCY, text="再不还款就爆通讯录"
    )
    violations = judge(threat, [], cn_facts(), CN)
    assert [v.rule_id for v in violations] == ["CN-06"]
    assert "爆通讯录" in violations[0].explanation
    polite = contact(
        at("2026-05-05 10:00", SHANGHAI), Channel.SMS, text="您的账单已逾期，请尽快还款"
    )
    assert judge(polite, [], cn_facts(), CN) == ()


@pytest.mark.parametrize(("recording", "staff"), [(None, 2), ("rec-1", 1), (None, None)])
def test_cn07_visits_are_recorded_and_made_by_two(recording: str | None, staff: int | None) -> None:
    visit = contact(
        at("2026-05-05 10:00", SHANGHAI),
        Channel.FIELD_VISIT,
        party=AGENCY,
        recording_id=recording,
        staff_count=staff,
    )
    assert check(visit, [], cn_facts(), CN).refused_by == ("CN-07",)


def test_us12_autodialed_texts_need_consent_even_from_the_lender() -> None:
    text = contact(
        at("2026-05-05 10:00", NEW_YORK), Channel.SMS, party=LENDER, autodialed=True, to_mobile=True
    )
    assert check(text, [], us_facts(), US).refused_by == ("US-12",)
    consent = ConsentRecord(
        kind=ConsentKind.AUTODIALED_CALLS_AND_TEXTS,
        granted=True,
        recorded_at=at("2026-04-01 10:00", NEW_YORK),
    )
    assert check(text, [], us_facts(consents=(consent,)), US).allowed


def test_us12_revocation_is_honoured_within_ten_business_days() -> None:
    granted = ConsentRecord(
        kind=ConsentKind.AUTODIALED_CALLS_AND_TEXTS,
        granted=True,
        recorded_at=at("2026-04-01 10:00", NEW_YORK),
    )
    stop = OptOut(Channel.SMS, at("2026-05-01 10:00", NEW_YORK))  # a Friday
    facts = us_facts(consents=(granted,), opt_outs=(stop,))

    def text(when: str) -> bool:
        sms = contact(
            at(when, NEW_YORK), Channel.SMS, party=LENDER, autodialed=True, to_mobile=True
        )
        return check(sms, [], facts, US).allowed

    assert text("2026-05-15 20:00")  # the 10th business day
    assert not text("2026-05-16 10:00")


@pytest.mark.parametrize(
    "text",
    [
        "there is an ＡＲＲＥＳＴ ＷＡＲＲＡＮＴ for you",
        "there is an arrest\u200b warrant for you",  # a zero-width space
        "there is an Arrest\u00adWar rant for you",  # a soft hyphen, a space inside a word
    ],
)
def test_cn06_banned_wording_cannot_hide_behind_width_case_or_invisible_characters(
    text: str,
) -> None:
    threat = contact(at("2026-05-05 10:00", SHANGHAI), Channel.SMS, party=AGENCY, text=text)
    violations = judge(threat, [], cn_facts(), CN)
    assert [v.rule_id for v in violations] == ["CN-06"]
    assert "arrest warrant" in violations[0].explanation
