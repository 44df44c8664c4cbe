"""The last word before a send: the loan's state, then the shared rule packs."""

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from services.notifier.domain.files import (
    Case,
    CaseHold,
    CasePlacement,
    LoanState,
    Notification,
    Preferences,
)
from services.notifier.domain.outreach import notifier_pack, rules_decision, stop_reason
from shared.contact_rules import Contact, Party, load_pack
from shared.events.models import ContactPreferences
from shared.events.notifications import NotificationKind
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.test_lifecycle import LENDER, loan

CN, US = (notifier_pack(load_pack(j)) for j in (Jurisdiction.CN, Jurisdiction.US))


def reminder(
    channel: Channel = Channel.SMS, kind: NotificationKind = NotificationKind.REMINDER
) -> Notification:
    return Notification(
        id=uuid4(),
        lender_id=LENDER,
        loan_id="L1",
        borrower_ref="bref_1",
        kind=kind,
        step=1,
        channel=channel,
        template="gentle",
        locale="zh-CN",
        policy_id="test",
        policy_version="1",
        due_at=datetime(2026, 3, 2, tzinfo=UTC),
        dedupe_key="reminder:0:1",
    )


def us_loan() -> Case:
    return replace(loan(zone="America/New_York"), jurisdiction=Jurisdiction.US)


def test_the_quiet_window_is_the_borrowers_whatever_the_servers_zone() -> None:
    instant = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, 09:30 in New York
    refused = rules_decision(reminder(), loan(), None, [], CN, instant)
    assert refused.refused_by == ("CN-01",)
    assert refused.next_allowed_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    assert rules_decision(reminder(), us_loan(), None, [], US, instant).allowed


def test_the_quiet_window_moves_with_daylight_saving() -> None:
    # 12:30 UTC is 07:30 EST on 7 March (quiet) but 08:30 EDT on 9 March (allowed).
    before = rules_decision(
        reminder(), us_loan(), None, [], US, datetime(2026, 3, 7, 12, 30, tzinfo=UTC)
    )
    assert before.refused_by == ("US-01",)
    assert before.next_allowed_at == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    after = rules_decision(
        reminder(), us_loan(), None, [], US, datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    )
    assert after.allowed


def test_caps_count_what_agencies_sent_the_same_day() -> None:
    morning = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    agency_texts = [
        Contact(
            id=f"agency:a1:{n}",
            debt_id=f"{LENDER}/L1",
            person_ref="bref_1",
            party=Party.agency("a1"),
            channel=Channel.SMS,
            at=morning,
        )
        for n in range(2)
    ]
    later = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    decision = rules_decision(reminder(), loan(), None, agency_texts, CN, later)
    assert decision.refused_by == ("POL-03",)
    assert decision.next_allowed_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert rules_decision(reminder(), loan(), None, agency_texts[:1], CN, later).allowed


def test_a_stopped_loan_or_an_opted_out_channel_stops_the_send() -> None:
    file = loan()
    assert stop_reason(reminder(), file, None) is None
    file.holds["H1"] = CaseHold("H1", "hardship", datetime(2026, 3, 1, tzinfo=UTC))
    assert stop_reason(reminder(), file, None) == "hold:hardship"
    file.holds.clear()
    prefs = Preferences(
        LENDER, "bref_1", reply_opt_outs={Channel.SMS: datetime(2026, 3, 1, tzinfo=UTC)}
    )
    assert stop_reason(reminder(), file, prefs) == "opted_out:sms"
    assert stop_reason(reminder(Channel.EMAIL), file, prefs) is None
    ceased = Preferences(LENDER, "bref_1", ContactPreferences(cease_communication=True))
    assert stop_reason(reminder(Channel.EMAIL), file, ceased) == "cease_requested"
    file.state, file.state_reason = LoanState.CURED, "paid"
    assert stop_reason(reminder(), file, None) == "paid"


def test_a_notice_goes_only_while_its_placement_lasts() -> None:
    file = loan()
    notice = reminder(kind=NotificationKind.AGENCY_NOTICE)
    notice.assignment_id = "A1"
    file.placements.append(
        CasePlacement("A1", "a1", "Acme", None, datetime(2026, 3, 1, tzinfo=UTC))
    )
    assert stop_reason(notice, file, None) is None
    file.placements[0].ended_at = datetime(2026, 3, 2, tzinfo=UTC)
    assert stop_reason(notice, file, None) == "placement_ended"
