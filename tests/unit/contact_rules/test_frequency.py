"""CN-02, CN-03, US-02, US-03 and POL-03 (messages): counted per person per debt, across
parties where the rule says so, in the borrower's calendar days."""

from typing import Any

from shared.contact_rules import Contact, Outcome, Party, check, judge, tighten
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
    inbound,
    us_facts,
)


def _connected(text: str, party: Party = LENDER, **fields: Any) -> Contact:
    return contact(at(text, SHANGHAI), party=party, outcome=Outcome.ANSWERED, **fields)


def test_cn02_counts_the_lender_and_every_agency_together() -> None:
    ledger = [
        _connected("2026-05-05 09:00", LENDER),
        _connected("2026-05-05 10:00", AGENCY),
        _connected("2026-05-05 11:00", LENDER),
    ]
    fourth = contact(at("2026-05-05 15:00", SHANGHAI), party=AGENCY)
    decision = check(fourth, ledger, cn_facts(), CN)
    assert decision.refused_by == ("CN-02",)
    assert decision.findings[0].evidence == tuple(c.id for c in ledger)
    assert decision.next_allowed_at == at("2026-05-06 08:00", SHANGHAI)  # next day, after CN-01


def test_cn02_judges_only_a_call_that_connected() -> None:
    ledger = [_connected(f"2026-05-05 {h:02d}:00") for h in (9, 10, 11)]
    unanswered = contact(at("2026-05-05 15:00", SHANGHAI))
    answered = _connected("2026-05-05 16:00")
    assert judge(unanswered, [*ledger, unanswered], cn_facts(), CN) == ()
    violations = judge(answered, [*ledger, answered], cn_facts(), CN)
    assert [(v.rule_id, v.evidence) for v in violations] == [("CN-02", tuple(c.id for c in ledger))]


def test_counting_is_per_person_per_debt_never_per_number() -> None:
    # Three numbers of the same person are one person; another debt or person is not counted.
    ledger = [_connected(f"2026-05-05 {h:02d}:00") for h in (9, 10, 11)]
    other_debt = [_connected(f"2026-05-05 {h:02d}:30", debt_id="loan-2") for h in (9, 10, 11)]
    other_person = [_connected(f"2026-05-05 {h:02d}:45", person_ref="p-2") for h in (9, 10, 11)]
    call = contact(at("2026-05-05 15:00", SHANGHAI))
    assert check(call, [*ledger[:2], *other_debt, *other_person], cn_facts(), CN).allowed
    assert check(call, ledger, cn_facts(), CN).refused_by == ("CN-02",)


def test_cn02_counts_the_borrowers_day_not_the_servers() -> None:
    # A borrower in New York: 21:00 EDT on 5 May is already 6 May on a UTC server.
    facts = cn_facts(borrower_zone="America/New_York")
    ledger = [
        contact(at(f"2026-05-05 {h:02d}:00", NEW_YORK), outcome=Outcome.ANSWERED)
        for h in (8, 9, 10)
    ]
    evening = contact(at("2026-05-05 21:00", NEW_YORK))
    decision = check(evening, ledger, facts, CN)
    assert decision.refused_by == ("CN-02",)
    assert decision.next_allowed_at == at("2026-05-06 08:00", NEW_YORK)


def test_cn03_caps_unanswered_attempts_unless_agreed() -> None:
    ledger = [contact(at(f"2026-05-05 {h:02d}:00", SHANGHAI)) for h in range(9, 15)]
    call = contact(at("2026-05-05 16:00", SHANGHAI))
    assert check(call, ledger, cn_facts(), CN).refused_by == ("CN-03",)
    consent = ConsentRecord(
        kind=ConsentKind.CALLS_BEYOND_DAILY_CAP,
        granted=True,
        recorded_at=at("2026-05-01 10:00", SHANGHAI),
    )
    assert check(call, ledger, cn_facts(consents=(consent,)), CN).allowed


def _call(text: str, **fields: Any) -> Contact:
    fields.setdefault("party", AGENCY)
    return contact(at(text, NEW_YORK), **fields)


def test_us02_seven_calls_in_seven_days() -> None:
    ledger = [_call(f"2026-05-0{d} 10:00") for d in range(4, 9)] + [
        _call("2026-05-09 10:00"),
        _call("2026-05-10 10:00"),
    ]
    eighth = _call("2026-05-10 15:00")
    decision = check(eighth, ledger, us_facts(), US)
    assert decision.refused_by == ("US-02",)
    assert set(decision.findings[0].evidence) == {c.id for c in ledger}
    # The 4 May call leaves the 7-day window on 11 May (New York days).
    assert decision.next_allowed_at == at("2026-05-11 08:00", NEW_YORK)
    assert [v.rule_id for v in judge(eighth, [*ledger, eighth], us_facts(), US)] == ["US-02"]


def test_sms_and_email_do_not_count_toward_us02() -> None:
    ledger = [_call(f"2026-05-0{d} 10:00") for d in range(4, 10)]
    ledger += [_call(f"2026-05-0{d} 11:00", channel=Channel.SMS) for d in range(4, 10)]
    ledger += [_call(f"2026-05-0{d} 12:00", channel=Channel.EMAIL) for d in range(4, 10)]
    assert check(_call("2026-05-10 10:00"), ledger, us_facts(), US).allowed


def test_an_inbound_conversation_starts_seven_quiet_days() -> None:
    # The consumer calls in on Monday 4 May: day 1. No call until Monday 11 May.
    talk = inbound(at("2026-05-04 10:00", NEW_YORK))
    for day in ("2026-05-04 15:00", "2026-05-07 10:00", "2026-05-10 20:00"):
        decision = check(_call(day), [talk], us_facts(), US)
        assert decision.refused_by == ("US-02",)
        assert decision.findings[0].evidence == (talk.id,)
        assert decision.next_allowed_at == at("2026-05-11 08:00", NEW_YORK)
    assert check(_call("2026-05-11 08:00"), [talk], us_facts(), US).allowed


def test_an_answered_call_without_conversation_opens_no_quiet_days() -> None:
    answered = _call("2026-05-04 10:00", outcome=Outcome.ANSWERED)
    assert check(_call("2026-05-05 10:00"), [answered], us_facts(), US).allowed


def test_a_conversation_counts_for_every_debt_discussed() -> None:
    talk = inbound(
        at("2026-05-04 10:00", NEW_YORK), debt_id="loan-2", also_discussed=frozenset({"loan-1"})
    )
    assert check(_call("2026-05-05 10:00"), [talk], us_facts(), US).refused_by == ("US-02",)


def test_calls_within_seven_days_of_direct_consent_are_excluded() -> None:
    talk = inbound(at("2026-05-04 10:00", NEW_YORK))
    consent = ConsentRecord(
        kind=ConsentKind.DIRECT_CALL_CONSENT,
        granted=True,
        recorded_at=at("2026-05-04 10:05", NEW_YORK),
    )
    facts = us_facts(consents=(consent,))
    assert check(_call("2026-05-05 10:00"), [talk], facts, US).allowed
    # The exclusion lasts seven days from the consent, then the presumption applies again.
    assert check(_call("2026-05-11 10:06"), [talk], facts, US).allowed
    many = [_call(f"2026-05-{d:02d} 10:00") for d in range(5, 12)]
    ninth = _call("2026-05-11 16:00")
    assert check(ninth, many, facts, US).allowed  # 6 of the 7 calls were excluded
    assert check(ninth, many, us_facts(), US).refused_by == ("US-02",)


def test_us02_binds_agencies_and_counts_each_collector_apart() -> None:
    lender_calls = [_call(f"2026-05-0{d} 10:00", party=LENDER) for d in range(4, 10)]
    lender_calls += [_call(f"2026-05-0{d} 11:00", party=LENDER) for d in range(4, 10)]
    assert check(_call("2026-05-09 15:00", party=LENDER), lender_calls, us_facts(), US).allowed
    assert check(_call("2026-05-09 15:00"), lender_calls, us_facts(), US).allowed
    together = tighten(US, {"US-02": {"params": {"scope": "all_parties"}}}, label="strict")
    assert check(_call("2026-05-09 15:00"), lender_calls, us_facts(), together).refused_by == (
        "US-02",
    )


def test_us02_window_is_seven_local_days() -> None:
    # Seven late calls on 4 May (the consumer agreed to late calls): refused until 11 May 00:00.
    consent = ConsentRecord(
        kind=ConsentKind.CONTACT_IN_QUIET_HOURS,
        granted=True,
        recorded_at=at("2026-05-01 00:00", NEW_YORK),
    )
    facts = us_facts(consents=(consent,))
    ledger = [_call("2026-05-04 23:30") for _ in range(7)]
    decision = check(_call("2026-05-10 23:59"), ledger, facts, US)
    assert decision.refused_by == ("US-02",)
    assert decision.next_allowed_at == at("2026-05-11 00:00", NEW_YORK)
    assert check(_call("2026-05-11 00:00"), ledger, facts, US).allowed


def _text(when: str, party: Party = LENDER, channel: Channel = Channel.SMS) -> Contact:
    return contact(at(when, SHANGHAI), party=party, channel=channel)


def test_pol03_caps_messages_a_day_across_the_lender_and_every_agency() -> None:
    ledger = [_text("2026-05-05 09:00", AGENCY), _text("2026-05-05 10:00", LENDER, Channel.EMAIL)]
    third = _text("2026-05-05 15:00", LENDER)
    decision = check(third, ledger, cn_facts(), CN)
    assert decision.refused_by == ("POL-03",)
    assert decision.findings[0].evidence == tuple(c.id for c in ledger)
    assert decision.next_allowed_at == at("2026-05-06 08:00", SHANGHAI)  # next day, after CN-01
    assert check(_text("2026-05-06 09:00", LENDER), ledger, cn_facts(), CN).allowed


def test_pol03_counts_written_messages_only_and_may_be_tightened() -> None:
    calls = [contact(at(f"2026-05-05 {h:02d}:00", SHANGHAI)) for h in (9, 10)]
    assert check(_text("2026-05-05 15:00"), calls, cn_facts(), CN).allowed
    one_a_day = tighten(CN, {"POL-03": {"params": {"max_per_day": 1}}}, label="lender-x")
    ledger = [_text("2026-05-05 09:00", AGENCY)]
    assert check(_text("2026-05-05 15:00"), ledger, cn_facts(), one_a_day).refused_by == ("POL-03",)
