"""Which holds stop a message: every hold a reminder; only a suspected illegal debt the
lender's answer to a dispute. The notifier and compliance both ask ``binding_holds``."""

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.notifier.domain.files import CaseHold, Notification
from services.notifier.domain.outreach import stop_reason
from shared.contact_rules.facts import ANSWER_HOLDS, Hold, binding_holds
from shared.events.models import HoldReason
from shared.events.notifications import NotificationKind
from shared.vocabulary import Channel
from tests.unit.notifier.world import World

AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("reason", list(HoldReason))
def test_every_hold_stops_a_reminder_and_only_an_illegal_debt_stops_an_answer(
    reason: HoldReason,
) -> None:
    holds = [Hold(reason, AT)]
    assert binding_holds(holds, answer_to_dispute=False) == tuple(holds)
    stops_answer = binding_holds(holds, answer_to_dispute=True) == tuple(holds)
    assert stops_answer is (reason is HoldReason.SUSPECTED_ILLEGAL_DEBT)


def test_only_a_suspected_illegal_debt_stops_the_answer() -> None:
    assert frozenset({HoldReason.SUSPECTED_ILLEGAL_DEBT}) == ANSWER_HOLDS


@pytest.mark.parametrize("reason", list(HoldReason))
def test_the_notifiers_sender_stops_the_answer_for_exactly_those_holds(reason: HoldReason) -> None:
    world = World()
    case = world.loan()
    case.holds["h1"] = CaseHold("h1", reason.value, AT)
    answer = Notification(
        id=uuid4(),
        lender_id=case.lender_id,
        loan_id=case.loan_id,
        borrower_ref=case.borrower_ref,
        kind=NotificationKind.DISPUTE_OUTCOME,
        step=None,
        channel=Channel.EMAIL,
        template="dispute_rejected_email",
        locale="zh-CN",
        policy_id="cn-default",
        policy_version="1",
        due_at=AT,
        dedupe_key="dispute:D1",
    )
    reminder = replace(answer, kind=NotificationKind.REMINDER, step=1, dedupe_key="step:1")
    assert stop_reason(reminder, case, None) == f"hold:{reason.value}"
    expected = f"hold:{reason.value}" if reason in ANSWER_HOLDS else None
    assert stop_reason(answer, case, None) == expected
