"""Webhooks to a local receiver over real HTTP: signed (Standard Webhooks, HMAC-SHA256 over
id, timestamp and body), retried with growing pauses, logged, and sent again on request."""

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from deploy.local_providers.server import serving
from tests.harness import eventually
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack


@dataclass
class Receiver:
    """An agency's endpoint: checks every signature, answers 503 while ``failures`` last."""

    secrets: dict[str, str]  # by agency id (the URL's last segment)
    failures: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)  # verified
    refused: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/{agency_id}")
        async def hook(agency_id: str, request: Request) -> Response:
            body = await request.body()
            try:
                data = Webhook(self.secrets[agency_id]).verify(body, dict(request.headers))
            except WebhookVerificationError as error:
                self.refused.append(str(error))
                return Response(status_code=401)
            if self.failures > 0:
                self.failures -= 1
                self.answers.append(503)
                return Response(status_code=503)
            self.received.append(
                data | {"agency": agency_id, "id_header": request.headers["webhook-id"]}
            )
            self.answers.append(204)
            return Response(status_code=204)

        return app

    def of(self, loan_id: str, event: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["type"] == event and r["data"]["loan_id"] == loan_id]

    async def arrived(self, loan_id: str, event: str, count: int = 1) -> list[dict[str, Any]]:
        """Within a deadline, at least ``count`` deliveries of ``event`` about the loan."""

        async def enough() -> list[dict[str, Any]] | None:
            found = self.of(loan_id, event)
            return found if len(found) >= count else None

        return await eventually(enough)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
async def receiver(stack: GatewayStack) -> AsyncIterator[Receiver]:
    """Both demo agencies point their webhooks at the receiver, each with its own secret."""
    receiver = Receiver({NORTH: new_secret(), SOUTH: new_secret()})
    async with serving(receiver.app()) as url:
        for agency_id, share in ((NORTH, 3), (SOUTH, 1)):
            await stack.register(
                agency_id,
                share=share,
                webhook_url=f"{url}/hooks/{agency_id}",
                webhook_secret=receiver.secrets[agency_id],
            )
        yield receiver
        for agency_id, share in ((NORTH, 3), (SOUTH, 1)):
            await stack.register(agency_id, share=share)


async def deliveries(stack: GatewayStack, agency_id: str) -> list[dict[str, Any]]:
    answer = await stack.gateway.get("/v1/webhooks/deliveries", headers=stack.agency(agency_id))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


async def test_a_placement_is_announced_signed_and_retried_with_backoff(
    stack: GatewayStack, receiver: Receiver
) -> None:
    receiver.failures = 2
    outcomes = ("delivered", "retrying")
    before = {outcome: delivery_count(outcome) for outcome in outcomes}
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    placed = await receiver.arrived(loan_id, "assignment.placed")
    assert placed[0]["agency"] == assignment["agency_id"]
    assert placed[0]["data"]["assignment_id"] == assignment["assignment_id"]
    assert receiver.answers[:3] == [503, 503, 204]
    assert receiver.refused == []

    async def settled() -> list[dict[str, Any]] | None:
        """The gateway records the 204 just after the receiver answers it."""
        log = [
            d
            for d in await deliveries(stack, assignment["agency_id"])
            if d["assignment_id"] == assignment["assignment_id"]
        ]
        return log if log and log[0]["status"] != "pending" else None

    log = await eventually(settled)
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [
        ("assignment.placed", "delivered", 3)
    ]
    attempts = log[0]["log"]
    assert [a["status_code"] for a in attempts] == [503, 503, 204]
    at = [datetime.fromisoformat(a["at"]) for a in attempts]
    first_pause, second_pause = at[1] - at[0], at[2] - at[1]
    assert first_pause >= timedelta(seconds=0.2)
    assert second_pause >= timedelta(seconds=0.4)  # doubled
    assert placed[0]["id_header"] == log[0]["delivery_id"]

    async def counted() -> bool:  # by outcome: two attempts to retry, then one delivered
        return (
            delivery_count("retrying") >= before["retrying"] + 2
            and delivery_count("delivered") >= before["delivered"] + 1
        )

    await eventually(counted)


def delivery_count(outcome: str) -> float:
    """collections_webhook_deliveries_total of ``outcome`` (this process's registry)."""
    found = REGISTRY.get_sample_value("collections_webhook_deliveries_total", {"outcome": outcome})
    return found or 0.0


async def test_a_recall_and_a_coming_expiry_are_announced(
    stack: GatewayStack, receiver: Receiver
) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    await stack.sql(
        "UPDATE assignments SET expires_at = now() + interval '1 day' WHERE assignment_id = :id",
        id=assignment["assignment_id"],
    )
    expiring = await receiver.arrived(loan_id, "assignment.expiring")
    assert expiring[0]["data"]["assignment_id"] == assignment["assignment_id"]
    await stack.lender("POST", f"/v1/loans/{loan_id}/recall", reason="lender_request")
    recalled = await receiver.arrived(loan_id, "assignment.recalled")
    assert recalled[0]["data"]["reason"] == "lender_recall"


async def test_an_agency_asks_for_a_delivery_again(stack: GatewayStack, receiver: Receiver) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    first = await receiver.arrived(loan_id, "assignment.placed")
    agency = stack.agency(assignment["agency_id"])
    answer = await stack.gateway.post(
        "/v1/webhooks/redeliver", json={"delivery_ids": [first[0]["id"]]}, headers=agency
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"requeued": 1}
    copies = await receiver.arrived(loan_id, "assignment.placed", count=2)
    assert copies[0]["id_header"] == copies[1]["id_header"]  # same id: the receiver dedupes
    other = SOUTH if assignment["agency_id"] == NORTH else NORTH
    elsewhere = await stack.gateway.post(
        "/v1/webhooks/redeliver",
        json={"delivery_ids": [first[0]["id"]]},
        headers=stack.agency(other),
    )
    assert elsewhere.json() == {"requeued": 0}  # another agency's delivery is not reachable
    empty = await stack.gateway.post("/v1/webhooks/redeliver", json={}, headers=agency)
    assert empty.status_code == 422
