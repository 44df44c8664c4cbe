"""The placement worker: decides the cases that are due, and ends lapsed assignments.

A case becomes due when something about it changed (a report, a hold lifted, an assignment
ended) or when no agency could take it and the policy's retry pause is over. Each batch is
claimed with ``FOR UPDATE SKIP LOCKED``, so replicas share the work and never decide one case
twice; everything a batch decides is written with its events in one transaction.
"""

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.agencies import AgencyRegistry
from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseRepository, PreferenceRepository
from services.agency_gateway.adapters.webhooks import DeliveryLog
from services.agency_gateway.domain.allocation import Allocation, allocate
from services.agency_gateway.domain.cases import CaseFacts, exclusion, status_of
from services.agency_gateway.domain.policy import Arm, PlacementPolicy
from services.agency_gateway.domain.webhooks import EXPIRING
from services.agency_gateway.outcomes import SOURCE, end_assignment
from shared.db.engine import SessionFactory, transaction
from shared.db.unit_of_work import enqueue
from shared.events.assignments import AssignmentPlaced
from shared.events.catalog import ASSIGNMENT_PLACED
from shared.events.envelope import Envelope


def case_facts(case: dict[str, Any], prefs: dict[str, Any] | None) -> CaseFacts:
    return CaseFacts(
        lender_id=case["lender_id"],
        loan_id=case["loan_id"],
        days_past_due=case["days_past_due"],
        amount=Decimal(case["amount_overdue"]),
        holds=case["holds"],
        ended_reason=case["ended_reason"],
        lender_recalled=case["lender_recalled_at"] is not None,
        cease=bool(prefs and prefs["cease"]),
        attorney=bool(prefs and prefs["attorney"]),
    )


def _standing(status: str, agency_id: str | None, note: str | None) -> dict[str, Any]:
    return {"status": status, "agency_id": agency_id, "placement_note": note}


@dataclass
class Placer:
    sessions: SessionFactory
    policy: PlacementPolicy
    assignments_topic: str
    batch_size: int = 200
    idle_pause: float = 0.5

    async def run(self) -> None:
        while True:
            if await self.step() == 0:
                await asyncio.sleep(self.idle_pause)

    async def step(self) -> int:
        """End lapsed assignments, then decide one batch of due cases; how many were handled."""
        async with transaction(self.sessions) as session:
            now = datetime.now(UTC)
            envelopes = await self._end_lapsed(session, now)
            decided = await self._decide_due(session, now, envelopes)
            await enqueue(session, self.assignments_topic, envelopes)
            webhooks = DeliveryLog(session)
            await webhooks.owe_for(envelopes, now)
            expiring = await AssignmentStore(session).announce_expiring(
                now, self.policy.expiring_notice, self.batch_size
            )
            await webhooks.owe([(EXPIRING, row) for row in expiring], now)
        return decided + len(envelopes) + len(expiring)

    async def _end_lapsed(self, session: AsyncSession, now: datetime) -> list[Envelope]:
        lapsed = await AssignmentStore(session).claim_lapsed(now, self.batch_size)
        if not lapsed:
            return []
        cases = await CaseRepository(session).for_update(
            {(a["lender_id"], a["loan_id"]) for a in lapsed}
        )
        envelopes = []
        for assignment in lapsed:
            case = cases[(assignment["lender_id"], assignment["loan_id"])]
            unacknowledged = assignment["status"] == "placed" and assignment["ack_due_at"] <= now
            reason = "ack_lease_lapsed" if unacknowledged else "term_ended"
            envelopes.append(
                await end_assignment(
                    session,
                    assignment,
                    case["borrower_ref"],
                    "expired",
                    reason,
                    now,
                    self.policy.version,
                )
            )
        return envelopes

    async def _decide_due(
        self, session: AsyncSession, now: datetime, envelopes: list[Envelope]
    ) -> int:
        cases = CaseRepository(session)
        due = await cases.claim_due(now, self.batch_size)
        if not due:
            return 0
        keys = {(c["lender_id"], c["loan_id"]) for c in due}
        store = AssignmentStore(session)
        active = await store.active(keys)
        held_before = await store.past_agencies(keys)
        registry = AgencyRegistry(session)
        loads = {a.agency_id: a for a in await registry.loads(await store.open_counts())}
        details = {a["agency_id"]: a for a in await registry.all()}
        prefs = await PreferenceRepository(session).of(
            {(c["lender_id"], c["borrower_ref"]) for c in due}
        )
        placed: list[dict[str, Any]] = []
        decided: list[dict[str, Any]] = []  # each case's new standing, written in one go
        for case in due:
            key = (case["lender_id"], case["loan_id"])
            standing = {
                "lender_id": key[0],
                "loan_id": key[1],
                "placement_due_at": None,
                "updated_at": now,
            }
            facts = case_facts(case, prefs.get((case["lender_id"], case["borrower_ref"])))
            arm = self.policy.arm(*key)
            if key in active:
                agency_id = active[key]["agency_id"]
                decided.append(standing | _standing("placed", agency_id, case["placement_note"]))
                continue
            reason = exclusion(facts, self.policy, arm)
            choice = None
            if reason is None:
                choice = allocate(
                    f"{key[0]}/{key[1]}",
                    case["jurisdiction"],
                    case["region"],
                    list(loads.values()),
                    held_before.get(key, set()),
                )
            if choice is None:
                status = status_of(facts, self.policy, arm, placed=False).value
                standing["placement_due_at"] = now + self.policy.retry if reason is None else None
                decided.append(standing | _standing(status, None, reason or "no_eligible_agency"))
                continue
            row = self._assignment(case, facts, arm, choice, now)
            placed.append(row)
            chosen = loads[choice.agency_id]
            loads[choice.agency_id] = replace(chosen, open_accounts=chosen.open_accounts + 1)
            decided.append(standing | _standing("placed", choice.agency_id, None))
            envelopes.append(self._placed_event(row, case, details[choice.agency_id]))
        await cases.change_each(decided)
        await store.add(placed)
        return len(due)

    def _assignment(
        self, case: dict[str, Any], facts: CaseFacts, arm: Arm, choice: Allocation, now: datetime
    ) -> dict[str, Any]:
        reason = (
            f"{facts.days_past_due} days past due (threshold {self.policy.threshold(arm)}, "
            f"{arm.value}); {facts.amount} {case['currency']} (minimum "
            f"{self.policy.minimum_amount}); {choice.agency_id} by share "
            f"{choice.share}/{choice.eligible_shares} of {choice.eligible} eligible"
        )
        return {
            "assignment_id": f"A-{uuid4().hex}",
            "lender_id": case["lender_id"],
            "loan_id": case["loan_id"],
            "agency_id": choice.agency_id,
            "status": "placed",
            "arm": arm.value,
            "policy_version": self.policy.version,
            "reason": reason,
            "amount": case["amount_overdue"],
            "currency": case["currency"],
            "placed_at": now,
            "ack_due_at": now + self.policy.ack_lease,
            "expires_at": now + self.policy.term,
            "updated_at": now,
        }

    def _placed_event(
        self, row: dict[str, Any], case: dict[str, Any], agency: dict[str, Any]
    ) -> Envelope:
        data = AssignmentPlaced(
            assignment_id=row["assignment_id"],
            loan_id=row["loan_id"],
            borrower_ref=case["borrower_ref"],
            agency_id=row["agency_id"],
            agency_name=agency["name"],
            agency_phone=agency["phone"],
            placed_at=row["placed_at"],
            expires_at=row["expires_at"],
            policy_version=row["policy_version"],
            reason=row["reason"],
            arm=row["arm"],
        )
        return ASSIGNMENT_PLACED.envelope(
            source=SOURCE, subject=row["loan_id"], tenant=row["lender_id"], data=data
        )
