"""The loan lifecycle as the notifier applies it: plans, stops, resumptions, notices."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.notifier.domain.files import Case, LoanState
from services.notifier.domain.lifecycle import CaseBatch
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    AssignmentPlaced,
)
from shared.events.models import (
    ClosureReason,
    ContactPreferences,
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.money import Money
from shared.events.notifications import NotificationKind, NotificationStatus, OptOutSource
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.support import book as shipped_policies

LENDER = "lender-1"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def loan(loan_id: str = "L1", due: date = date(2026, 3, 1), zone: str = "Asia/Shanghai") -> Case:
    return Case(
        lender_id=LENDER,
        loan_id=loan_id,
        borrower_ref="bref_1",
        jurisdiction=Jurisdiction.CN,
        product="cash",
        locale="zh-CN",
        timezone=zone,
        due_date=due,
        days_past_due=1,
        as_of=NOW - timedelta(hours=1),
        amount_overdue="1250.00",
        currency="CNY",
        contact_sealed={},
        phone_refs=[],
        reachable=frozenset(Channel),
        policy_id="cn-default",
        policy_version="2026-12-01.1",
    )


def book(now: datetime = NOW) -> CaseBatch:
    return CaseBatch(shipped_policies(), now)


def pending(b: CaseBatch) -> list[tuple[int | None, Channel, datetime]]:
    return [
        (n.step, n.channel, n.due_at)
        for items in b.pending.values()
        for n in items
        if n.status is NotificationStatus.SCHEDULED
    ]


def cancelled_reasons(b: CaseBatch) -> set[str | None]:
    return {n.reason for n in b.changed.values() if n.status is NotificationStatus.CANCELLED}


def test_a_new_loan_gets_its_cadence_at_send_time_in_the_borrowers_zone() -> None:
    b = book()
    b.report(loan())
    assert pending(b) == [  # cn-default: SMS on days 1 and 3, e-mail on 5, SMS on 10
        (1, Channel.SMS, datetime(2026, 3, 2, 2, 0, tzinfo=UTC)),  # 10:00 Shanghai
        (2, Channel.SMS, datetime(2026, 3, 4, 2, 0, tzinfo=UTC)),
        (3, Channel.EMAIL, datetime(2026, 3, 6, 2, 0, tzinfo=UTC)),
        (4, Channel.SMS, datetime(2026, 3, 11, 2, 0, tzinfo=UTC)),
    ]
    assert {t.status for t in b.transitions} == {NotificationStatus.SCHEDULED}
    assert all(n.policy_version == "2026-12-01.1" for n in b.created)


def test_send_times_follow_the_wall_clock_across_a_dst_change() -> None:
    b = book(datetime(2026, 3, 5, tzinfo=UTC))
    b.report(loan(due=date(2026, 3, 5), zone="America/New_York"))
    times = [at for _, _, at in pending(b)]
    assert times[0] == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 10:00 EST, before the change
    assert times[1] == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 10:00 EDT, the change's day


def test_a_step_already_missed_is_caught_up_once_unless_the_next_comes_first() -> None:
    b = book(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))  # 13:00 Shanghai on day 1
    b.report(loan())
    steps = [(step, at) for step, _, at in pending(b)]
    assert steps[0] == (1, datetime(2026, 3, 3, 2, 0, tzinfo=UTC))  # next morning
    assert [s for s, _ in steps] == [1, 2, 3, 4]


def test_full_payment_cancels_everything_pending_and_partial_follows_the_policy() -> None:
    b = book()
    b.report(loan())
    partial = PaymentReceived(
        loan_id="L1",
        payment_id="P1",
        amount=Money(amount=Decimal("100.00"), currency="CNY"),
        paid_at=NOW,
        outstanding=Money(amount=Decimal("1150.00"), currency="CNY"),
        cured=False,
    )
    b.payment(LENDER, partial)  # cn-default pauses 3 days: the first two steps wait
    resumed = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    assert [at for _, _, at in pending(b)][:2] == [resumed, resumed]
    b.payment(LENDER, partial.model_copy(update={"cured": True, "payment_id": "P2"}))
    assert pending(b) == []
    assert cancelled_reasons(b) == {"paid"}
    assert b.loans[(LENDER, "L1")].state is LoanState.CURED


def test_a_hold_stops_reminders_and_lifting_it_starts_a_new_cycle() -> None:
    b = book()
    b.report(loan())
    b.hold_placed(
        LENDER, HoldPlaced(loan_id="L1", hold_id="H1", reason=HoldReason.DISPUTE, placed_at=NOW)
    )
    assert pending(b) == []
    assert cancelled_reasons(b) == {"hold:dispute"}
    lifted = NOW + timedelta(days=2)
    b.now = lifted
    b.hold_lifted(LENDER, HoldLifted(loan_id="L1", hold_id="H1", lifted_at=lifted))
    resumed = [n for n in b.created if n.status is NotificationStatus.SCHEDULED]
    assert {n.dedupe_key.split(":")[1] for n in resumed} == {"1"}
    assert all(n.due_at > lifted for n in resumed)


@pytest.mark.parametrize(
    ("apply", "reason", "state"),
    [
        (
            lambda b: b.recalled(
                LENDER, PlacementRecalled(loan_id="L1", reason="x", recalled_at=NOW)
            ),
            "recalled",
            LoanState.RECALLED,
        ),
        (
            lambda b: b.closed(
                LENDER, LoanClosed(loan_id="L1", reason=ClosureReason.WRITTEN_OFF, closed_at=NOW)
            ),
            "closed:written_off",
            LoanState.CLOSED,
        ),
    ],
)
def test_recall_and_close_stop_for_good(apply, reason: str, state: LoanState) -> None:  # type: ignore[no-untyped-def]
    b = book()
    b.report(loan())
    apply(b)
    assert pending(b) == []
    assert cancelled_reasons(b) == {reason}
    assert b.loans[(LENDER, "L1")].state is state


def test_an_opt_out_stops_that_channel_only_and_cease_stops_all() -> None:
    b = book()
    b.report(loan())
    b.preferences_updated(
        LENDER, "bref_1", ContactPreferences(opted_out_channels=[Channel.SMS]), NOW
    )
    assert {channel for _, channel, _ in pending(b)} == {Channel.EMAIL}
    assert [o.source for o in b.opt_outs] == [OptOutSource.PREFERENCES]
    b.preferences_updated(
        LENDER, "bref_1", ContactPreferences(cease_communication=True), NOW + timedelta(minutes=1)
    )
    assert pending(b) == []


def test_a_stop_reply_opts_the_borrower_out_of_sms_on_every_loan() -> None:
    b = book()
    b.report(loan("L1"))
    b.report(loan("L2"))
    b.replied_stop(LENDER, "bref_1", Channel.SMS, NOW)
    assert {channel for _, channel, _ in pending(b)} == {Channel.EMAIL}
    assert b.opt_outs[0].loan_ids == ("L1", "L2")
    assert b.preferences[(LENDER, "bref_1")].opted_out(Channel.SMS)


def test_a_placement_sends_the_agency_notice_now_and_stops_reminders() -> None:
    b = book()
    b.report(loan())
    placed = AssignmentPlaced(
        assignment_id="A1",
        loan_id="L1",
        borrower_ref="bref_1",
        agency_id="agency-1",
        agency_name="Acme Recoveries",
        placed_at=NOW,
        policy_version="p1",
        reason="dpd>=30",
    )
    b.placed(LENDER, placed)
    b.placed(LENDER, placed)  # redelivered: nothing more
    notices = [n for n in b.created if n.kind is NotificationKind.AGENCY_NOTICE]
    assert [(n.channel, n.due_at, n.agency_id) for n in notices] == [
        (Channel.SMS, NOW, "agency-1"),
        (Channel.EMAIL, NOW, "agency-1"),
    ]
    assert cancelled_reasons(b) == {"placed_with_agency"}


def test_agency_activities_join_the_shared_ledger() -> None:
    b = book()
    b.report(loan())
    b.activity(
        LENDER,
        AgencyActivityRecorded(
            activity_id="act-1",
            assignment_id="A1",
            loan_id="L1",
            borrower_ref="bref_1",
            agency_id="agency-1",
            type=ActivityType.CALL,
            direction=ActivityDirection.OUTBOUND,
            outcome=ActivityOutcome.CONVERSATION,
            at=NOW,
        ),
    )
    (contact,) = b.contacts
    assert (contact.party.agency_id, contact.channel, contact.outcome.value) == (
        "agency-1",
        Channel.PHONE_CALL,
        "conversation",
    )


def test_an_older_report_changes_nothing_and_a_newer_due_date_moves_pending_steps() -> None:
    b = book()
    b.report(loan())
    older = loan()
    older.as_of = NOW - timedelta(days=3)
    older.due_date = date(2026, 2, 1)
    b.report(older)
    assert pending(b)[0][2] == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    newer = loan(due=date(2026, 3, 5))
    newer.as_of = NOW
    b.report(newer)
    assert pending(b)[0][2] == datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
