"""CN-09 (the borrower is told before the agency's first contact), CN-10 (only while placed),
US-04 (validation notice)."""

from shared.contact_rules import (
    Outcome,
    Placement,
    Purpose,
    ValidationNotice,
    check,
    judge,
    judge_ledger,
    validation_period_end,
)
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

PLACED = at("2026-05-01 10:00", SHANGHAI)


def test_cn09_an_agency_contact_before_the_notice_is_refused_and_judged() -> None:
    facts = cn_facts(placements=(Placement("agency-a", PLACED),))
    call = contact(at("2026-05-02 10:00", SHANGHAI), party=AGENCY)
    decision = check(call, [], facts, CN)
    assert decision.refused_by == ("CN-09",)
    assert decision.next_allowed_at is None
    violations = judge(call, [call], facts, CN)
    assert [(v.rule_id, v.pack_version, v.contact_id) for v in violations] == [
        ("CN-09", "CN-2026.1", call.id)
    ]
    assert check(contact(at("2026-05-02 10:00", SHANGHAI), party=LENDER), [], facts, CN).allowed


def test_cn09_the_order_of_notice_and_first_contact() -> None:
    notified = at("2026-05-03 09:00", SHANGHAI)
    facts = cn_facts(placements=(Placement("agency-a", PLACED, borrower_notified_at=notified),))
    early = contact(at("2026-05-02 10:00", SHANGHAI), party=AGENCY)
    late = contact(at("2026-05-03 10:00", SHANGHAI), party=AGENCY)
    assert [(v.rule_id, v.contact_id) for v in judge_ledger([early, late], facts, CN)] == [
        ("CN-09", early.id)
    ]
    # A notice already scheduled: the agency may contact once it has gone out.
    assert check(early, [], facts, CN).next_allowed_at == notified


def test_cn10_no_contact_after_recall() -> None:
    placement = Placement("agency-a", PLACED, PLACED, ended_at=at("2026-05-10 10:00", SHANGHAI))
    facts = cn_facts(placements=(placement,))
    call = contact(at("2026-05-11 10:00", SHANGHAI), party=AGENCY)
    assert check(call, [], facts, CN).refused_by == ("CN-10",)


def test_us04_a_notice_within_five_days_of_the_first_communication() -> None:
    facts = us_facts(validation_notices=())
    first = contact(
        at("2026-05-04 10:00", NEW_YORK), Channel.LETTER, party=AGENCY, outcome=Outcome.DELIVERED
    )
    day_five = contact(at("2026-05-09 20:00", NEW_YORK), party=AGENCY)
    day_six = contact(at("2026-05-10 10:00", NEW_YORK), party=AGENCY)
    assert check(day_five, [first], facts, US).allowed
    decision = check(day_six, [first], facts, US)
    assert decision.refused_by == ("US-04",)
    assert decision.findings[0].evidence == (first.id,)
    notice = contact(
        at("2026-05-10 10:00", NEW_YORK),
        Channel.LETTER,
        party=AGENCY,
        purpose=Purpose.VALIDATION_NOTICE,
    )
    assert check(notice, [first], facts, US).allowed
    assert check(day_six, [first, notice], facts, US).allowed
    sent = us_facts(
        validation_notices=(ValidationNotice("agency-a", at("2026-05-05 10:00", NEW_YORK)),)
    )
    assert check(day_six, [first], sent, US).allowed


def test_validation_period_ends_thirty_days_after_assumed_receipt() -> None:
    # Sent Friday 1 May 2026: five business days later is Friday 8 May; the period's last day
    # is 7 June, so it ends at the start of 8 June, New York time.
    facts = us_facts(
        validation_notices=(ValidationNotice("agency-a", at("2026-05-01 10:00", NEW_YORK)),)
    )
    assert validation_period_end(facts, "agency-a", US) == at("2026-06-08 00:00", NEW_YORK)
    assert validation_period_end(facts, "agency-b", US) is None
