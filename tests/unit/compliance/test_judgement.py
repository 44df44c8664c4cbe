"""Log entries judged by both packs: each rule found where it was broken, with the leaves
that prove it, and nothing where the facts of the time allowed the contact."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.compliance.domain.judgement import LoggedEvent, judge_loan
from shared.contact_rules import load_pack
from shared.vocabulary import Jurisdiction

PACKS = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
# 2026-11-03 (a Tuesday) 10:00 in Shanghai; 21:00 in New York the day before.
NOON_CN = datetime(2026, 11, 3, 2, tzinfo=UTC)
REPORT = 0  # the overdue report: the jurisdiction and the borrower's zone, in every proof


def at(hours: float) -> str:
    return (NOON_CN + timedelta(hours=hours)).isoformat()


NOTICE = {"notification_id": "n-notice", "kind": "agency_notice", "channel": "email"}


class Log:
    def __init__(self, jurisdiction: str = "CN", zone: str = "Asia/Shanghai") -> None:
        self.events: list[LoggedEvent] = []
        self.add(
            "collections.loan.overdue-reported",
            jurisdiction=jurisdiction,
            borrower={"ref": "bref_1", "timezone": zone, "locale": "zh-CN"},
        )

    def add(self, event_type: str, **data: Any) -> int:
        self.events.append(LoggedEvent(len(self.events), event_type, {"loan_id": "L-1", **data}))
        return len(self.events) - 1

    def placed(self, agency: str = "ag", hours: float = -48, notified: float | None = -47) -> None:
        self.add("collections.assignment.placed", agency_id=agency, placed_at=at(hours))
        if notified is not None:
            self.add(
                "collections.notification.agency-notice-sent",
                **NOTICE,
                agency_id=agency,
                at=at(notified),
            )

    def activity(
        self, hours: float, kind: str = "call", outcome: str = "no_answer", **more: Any
    ) -> int:
        return self.add(
            "collections.agency.activity-recorded",
            activity_id=f"a{len(self.events)}",
            agency_id=more.pop("agency", "ag"),
            type=kind,
            direction="outbound",
            outcome=outcome,
            at=at(hours),
            **more,
        )

    def sent(self, hours: float, channel: str = "sms") -> int:
        return self.add(
            "collections.notification.sent",
            notification_id=f"n{len(self.events)}",
            kind="reminder",
            channel=channel,
            at=at(hours),
        )

    def rules(self) -> list[tuple[str, str, tuple[int, ...]]]:
        found = judge_loan("lender-1", "L-1", self.events, PACKS)
        return [(v.rule_id, v.party, v.leaf_indexes) for v in found]


def test_a_clean_log_has_no_violation() -> None:
    log = Log()
    log.placed()
    log.activity(0)
    log.sent(1)
    assert log.rules() == []


def test_quiet_window_in_the_borrowers_zone() -> None:
    log = Log()
    log.placed()
    late = log.activity(13)  # 23:00 in Shanghai (15:00 UTC: daytime on a server in Europe)
    assert log.rules() == [("CN-01", "agency:ag", (late, REPORT))]


def test_an_agency_calling_before_the_borrower_was_told_cn09() -> None:
    log = Log()
    log.placed(notified=None)  # leaf 1
    call = log.activity(0)
    assert log.rules() == [("CN-09", "agency:ag", (call, REPORT, 1))]
    told_later = Log()
    told_later.placed(notified=1)
    early = told_later.activity(0)
    told_later.activity(2)
    assert told_later.rules() == [("CN-09", "agency:ag", (early, REPORT, 1, 2))]


def test_contact_under_a_hold_by_the_lender_and_after_it_is_lifted() -> None:
    log = Log()
    placed = log.add(
        "collections.loan.hold-placed", hold_id="h1", reason="dispute", placed_at=at(0)
    )
    during = log.sent(1)
    lifted = log.add("collections.loan.hold-lifted", hold_id="h1", lifted_at=at(2))
    log.sent(3)
    assert log.rules() == [("POL-01", "lender", (during, REPORT, placed, lifted))]


def test_contact_after_an_opt_out_and_after_a_cease_request() -> None:
    log = Log()
    log.placed()
    stop = log.add(
        "collections.borrower.opt-out-recorded",
        channel="sms",
        at=at(1),
        borrower_ref="bref_1",
        source="reply",
        loan_ids=["L-1"],
    )
    after_stop = log.sent(2)
    log.sent(3, channel="email")  # another channel: allowed
    assert log.rules() == [("POL-02", "lender", (after_stop, REPORT, stop))]
    ceased = Log()
    ceased.placed()
    ceasing = ceased.add(
        "collections.borrower.contact-preferences-updated",
        borrower_ref="bref_1",
        preferences={"cease_communication": True},
        effective_at=at(0),
    )
    call = ceased.activity(1)
    assert ceased.rules() == [("POL-02", "agency:ag", (call, REPORT, ceasing))]


def test_daily_caps_count_the_lender_and_every_agency_together() -> None:
    log = Log()
    log.placed("ag")
    log.placed("bg")
    written = [log.sent(0), log.sent(0.5)]
    third = log.activity(1, kind="sms", outcome="delivered", agency="ag")
    fourth = log.activity(1.5, kind="sms", outcome="delivered", agency="bg")
    assert log.rules() == [
        ("POL-03", "agency:ag", (third, REPORT, *written)),
        ("POL-03", "agency:bg", (fourth, REPORT, *written, third)),
    ]


def test_field_visit_without_a_recording_or_with_one_collector() -> None:
    log = Log()
    log.placed()
    visit = log.activity(0, kind="visit", outcome="conversation", staff_count=1)
    log.activity(1, kind="visit", outcome="conversation", staff_count=2, recording_id="rec-1")
    assert log.rules() == [("CN-07", "agency:ag", (visit, REPORT))]


def test_banned_wording_in_an_agencys_message() -> None:
    log = Log()
    log.placed()
    words = PACKS[Jurisdiction.CN].rules["CN-06"].params.banned_phrases[0]  # type: ignore[attr-defined]
    text = log.activity(0, kind="sms", outcome="delivered", text=f"请注意 {words}")
    assert [(rule, leaves) for rule, _, leaves in log.rules()] == [("CN-06", (text, REPORT))]


def test_banned_wording_found_by_the_gateway_in_a_text_it_keeps_sealed() -> None:
    log = Log()
    log.placed()
    sms = log.activity(
        0, kind="sms", outcome="delivered", text_hmac="k1:00ff", banned_phrases=["jail"]
    )
    log.activity(1, kind="sms", outcome="delivered", text_hmac="k1:0a0b", banned_phrases=[])
    assert [(rule, leaves) for rule, _, leaves in log.rules()] == [("CN-06", (sms, REPORT))]


def test_us_calls_within_a_week_of_a_conversation() -> None:
    log = Log("US", "America/New_York")
    log.placed()
    talk = log.activity(16, outcome="conversation")  # 13:00 in New York
    again = log.activity(16 + 48)
    found = log.rules()
    assert ("US-02", "agency:ag", (again, REPORT, talk)) in found


def test_a_contact_before_the_report_is_judged_once_the_loan_is_known() -> None:
    log = Log()
    early = log.events.pop(0)
    log.placed(notified=None)
    log.activity(0)
    log.events.append(LoggedEvent(len(log.events), early.type, early.data))
    assert [rule for rule, _, _ in log.rules()] == ["CN-09"]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Urumqi"])
def test_violation_ids_are_stable(zone: str) -> None:
    log = Log(zone=zone)
    log.placed(notified=None)
    log.activity(0)
    first = judge_loan("lender-1", "L-1", log.events, PACKS)
    assert [v.violation_id for v in first] == [
        v.violation_id for v in judge_loan("lender-1", "L-1", log.events, PACKS)
    ]


def test_banned_wording_in_an_agencys_note() -> None:
    log = Log()
    log.placed()
    note = log.activity(0, kind="note", outcome="delivered", text="told them about the JAIL")
    log.activity(1, kind="note", outcome="delivered", text="promised to pay on Friday")
    found = judge_loan("lender-1", "L-1", log.events, PACKS)
    assert [(v.rule_id, v.party, v.leaf_indexes) for v in found] == [
        ("CN-06", "agency:ag", (note,))
    ]
    assert "jail" in found[0].explanation
    us = Log("US", "America/New_York")
    us.placed()
    us.activity(0, kind="note", outcome="delivered", text="jail")
    assert us.rules() == []  # the US pack bans no phrase


def test_answered_calls_cap_counts_every_agency() -> None:
    log = Log()
    log.placed("ag")
    log.placed("bg")
    answered = [log.activity(h, outcome="answered", agency=a) for h, a in ((0, "ag"), (1, "bg"))]
    answered.append(log.activity(2, outcome="answered", agency="ag"))
    fourth = log.activity(3, outcome="answered", agency="bg")
    assert [(r, p) for r, p, _ in log.rules()] == [("CN-02", "agency:bg")]
    assert log.rules()[0][2] == (fourth, REPORT, *answered)


def test_unanswered_attempts_cap_unless_the_borrower_agreed() -> None:
    log = Log()
    log.placed()
    for hour in range(7):
        log.activity(hour * 0.5)
    assert [rule for rule, _, _ in log.rules()] == ["CN-03"]
    agreed = Log()
    agreed.placed()
    agreed.add(
        "collections.borrower.contact-preferences-updated",
        borrower_ref="bref_1",
        preferences={
            "consents": [{"kind": "calls_beyond_daily_cap", "granted": True, "recorded_at": at(-1)}]
        },
        effective_at=at(-1),
    )
    for hour in range(7):
        agreed.activity(hour * 0.5)
    assert agreed.rules() == []


def test_an_agency_contact_after_its_placement_ended() -> None:
    log = Log()
    log.placed()
    log.activity(0)
    ended = log.add("collections.assignment.returned", agency_id="ag", ended_at=at(1))
    after = log.activity(2)
    assert log.rules() == [("CN-10", "agency:ag", (after, REPORT, 1, 2, ended))]


def test_us_inconvenient_time_named_by_the_borrower_and_an_attorney() -> None:
    log = Log("US", "America/New_York")
    log.placed()
    log.add(
        "collections.borrower.contact-preferences-updated",
        borrower_ref="bref_1",
        preferences={"inconvenient_times": [{"start": "12:00", "end": "14:00"}]},
        effective_at=at(-10),
    )
    lunch = log.activity(15)  # 12:00 in New York, a named inconvenient time
    log.activity(17)  # 14:00: allowed again
    assert [(r, leaves[0]) for r, _, leaves in log.rules()] == [("US-01", lunch)]
    represented = Log("US", "America/New_York")
    represented.placed()
    represented.add(
        "collections.borrower.contact-preferences-updated",
        borrower_ref="bref_1",
        preferences={"attorney_represented": True},
        effective_at=at(15),
    )
    represented.activity(14)  # 09:00 in New York, before the attorney was known: allowed
    direct = represented.activity(16)
    assert [(r, leaves[0]) for r, _, leaves in represented.rules()] == [("US-08", direct)]
