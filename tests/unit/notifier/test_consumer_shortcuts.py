"""What the consumer no longer does twice changes nothing it writes or publishes: a
notification's event reads back as the catalogue's event; a policy chosen once is the one
chosen every time; a report no newer than the loan's file is no news (not opened, not sealed)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from services.notifier.application.events import notification_event
from services.notifier.domain.cadence_policies import NoPolicyError
from services.notifier.domain.files import Notification
from services.notifier.domain.lifecycle import CaseBatch
from shared.events.catalog import AGENCY_NOTICE_SENT, NOTIFICATION_EVENTS
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.vocabulary import Channel
from tests.unit.notifier.support import book
from tests.unit.notifier.world import World

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def notice() -> Notification:
    return Notification(
        id=uuid4(),
        lender_id="lender-1",
        loan_id="L1",
        borrower_ref="bref_1",
        kind=NotificationKind.AGENCY_NOTICE,
        step=None,
        channel=Channel.SMS,
        template="agency_notice_sms",
        locale="zh-CN",
        policy_id="cn-default",
        policy_version="2026-12-01.1",
        due_at=NOW,
        dedupe_key="notice:A1:sms",
        agency_id="agency-1",
    )


DETAILS = [
    {},
    {"rule_ids": ["CN-01", "CN-03"], "next_allowed_at": NOW + timedelta(hours=3), "reason": "x"},
    {"provider": "twilio", "provider_message_id": "SM123", "reason": None},
]


@pytest.mark.parametrize("status", list(NotificationStatus))
@pytest.mark.parametrize("detail", DETAILS)
def test_a_notification_event_carries_what_the_model_would_dump(
    status: NotificationStatus, detail: dict[str, object]
) -> None:
    n = notice()
    n.step, n.pack_version, n.due_at = 2, "cn-2026.1", NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    made = notification_event(n, status, NOW, detail)
    model = NotificationChanged.model_validate(made.data)
    assert model.model_dump(mode="json") == made.data
    assert (model.notification_id, model.status, model.due_at) == (n.id, status, n.due_at)
    assert model.rule_ids == list(detail.get("rule_ids", []))  # type: ignore[call-overload]


@pytest.mark.parametrize("status", [NotificationStatus.SCHEDULED, NotificationStatus.SENT])
def test_a_notification_event_reads_back_as_the_catalogue_event(
    status: NotificationStatus,
) -> None:
    n = notice()
    made = notification_event(n, status, NOW, {"rule_ids": ["CN-01"], "reason": "x"})
    read = Envelope.model_validate_json(made.to_bytes())
    event_type = (
        AGENCY_NOTICE_SENT if status is NotificationStatus.SENT else NOTIFICATION_EVENTS[status]
    )
    assert read == made
    assert (read.type, read.schemaversion) == (event_type.name, event_type.version)
    assert (read.subject, read.tenantid, read.source) == ("L1", "lender-1", "notifier")
    data = event_type.parse(read)
    assert (data.notification_id, data.status, data.rule_ids) == (n.id, status, ["CN-01"])


def test_a_policy_chosen_once_is_the_one_chosen_again_and_no_match_still_refuses() -> None:
    policies = book()
    first = policies.select("lender-1", "consumer-credit", "CN")
    assert policies.select("lender-1", "consumer-credit", "CN") is first
    assert first is policies._choose("lender-1", "consumer-credit", "CN")
    for _ in range(2):
        with pytest.raises(NoPolicyError):
            policies.select("lender-1", "consumer-credit", "XX")


def test_a_report_older_than_the_file_is_no_news() -> None:
    batch = CaseBatch(book(), NOW)
    assert batch.is_news("lender-1", "L1", NOW)
    case = World().loan()
    batch.loans[case.key] = case
    assert not batch.is_news(case.lender_id, case.loan_id, case.as_of)
    assert not batch.is_news(case.lender_id, case.loan_id, case.as_of - timedelta(days=1))
    assert batch.is_news(case.lender_id, case.loan_id, case.as_of + timedelta(seconds=1))
