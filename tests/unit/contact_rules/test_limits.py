"""How the borrower's wishes become limits on contact (shared by every party's check)."""

from datetime import UTC, datetime

from shared.contact_rules import DebtFacts, OptOut
from shared.contact_rules.limits import (
    borrower_limits,
    replied_opt_out,
    reported_limits,
    represented,
)
from shared.events.models import ContactPreferences
from shared.events.notifications import OptOutRecorded, OptOutSource
from shared.vocabulary import Channel, Jurisdiction

MORNING = datetime(2026, 12, 1, 1, tzinfo=UTC)
NOON = datetime(2026, 12, 1, 4, tzinfo=UTC)


def opt_out(source: OptOutSource, channel: Channel = Channel.SMS) -> OptOutRecorded:
    return OptOutRecorded(
        borrower_ref="bref_1", channel=channel, source=source, at=MORNING, loan_ids=["L-1"]
    )


def test_a_reply_is_stored_and_the_lenders_report_comes_with_its_preferences() -> None:
    assert replied_opt_out(opt_out(OptOutSource.REPLY)) == OptOut(Channel.SMS, MORNING)
    assert replied_opt_out(opt_out(OptOutSource.PREFERENCES)) is None


def test_a_reply_outlasts_a_later_report_that_lifts_nothing() -> None:
    reply = OptOut(Channel.SMS, MORNING)
    later = ContactPreferences(opted_out_channels=[Channel.EMAIL, Channel.SMS])
    limits = borrower_limits(later, NOON, [reply])
    assert sorted(limits.opt_outs, key=lambda o: o.channel) == [
        OptOut(Channel.EMAIL, NOON),
        reply,  # the earlier of the two opt-outs of sms
    ]
    assert borrower_limits(ContactPreferences(), NOON, [reply]).opt_outs == (reply,)
    assert borrower_limits(None, None, [reply]).opt_outs == (reply,)


def test_the_report_sets_cease_attorney_and_consents_from_its_time() -> None:
    wishes = ContactPreferences(cease_communication=True, attorney_represented=True)
    limits = reported_limits(wishes, NOON)
    assert (limits.cease_requested_at, limits.attorney_represented_since) == (NOON, NOON)
    facts = limits.on(DebtFacts("d", "p", Jurisdiction.CN, "Asia/Shanghai"))
    assert facts.cease_requested_at == NOON
    assert facts.opted_out(Channel.SMS, NOON) is None


def test_a_represented_borrower_is_refused_from_the_reports_time() -> None:
    wishes = ContactPreferences(attorney_represented=True)
    facts = reported_limits(wishes, NOON).on(DebtFacts("d", "p", Jurisdiction.CN, "Asia/Shanghai"))
    assert represented(facts, MORNING) is None
    why = represented(facts, NOON)
    assert why is not None
    assert "attorney since 2026-12-01 12:00" in why  # the borrower's local time
