"""CN-04 and CN-05 (emergency contacts, disclosure), US-07 (the short list, location inquiries)."""

from typing import Any

from shared.contact_rules import (
    Contact,
    Outcome,
    Recipient,
    ThirdPartyObjection,
    ThirdPartyRelation,
    check,
    judge,
)
from shared.vocabulary import Channel
from tests.unit.contact_rules.support import (
    AGENCY,
    CN,
    NEW_YORK,
    SHANGHAI,
    US,
    at,
    cn_facts,
    contact,
    us_facts,
)


def _third(text: str, zone: Any = SHANGHAI, **fields: Any) -> Contact:
    fields.setdefault("third_party_ref", "friend-1")
    fields.setdefault("party", AGENCY)
    return contact(at(text, zone), recipient=Recipient.THIRD_PARTY, **fields)


def test_cn04_only_when_the_debtor_is_unreachable() -> None:
    answered = contact(at("2026-05-05 09:00", SHANGHAI), outcome=Outcome.ANSWERED)
    fails = [contact(at(f"2026-05-05 1{m}:00", SHANGHAI)) for m in range(3)]
    call = _third("2026-05-05 15:00")
    decision = check(call, [answered], cn_facts(), CN)
    assert decision.refused_by == ("CN-04",)
    assert decision.findings[0].evidence == (answered.id,)
    assert check(call, [answered, *fails], cn_facts(), CN).allowed
    invalid = cn_facts(debtor_unreachable_since=at("2026-05-01 00:00", SHANGHAI))
    assert check(call, [], invalid, CN).allowed


def test_cn04_contact_stops_when_the_third_party_objects() -> None:
    fails = [contact(at(f"2026-05-05 1{m}:00", SHANGHAI)) for m in range(3)]
    objection = ThirdPartyObjection("friend-1", at("2026-05-04 10:00", SHANGHAI))
    assert check(
        _third("2026-05-05 15:00"), fails, cn_facts(third_party_objections=(objection,)), CN
    ).refused_by == ("CN-04",)


def test_cn05_disclosure_and_naming_are_judged() -> None:
    fails = [contact(at(f"2026-05-05 1{m}:00", SHANGHAI)) for m in range(3)]
    told = _third("2026-05-05 15:00", outcome=Outcome.CONVERSATION, debt_disclosed=True)
    assert [v.rule_id for v in judge(told, fails, cn_facts(), CN)] == ["CN-05"]
    unnamed = contact(
        at("2026-05-05 15:00", SHANGHAI),
        party=AGENCY,
        outcome=Outcome.CONVERSATION,
        agency_named=False,
    )
    assert [v.rule_id for v in judge(unnamed, [], cn_facts(), CN)] == ["CN-05"]


def test_us07_the_short_list_and_one_location_inquiry() -> None:
    spouse = _third("2026-05-05 10:00", NEW_YORK, third_party_relation=ThirdPartyRelation.SPOUSE)
    assert check(spouse, [], us_facts(), US).allowed
    neighbour = _third("2026-05-05 10:00", NEW_YORK, third_party_relation=ThirdPartyRelation.OTHER)
    assert check(neighbour, [], us_facts(), US).refused_by == ("US-07",)
    inquiry = _third(
        "2026-05-05 10:00",
        NEW_YORK,
        third_party_relation=ThirdPartyRelation.OTHER,
        location_inquiry=True,
    )
    assert check(inquiry, [], us_facts(), US).allowed
    again = _third(
        "2026-05-06 10:00",
        NEW_YORK,
        third_party_relation=ThirdPartyRelation.OTHER,
        location_inquiry=True,
    )
    decision = check(again, [inquiry], us_facts(), US)
    assert decision.refused_by == ("US-07",)
    assert decision.findings[0].evidence == (inquiry.id,)
    mentions = _third(
        "2026-05-05 10:00",
        NEW_YORK,
        location_inquiry=True,
        debt_disclosed=True,
        channel=Channel.PHONE_CALL,
    )
    assert [v.rule_id for v in judge(mentions, [], us_facts(), US)] == ["US-07"]
