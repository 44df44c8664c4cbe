"""Every fact that limits contact reaches the agencies' contact check, on real Kafka and
PostgreSQL: the borrower's STOP reply (as the notifier publishes it), a dispute, a cease
request, an attorney, a hold and a placement that ended."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from shared.events.catalog import OPT_OUT_RECORDED
from shared.events.notifications import OptOutRecorded, OptOutSource
from shared.events.topics import Topic
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.integration.agency_gateway.stack import GatewayStack
from tests.integration.agency_gateway.test_handoff import noon_tomorrow, notice_sent
from tests.support.factories import VALID_REPORT

Answer = dict[str, Any]


class Announced:
    """A loan of a borrower of its own, placed, and the borrower told (CN-09)."""

    def __init__(self, stack: GatewayStack, borrower_id: str, **contact: str) -> None:
        self.stack, self.borrower_id, self.contact = stack, borrower_id, contact

    async def start(self) -> "Announced":
        borrower = {**VALID_REPORT["borrower"], **self.contact, "id": self.borrower_id}
        self.loan_id = await self.stack.report(borrower=borrower)
        self.assignment = await self.stack.placed(self.loan_id)
        placed = await self.stack.events(Topic.ASSIGNMENTS, self.loan_id, lambda e: len(e) >= 1)
        self.borrower_ref: str = placed[0].data["borrower_ref"]
        await notice_sent(self.stack, self.loan_id, self.assignment["agency_id"])
        await eventually(self._told)
        return self

    @property
    def path(self) -> str:
        return f"/v1/assignments/{self.assignment['assignment_id']}/contact-check"

    async def check(self, channel: str, at: datetime | None = None) -> tuple[int, Answer]:
        at = at or noon_tomorrow()
        answer = await self.stack.gateway.post(
            self.path,
            json={"channel": channel, "at": at.isoformat()},
            headers=self.stack.agency(self.assignment["agency_id"]),
        )
        found: Answer = answer.json()
        return answer.status_code, found

    async def refused(self, channel: str) -> Answer | None:
        status, found = await self.check(channel)
        assert status == 200, found
        return found if found["allowed"] is False else None

    async def _told(self) -> bool:
        return (await self.check("sms"))[1].get("allowed") is True


async def announced(stack: GatewayStack) -> Announced:
    return await Announced(stack, f"B-{uuid4().hex[:12]}").start()


async def test_a_stop_reply_refuses_that_channel_and_no_other(stack: GatewayStack) -> None:
    loan = await announced(stack)
    stop = OptOutRecorded(
        borrower_ref=loan.borrower_ref,
        channel=Channel.SMS,
        source=OptOutSource.REPLY,
        at=datetime.now(UTC),
        loan_ids=[loan.loan_id],
    )
    await stack.publish(OPT_OUT_RECORDED, loan.borrower_ref, stop)

    refused = await eventually(lambda: loan.refused("sms"))
    assert refused["rules"] == ["POL-02"]
    assert "opted out of sms" in refused["explanation"]
    status, email = await loan.check("email")
    assert (status, email["allowed"]) == (200, True)
    status, call = await loan.check("phone_call")
    assert (status, call["allowed"]) == (200, True)


async def wishes(stack: GatewayStack, loan: Announced, **wish: bool) -> None:
    path = f"/v1/borrowers/{loan.borrower_id}/contact-preferences"
    await stack.lender("PUT", path, **wish)


async def test_a_cease_request_or_an_attorney_refuses_every_channel(stack: GatewayStack) -> None:
    ceased = await announced(stack)
    await wishes(stack, ceased, cease_communication=True)
    refused = await eventually(lambda: ceased.refused("phone_call"))
    assert refused["rules"] == ["POL-02"]
    assert "cease" in refused["explanation"]

    represented = await announced(stack)
    await wishes(stack, represented, attorney_represented=True)
    for channel in ("phone_call", "sms"):
        refused = await eventually(lambda c=channel: represented.refused(c))  # type: ignore[misc]
        assert refused["rules"] == ["attorney_represented"]
        assert "attorney" in refused["explanation"]


async def test_a_dispute_the_agency_recorded_refuses_contact(stack: GatewayStack) -> None:
    loan = await announced(stack)
    agency = stack.agency(loan.assignment["agency_id"])
    dispute = {"dispute_id": f"D-{uuid4().hex[:8]}", "reason": "the amount is wrong"}
    path = f"/v1/assignments/{loan.assignment['assignment_id']}/disputes"
    raised = await stack.gateway.post(path, json=dispute, headers=agency)
    assert raised.status_code == 201, raised.text
    status, found = await loan.check("phone_call")
    assert (status, found["allowed"], found["rules"]) == (200, False, ["POL-01"])


async def test_a_lenders_hold_or_recall_ends_the_placement_and_the_check(
    stack: GatewayStack,
) -> None:
    actions: list[Callable[[str], Awaitable[Any]]] = [
        lambda loan_id: stack.lender("POST", f"/v1/loans/{loan_id}/holds", reason="dispute"),
        lambda loan_id: stack.lender("POST", f"/v1/loans/{loan_id}/recall", reason="in house"),
    ]
    for action in actions:
        loan = await announced(stack)
        await action(loan.loan_id)

        async def gone(loan: Announced = loan) -> bool:
            return (await loan.check("sms"))[0] == 410

        await eventually(gone)
