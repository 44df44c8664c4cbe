"""Traffic for the fault suite: what lenders, agencies and borrowers do, through the services'
HTTP APIs, retried (bounded) while a fault makes a service unreachable.

Every action is idempotent on retry (a report is deduplicated by its content, a payment and a
hold carry an Idempotency-Key, an activity its own id, a STOP reply cancels once), so a retry
after a lost answer never makes a second event.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.devstack.platform import DEMO_AGENCIES
from tests.e2e.process_platform import ProcessPlatform
from tests.support.factories import report

ATTEMPTS = 60  # an action is retried this many times, 0.5 s apart (a fault lasts < 30 s)


def daytime_zone() -> str:
    """A fixed-offset zone where it is now early afternoon, far from every quiet window."""
    hour = datetime.now(UTC).hour
    offset = (13 - hour + 12) % 24 - 12
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@dataclass
class Loan:
    loan_id: str
    phone: str
    placed_age: bool  # old enough to be placed with an agency at once


@dataclass
class Driver:
    platform: ProcessPlatform
    notifier_db: AsyncEngine
    rng: random.Random = field(default_factory=lambda: random.Random(15))
    loans: list[Loan] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)
    retries: int = 0

    async def attempt(
        self,
        what: str,
        call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
        refusals: frozenset[int] = frozenset(),
    ) -> httpx.Response | None:
        """``call`` until it answers below 500 (a transport failure or a 5xx is retried); an
        answer in ``refusals`` is a refusal the business rules make (counted, not an error)."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            for attempt in range(ATTEMPTS):
                if attempt:
                    self.retries += 1
                    await asyncio.sleep(0.5)
                try:
                    answer = await call(client)
                except httpx.HTTPError:
                    continue
                if answer.status_code in refusals:
                    self.done[f"{what} refused ({answer.status_code})"] += 1
                    return None
                if answer.status_code < 500:
                    assert answer.status_code < 300, f"{what}: {answer.status_code} {answer.text}"
                    self.done[what] += 1
                    return answer
        self.gave_up[what] += 1
        return None

    def _intake(self, path: str) -> str:
        return f"{self.platform.first('intake').url}{path}"

    def _gateway(self, path: str) -> str:
        replicas = self.platform.replicas["agency_gateway"]
        return f"{self.rng.choice(replicas).url}{path}"

    async def report(self, placed_age: bool) -> None:
        loan_id = f"L-{uuid4().hex[:12]}"
        phone = f"+86139{self.rng.randrange(10**8):08d}"
        zone = daytime_zone()
        local_now = datetime.now(UTC).astimezone(ZoneInfo(zone))
        days = 50 if placed_age else 3
        body = report(
            loan_id,
            due_date=(local_now.date() - timedelta(days=days)).isoformat(),
            days_past_due=days,
            as_of=local_now.isoformat(timespec="seconds"),
        )
        body["borrower"] = {
            **body["borrower"],
            "id": f"B-{uuid4().hex[:10]}",
            "phone": phone,
            "email": f"{uuid4().hex[:10]}@example.com",
            "timezone": zone,
        }
        lender = self.platform.lender()
        answer = await self.attempt(
            "report",
            lambda c: c.post(self._intake("/v1/overdue-loans"), json=body, headers=lender),
        )
        if answer is not None:
            self.loans.append(Loan(loan_id, phone, placed_age))

    async def pay(self, loan: Loan) -> None:
        body = {
            "payment_id": f"P-{uuid4().hex[:10]}",
            "amount": {"amount": self.rng.choice(["100.00", "1250.00"]), "currency": "CNY"},
            "paid_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        headers = {**self.platform.lender(), "Idempotency-Key": uuid4().hex}
        await self.attempt(
            "payment",
            lambda c: c.post(
                self._intake(f"/v1/loans/{loan.loan_id}/payments"), json=body, headers=headers
            ),
            refusals=frozenset({409}),  # e.g. the loan was paid in full before
        )

    async def hold(self, loan: Loan) -> None:
        body = {"hold_id": f"H-{uuid4().hex[:10]}", "reason": "dispute"}
        headers = {**self.platform.lender(), "Idempotency-Key": uuid4().hex}
        await self.attempt(
            "hold",
            lambda c: c.post(
                self._intake(f"/v1/loans/{loan.loan_id}/holds"), json=body, headers=headers
            ),
            refusals=frozenset({409}),
        )

    async def stop_reply(self, loan: Loan) -> None:
        body = {"provider": "twilio", "from": loan.phone, "body": "退订"}
        url = f"{self.platform.providers_url}/v1/replies"
        await self.attempt("STOP reply", lambda c: c.post(url, json=body))

    async def activities(self) -> None:
        """Each agency records a call on one of its current assignments, if it has one."""
        for agency in DEMO_AGENCIES:
            headers = self.platform.agency(agency)

            def listing(
                client: httpx.AsyncClient, h: dict[str, str] = headers
            ) -> Awaitable[httpx.Response]:
                return client.get(self._gateway("/v1/assignments"), headers=h)

            listed = await self.attempt("assignments listed", listing)
            items: list[dict[str, Any]] = listed.json().get("items", []) if listed else []
            if not items:
                continue
            assignment = self.rng.choice(items)["assignment_id"]
            body = {
                "activity_id": f"ACT-{uuid4().hex[:12]}",
                "type": "call",
                "direction": "outbound",
                "outcome": "no_answer",
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            path = f"/v1/assignments/{assignment}/activities"

            def record(
                client: httpx.AsyncClient,
                h: dict[str, str] = headers,
                p: str = path,
                b: dict[str, Any] = body,
            ) -> Awaitable[httpx.Response]:
                return client.post(self._gateway(p), json=b, headers=h)

            # The assignment may have ended since it was listed (recalled on a dispute: 410).
            await self.attempt("agency activity", record, refusals=frozenset({409, 410}))

    async def round(self) -> None:
        """One round: new loans, then stops and activity on earlier ones."""
        await asyncio.gather(*(self.report(placed_age=n % 2 == 0) for n in range(4)))
        earlier = self.loans[:-4]
        if len(earlier) >= 3:
            paid, held, stopped = self.rng.sample(earlier, 3)
            await asyncio.gather(self.pay(paid), self.hold(held), self.stop_reply(stopped))
        await self.activities()

    async def make_due(self) -> int:
        """Time passes: every first reminder still scheduled is due now."""
        async with self.notifier_db.begin() as connection:
            result = await connection.execute(
                text(
                    "UPDATE notifications SET due_at = now() "
                    "WHERE step = 1 AND status = 'scheduled' AND due_at > now()"
                )
            )
        return int(result.rowcount or 0)

    async def run(self, stop: asyncio.Event, pause: float = 0.5) -> None:
        while not stop.is_set():
            await self.round()
            await self.make_due()
            await asyncio.sleep(pause)
