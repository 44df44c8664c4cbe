"""The handoff API on real Kafka and PostgreSQL: each agency sees its own assignments only,
the borrower's contact only after the notifier told the borrower (CN-09) and never after the
assignment ended; activities are idempotent and screened; contact checks count every party."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from shared.events.catalog import AGENCY_NOTICE_SENT, NOTIFICATION_EVENTS
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.events.topics import Topic
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the example borrower's zone


def noon_tomorrow() -> datetime:
    """A time inside every pack's contact hours in the example borrower's zone, whatever the
    hour the test runs at (a check "now" at 23:00 in Shanghai meets CN-01 too)."""
    day = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI).date()
    return datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)


def other(agency_id: str) -> str:
    return SOUTH if agency_id == NORTH else NORTH


def notification(
    loan_id: str, status: NotificationStatus, at: datetime, **changes: Any
) -> NotificationChanged:
    fields: dict[str, Any] = {
        "notification_id": uuid4(),
        "loan_id": loan_id,
        "borrower_ref": "ignored-by-the-gateway",
        "kind": NotificationKind.REMINDER,
        "step": 1,
        "channel": Channel.SMS,
        "template": "reminder_gentle_sms",
        "locale": "zh-CN",
        "policy_id": "cn-default",
        "policy_version": "1",
        "pack_version": None,
        "status": status,
        "at": at,
        "due_at": at,
    }
    return NotificationChanged(**(fields | changes))


async def notice_sent(stack: GatewayStack, loan_id: str, agency_id: str) -> None:
    """The notifier's CN-09 notice went out (as it publishes it)."""
    data = notification(
        loan_id,
        NotificationStatus.SENT,
        datetime.now(UTC),
        kind=NotificationKind.AGENCY_NOTICE,
        step=None,
        template="agency_notice_sms",
        agency_id=agency_id,
    )
    await stack.publish(AGENCY_NOTICE_SENT, loan_id, data)


async def detail(stack: GatewayStack, assignment: dict[str, Any]) -> dict[str, Any]:
    answer = await stack.gateway.get(
        f"/v1/assignments/{assignment['assignment_id']}",
        headers=stack.agency(assignment["agency_id"]),
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_contact_data_is_withheld_until_the_notice_then_shown_to_its_agency_only(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    path = f"/v1/assignments/{assignment['assignment_id']}"
    before = await detail(stack, assignment)
    assert (before["borrower"], before["withheld_reason"]) == (None, "borrower_notice_pending")
    check = await stack.gateway.post(
        f"{path}/contact-check",
        json={"channel": "phone_call", "at": noon_tomorrow().isoformat()},
        headers=stack.agency(assignment["agency_id"]),
    )
    assert check.status_code == 200, check.text
    assert check.json()["allowed"] is False
    assert check.json()["rules"] == ["CN-09"]

    await notice_sent(stack, loan_id, assignment["agency_id"])

    async def shown() -> dict[str, Any] | None:
        found = await detail(stack, assignment)
        return found if found["borrower"] else None

    after = await eventually(shown)
    assert after["borrower"] == {
        "name": "张三",
        "phone": "+8613800138000",
        "email": "zhangsan@example.com",
        "timezone": "Asia/Shanghai",
    }
    assert after["borrower_notified"] is True
    stranger = await stack.gateway.get(path, headers=stack.agency(other(assignment["agency_id"])))
    assert stranger.status_code == 404, stranger.text
    for action, body in (("ack", None), ("contact-check", {"channel": "sms"})):
        refused = await stack.gateway.post(
            f"{path}/{action}", json=body, headers=stack.agency(other(assignment["agency_id"]))
        )
        assert refused.status_code == 404, refused.text
    unknown = await stack.gateway.get(
        "/v1/assignments/A-unknown", headers=stack.agency(assignment["agency_id"])
    )
    assert unknown.status_code == 404


async def test_after_a_recall_or_a_return_the_data_is_gone(stack: GatewayStack) -> None:
    recalled_loan = await stack.report()
    recalled = await stack.placed(recalled_loan)
    await stack.lender("POST", f"/v1/loans/{recalled_loan}/recall", reason="lender_request")
    path = f"/v1/assignments/{recalled['assignment_id']}"
    agency = stack.agency(recalled["agency_id"])

    async def gone() -> bool:
        return (await stack.gateway.get(path, headers=agency)).status_code == 410

    await eventually(gone)
    for action, body in (("ack", None), ("return", {}), ("contact-check", {"channel": "sms"})):
        answer = await stack.gateway.post(f"{path}/{action}", json=body, headers=agency)
        assert answer.status_code == 410, (action, answer.text)

    returned_loan = await stack.report()
    first = await stack.placed(returned_loan)
    agency = stack.agency(first["agency_id"])
    path = f"/v1/assignments/{first['assignment_id']}"
    answer = await stack.gateway.post(
        f"{path}/return", json={"reason": "no capacity"}, headers=agency
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "returned"
    assert (await stack.gateway.get(path, headers=agency)).status_code == 410
    again = await stack.placed(returned_loan)
    assert again["agency_id"] == other(first["agency_id"])  # placed elsewhere
    events = await stack.events(Topic.ASSIGNMENTS, returned_loan, lambda found: len(found) >= 3)
    assert [e.type for e in events] == [
        "collections.assignment.placed",
        "collections.assignment.returned",
        "collections.assignment.placed",
    ]
    assert events[1].data["reason"] == "no capacity"


async def test_the_list_shows_only_own_assignments_page_by_page(stack: GatewayStack) -> None:
    mine = [await stack.placed(await stack.report()) for _ in range(6)]
    for agency_id in (NORTH, SOUTH):
        since = datetime.now(UTC) - timedelta(minutes=5)
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "updated_since": since.isoformat()}
            if cursor:
                params["cursor"] = cursor
            page = await stack.gateway.get(
                "/v1/assignments", params=params, headers=stack.agency(agency_id)
            )
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            assert len(page.json()["items"]) <= 2
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        ids = [item["assignment_id"] for item in seen]
        assert len(ids) == len(set(ids))
        own = {a["assignment_id"] for a in mine if a["agency_id"] == agency_id}
        assert own <= set(ids)
        others = {a["assignment_id"] for a in mine if a["agency_id"] != agency_id}
        assert not others & set(ids)
    placed_only = await stack.gateway.get(
        "/v1/assignments", params={"status": "returned"}, headers=stack.agency(NORTH)
    )
    assert all(item["status"] == "returned" for item in placed_only.json()["items"])
    bad = await stack.gateway.get(
        "/v1/assignments", params={"cursor": "not-a-cursor"}, headers=stack.agency(NORTH)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"
    naive = base64.urlsafe_b64encode(b"2026-01-01T00:00:00|A-1").decode()
    for params, field in (
        ({"cursor": naive}, "query.cursor"),  # a time without its offset
        ({"updated_since": "0.5"}, "query.updated_since"),  # not 1970-01-01T00:00:00.5Z
        ({"updated_since": "2026-01-01T00:00:00"}, "query.updated_since"),
    ):
        bad = await stack.gateway.get("/v1/assignments", params=params, headers=stack.agency(NORTH))
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["errors"][0]["field"] == field, bad.text


def activity(**changes: Any) -> dict[str, Any]:
    return {
        "activity_id": f"ACT-{uuid4().hex[:8]}",
        "type": "call",
        "direction": "outbound",
        "outcome": "no_answer",
        "at": datetime.now(UTC).isoformat(),
    } | changes


async def test_activities_are_idempotent_screened_and_published(stack: GatewayStack) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    path = f"/v1/assignments/{assignment['assignment_id']}/activities"
    agency = stack.agency(assignment["agency_id"])
    call = activity()
    first = await stack.gateway.post(path, json=call, headers=agency)
    assert first.status_code == 201, first.text
    repeat = await stack.gateway.post(path, json=call, headers=agency)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["replayed"] is True
    assert repeat.json()["recorded_at"] == first.json()["recorded_at"]
    changed = await stack.gateway.post(path, json=call | {"outcome": "answered"}, headers=agency)
    assert changed.status_code == 409
    note = await stack.gateway.post(
        path, json=activity(type="note", text="agreed to pay on Friday"), headers=agency
    )
    assert note.status_code == 201, note.text
    banned = await stack.gateway.post(
        path, json=activity(type="note", text="told him about the Arrest Warrant"), headers=agency
    )
    assert banned.status_code == 422, banned.text
    assert banned.json()["errors"][0]["field"] == "body.text"
    for hidden in ("the ＡＲＲＥＳＴ ＷＡＲＲＡＮＴ", "the arrest\u200b warrant"):
        written = activity(type="note", text=f"told him about {hidden}")
        screened = await stack.gateway.post(path, json=written, headers=agency)
        assert screened.status_code == 422, (hidden, screened.text)
        assert "arrest warrant" in screened.json()["errors"][0]["message"]
    visit = await stack.gateway.post(path, json=activity(type="visit"), headers=agency)
    assert visit.status_code == 422
    assert visit.json()["errors"][0]["field"] == "body.recording_id"
    sms_answered = await stack.gateway.post(
        path, json=activity(type="sms", outcome="answered"), headers=agency
    )
    assert sms_answered.status_code == 422
    events = await stack.events(Topic.AGENCY_ACTIVITIES, loan_id, lambda found: len(found) >= 2)
    assert events[0].data["activity_id"] == call["activity_id"]
    assert [e.data["type"] for e in events] == ["call", "note"]  # the repeat published nothing
    assert {e.type for e in events} == {"collections.agency.activity-recorded"}
    assert events[0].data["agency_id"] == assignment["agency_id"]


async def test_contact_checks_answer_the_quiet_window_and_caps_counting_the_notifiers_sends(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    await notice_sent(stack, loan_id, assignment["agency_id"])
    path = f"/v1/assignments/{assignment['assignment_id']}/contact-check"
    agency = stack.agency(assignment["agency_id"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI).date()

    def local(hour: int, minute: int = 0) -> datetime:
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=SHANGHAI)

    async def ask(channel: str, at: datetime) -> dict[str, Any]:
        answer = await stack.gateway.post(
            path, json={"channel": channel, "at": at.isoformat()}, headers=agency
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    async def notified() -> bool:
        return (await ask("sms", local(11)))["allowed"] is True

    await eventually(notified)
    night = await ask("phone_call", local(23))
    assert night["allowed"] is False
    assert night["rules"] == ["CN-01"]
    assert datetime.fromisoformat(night["next_allowed_at"]) == local(8) + timedelta(days=1)

    for minute in (0, 30):  # the lender's two reminders of the day
        sent = notification(loan_id, NotificationStatus.SENT, local(9, minute))
        await stack.publish(NOTIFICATION_EVENTS[NotificationStatus.SENT], loan_id, sent)

    async def capped() -> dict[str, Any] | None:
        found = await ask("sms", local(11))
        return found if not found["allowed"] else None

    refused = await eventually(capped)
    assert refused["rules"] == ["POL-03"]
    assert (await ask("phone_call", local(11)))["allowed"] is True
    for at in (0, 1.5e9, "1700000000", "2026-01-01T12:00:00"):  # seconds, or no offset
        bad = await stack.gateway.post(path, json={"channel": "sms", "at": at}, headers=agency)
        assert bad.status_code == 422, (at, bad.text)
        assert bad.json()["errors"][0]["field"] == "at", bad.text


async def test_contact_checks_speak_the_activities_words_and_still_take_the_old_ones(
    stack: GatewayStack,
) -> None:
    """``call`` and ``visit``, as an agency reports them, answer 200; ``phone_call`` and
    ``field_visit`` (the words the check took before) are deprecated aliases with the same
    answer; a note is no contact (422 naming the field)."""
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    await notice_sent(stack, loan_id, assignment["agency_id"])
    path = f"/v1/assignments/{assignment['assignment_id']}/contact-check"
    agency = stack.agency(assignment["agency_id"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI).date()
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, tzinfo=SHANGHAI)

    async def ask(word: str) -> dict[str, Any]:
        answer = await stack.gateway.post(
            path, json={"channel": word, "at": night.isoformat()}, headers=agency
        )
        assert answer.status_code == 200, (word, answer.text)
        found: dict[str, Any] = answer.json()
        return found

    async def notified() -> bool:
        return "CN-09" not in (await ask("call"))["rules"]

    await eventually(notified)
    for word, old in (("call", "phone_call"), ("visit", "field_visit")):
        answer = await ask(word)
        assert answer["allowed"] is False, answer
        assert "CN-01" in answer["rules"], answer
        assert await ask(old) == answer
    note = await stack.gateway.post(path, json={"channel": "note"}, headers=agency)
    assert note.status_code == 422, note.text
    assert note.headers["content-type"] == "application/problem+json"
    assert note.json()["errors"][0]["field"] == "channel", note.text
    assert "call, sms, email, letter, visit" in note.text
