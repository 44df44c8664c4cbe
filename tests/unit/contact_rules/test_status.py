"""Holds, disputes (US-05), opt-outs (US-06, POL-02), cease and attorney (US-08), an illegal
debt (CN-11), a time-barred debt (US-09)."""

import pytest

from shared.contact_rules import (
    Dispute,
    Hold,
    OptOut,
    Purpose,
    Recipient,
    ThirdPartyRelation,
    ValidationNotice,
    check,
    judge,
    judge_ledger,
)
from shared.events.models import HoldReason
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


@pytest.mark.parametrize("reason", [HoldReason.HARDSHIP, HoldReason.DISPUTE])
def test_no_reminder_under_a_hold(reason: HoldReason) -> None:
    facts = cn_facts(holds=(Hold(reason, at("2026-05-01 10:00", SHANGHAI)),))
    reminder = contact(at("2026-05-05 10:00", SHANGHAI), Channel.SMS)
    decision = check(reminder, [], facts, CN)
    assert decision.refused_by == ("POL-01",)
    assert decision.next_allowed_at is None
    assert [v.rule_id for v in judge(reminder, [reminder], facts, CN)] == ["POL-01"]


def test_a_hold_judges_by_its_own_time() -> None:
    hold = Hold(
        HoldReason.HARDSHIP, at("2026-05-01 10:00", SHANGHAI), at("2026-05-03 10:00", SHANGHAI)
    )
    facts = cn_facts(holds=(hold,))
    before = contact(at("2026-04-30 10:00", SHANGHAI), Channel.SMS)
    during = contact(at("2026-05-02 10:00", SHANGHAI), Channel.SMS)
    after = contact(at("2026-05-04 10:00", SHANGHAI), Channel.SMS)
    violations = judge_ledger([before, during, after], facts, CN)
    assert [(v.rule_id, v.contact_id) for v in violations] == [("POL-01", during.id)]
    # A hold with a known end: allowed again when it is lifted.
    assert check(during, [], facts, CN).next_allowed_at == at("2026-05-03 10:00", SHANGHAI)


def test_us05_written_dispute_in_the_period_stops_collection_until_verification() -> None:
    sent = at("2026-05-01 10:00", NEW_YORK)
    dispute = Dispute(
        at("2026-05-10 10:00", NEW_YORK), verification_sent_at=at("2026-05-20 10:00", NEW_YORK)
    )
    facts = us_facts(validation_notices=(ValidationNotice("agency-a", sent),), disputes=(dispute,))
    during = contact(at("2026-05-12 10:00", NEW_YORK), party=AGENCY)
    decision = check(during, [], facts, US)
    assert decision.refused_by == ("US-05",)
    assert decision.next_allowed_at == at("2026-05-20 10:00", NEW_YORK)
    verification = contact(
        at("2026-05-12 10:00", NEW_YORK), Channel.LETTER, party=AGENCY, purpose=Purpose.VERIFICATION
    )
    assert check(verification, [], facts, US).allowed
    assert check(contact(at("2026-05-21 10:00", NEW_YORK), party=AGENCY), [], facts, US).allowed


def test_us05_open_dispute_without_verification_never_ends_by_time() -> None:
    facts = us_facts(disputes=(Dispute(at("2026-05-10 10:00", NEW_YORK), agency_id="agency-a"),))
    facts = us_facts(
        validation_notices=(ValidationNotice("agency-a", at("2026-05-01 10:00", NEW_YORK)),),
        disputes=facts.disputes,
    )
    decision = check(contact(at("2026-05-12 10:00", NEW_YORK), party=AGENCY), [], facts, US)
    assert decision.refused_by == ("US-05",)
    assert decision.next_allowed_at is None


@pytest.mark.parametrize(
    "dispute",
    [
        Dispute(at("2026-06-20 10:00", NEW_YORK)),  # after the period (receipt ~8 May + 30 days)
        Dispute(at("2026-05-10 10:00", NEW_YORK), written=False),  # oral
        Dispute(at("2026-05-10 10:00", NEW_YORK), agency_id="agency-b"),  # to another collector
    ],
)
def test_us05_does_not_stop_other_disputes(dispute: Dispute) -> None:
    notice = ValidationNotice("agency-a", at("2026-05-01 10:00", NEW_YORK))
    facts = us_facts(validation_notices=(notice,), disputes=(dispute,))
    assert check(contact(at("2026-06-22 10:00", NEW_YORK), party=AGENCY), [], facts, US).allowed


def test_opt_out_is_per_channel() -> None:
    facts = us_facts(opt_outs=(OptOut(Channel.SMS, at("2026-05-01 10:00", NEW_YORK)),))
    sms = contact(at("2026-05-05 10:00", NEW_YORK), Channel.SMS, party=AGENCY)
    email = contact(at("2026-05-05 10:00", NEW_YORK), Channel.EMAIL, party=AGENCY)
    assert check(sms, [], facts, US).refused_by == ("US-06",)
    assert check(email, [], facts, US).allowed
    cn = cn_facts(opt_outs=(OptOut(Channel.SMS, at("2026-05-01 10:00", SHANGHAI)),))
    assert check(contact(at("2026-05-05 10:00", SHANGHAI), Channel.SMS), [], cn, CN).refused_by == (
        "POL-02",
    )


def test_us06_every_text_carries_an_opt_out_notice() -> None:
    bare = contact(
        at("2026-05-05 10:00", NEW_YORK), Channel.SMS, party=AGENCY, opt_out_notice=False
    )
    assert [v.rule_id for v in judge(bare, [], us_facts(), US)] == ["US-06"]


def test_us08_cease_and_attorney() -> None:
    cease = us_facts(cease_requested_at=at("2026-05-01 10:00", NEW_YORK))
    call = contact(at("2026-05-05 10:00", NEW_YORK), party=AGENCY)
    assert check(call, [], cease, US).refused_by == ("US-08",)
    confirmation = contact(
        at("2026-05-05 10:00", NEW_YORK),
        Channel.LETTER,
        party=AGENCY,
        purpose=Purpose.CEASE_CONFIRMATION,
    )
    assert check(confirmation, [], cease, US).allowed
    lawyer = us_facts(attorney_represented_since=at("2026-05-01 10:00", NEW_YORK))
    assert check(call, [], lawyer, US).refused_by == ("US-08",)
    to_attorney = contact(
        at("2026-05-05 10:00", NEW_YORK),
        party=AGENCY,
        recipient=Recipient.THIRD_PARTY,
        third_party_ref="attorney-1",
        third_party_relation=ThirdPartyRelation.ATTORNEY,
    )
    assert check(to_attorney, [], lawyer, US).allowed


def test_cn11_an_illegal_debt_is_never_collected() -> None:
    decision = check(contact(at("2026-05-05 10:00", SHANGHAI)), [], cn_facts(illegal_debt=True), CN)
    assert decision.refused_by == ("CN-11",)
    assert decision.next_allowed_at is None


def test_cn11_a_suspected_illegal_debt_hold_is_read_as_illegal_while_it_stands() -> None:
    placed, lifted = at("2026-05-01 10:00", SHANGHAI), at("2026-05-06 10:00", SHANGHAI)
    hold = Hold(HoldReason.SUSPECTED_ILLEGAL_DEBT, placed, lifted)
    held = check(contact(at("2026-05-05 10:00", SHANGHAI)), [], cn_facts(holds=(hold,)), CN)
    assert held.refused_by == ("POL-01", "CN-11")
    before = check(contact(at("2026-04-30 10:00", SHANGHAI)), [], cn_facts(holds=(hold,)), CN)
    after = check(contact(at("2026-05-07 10:00", SHANGHAI)), [], cn_facts(holds=(hold,)), CN)
    assert before.allowed
    assert after.allowed


def test_us09_no_threat_of_suit_on_a_time_barred_debt() -> None:
    threat = contact(
        at("2026-05-05 10:00", NEW_YORK), Channel.LETTER, party=AGENCY, threatens_suit=True
    )
    assert [v.rule_id for v in judge(threat, [], us_facts(time_barred=True), US)] == ["US-09"]
    assert judge(threat, [], us_facts(), US) == ()


def test_lender_reminders_in_the_us_still_respect_holds() -> None:
    facts = us_facts(holds=(Hold(HoldReason.COMPLAINT, at("2026-05-01 10:00", NEW_YORK)),))
    assert check(
        contact(at("2026-05-05 10:00", NEW_YORK), Channel.EMAIL, party=LENDER), [], facts, US
    ).refused_by == ("POL-01",)
