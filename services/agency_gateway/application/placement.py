"""Placement: decides the cases that are due, ends lapsed assignments, announces expiring ones.

A case becomes due when something about it changed (a report, a hold lifted, an assignment
ended) or when no agency could take it and the policy's retry pause is over. The placement
worker (``workers.py``) claims them through the kit's job queue (a lease and a fencing token)
and hands the claim here; a batch is decided on the cases as they are when it is decided, only
those the claim still holds, and written with its events in one unit of work.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from services.agency_gateway.application.ending import end_assignment
from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import LoanKey, Row, UnitOfWork
from services.agency_gateway.domain.allocation import Allocation, allocate
from services.agency_gateway.domain.cases import CaseFacts, exclusion, status_of
from services.agency_gateway.domain.policy import PlacementPolicy, Variant
from services.agency_gateway.domain.webhooks import EXPIRING
from shared.events.assignments import AssignmentPlaced
from shared.events.catalog import ASSIGNMENT_PLACED
from shared.events.envelope import Envelope


def case_facts(case: Row, prefs: Row | None) -> CaseFacts:
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
        legal_stage=case.get("legal_stage"),
    )


def _placement_state(status: str, agency_id: str | None, note: str | None) -> Row:
    return {"status": status, "agency_id": agency_id, "placement_note": note}


@dataclass(frozen=True)
class CaseClaim:
    """Cases a worker claimed for a decision, under its fencing ``token``."""

    token: UUID
    keys: list[LoanKey]


@dataclass(frozen=True)
class PlacementHandlers:
    policy: PlacementPolicy

    async def end_lapsed(self, uow: UnitOfWork, lapsed: list[Row], now: datetime) -> int:
        """Expire the claimed assignments past their acknowledgement deadline
        (``ack_lease_lapsed``) or their term (``term_ended``)."""
        if not lapsed:
            return 0
        cases = await uow.cases.for_update({(a["lender_id"], a["loan_id"]) for a in lapsed})
        envelopes = []
        for assignment in lapsed:
            case = cases[(assignment["lender_id"], assignment["loan_id"])]
            unacknowledged = assignment["status"] == "placed" and assignment["ack_due_at"] <= now
            reason = "ack_lease_lapsed" if unacknowledged else "term_ended"
            envelopes.append(
                await end_assignment(
                    uow,
                    assignment,
                    case["borrower_ref"],
                    "expired",
                    reason,
                    now,
                    self.policy.version,
                )
            )
        await self._publish(uow, envelopes, now)
        return len(envelopes)

    async def decide(self, uow: UnitOfWork, claim: CaseClaim, now: datetime) -> int:
        """Decide each claimed case the claim still holds: placed with an agency, or not and
        why (the case's ``placement_note``); one no agency could take is due again after the
        retry pause. A case whose lease ran out, or that was changed since it was claimed, is
        left to whoever claims it next. Returns how many were decided."""
        due = await uow.cases.held(claim.keys, claim.token)
        if not due:
            return 0
        keys = {(c["lender_id"], c["loan_id"]) for c in due}
        active = await uow.assignments.active(keys)
        held_before = await uow.assignments.past_agencies(keys)
        open_counts = await uow.assignments.open_counts()
        loads = {a.agency_id: a for a in await uow.agencies.loads(open_counts)}
        details = {a["agency_id"]: a for a in await uow.agencies.all()}
        prefs = await uow.preferences.of({(c["lender_id"], c["borrower_ref"]) for c in due})
        placed: list[Row] = []
        decided: list[Row] = []  # each case's new status, written in one go
        envelopes: list[Envelope] = []
        for case in due:
            key = (case["lender_id"], case["loan_id"])
            state = {"lender_id": key[0], "loan_id": key[1], "placement_due_at": None}
            state["updated_at"] = now
            facts = case_facts(case, prefs.get((case["lender_id"], case["borrower_ref"])))
            variant = self.policy.variant(*key)
            if key in active:
                agency_id = active[key]["agency_id"]
                decided.append(
                    state | _placement_state("placed", agency_id, case["placement_note"])
                )
                continue
            reason = exclusion(facts, self.policy, variant)
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
                status = status_of(facts, self.policy, variant, placed=False).value
                state["placement_due_at"] = now + self.policy.retry if reason is None else None
                decided.append(
                    state | _placement_state(status, None, reason or "no_eligible_agency")
                )
                continue
            row = self._assignment(case, facts, variant, choice, now)
            placed.append(row)
            chosen = loads[choice.agency_id]
            loads[choice.agency_id] = replace(chosen, open_accounts=chosen.open_accounts + 1)
            decided.append(state | _placement_state("placed", choice.agency_id, None))
            envelopes.append(self._placed_event(row, case, details[choice.agency_id]))
        await uow.cases.change_each(decided)
        await uow.assignments.add(placed)
        await self._publish(uow, envelopes, now)
        return len(due)

    async def announce_expiring(self, uow: UnitOfWork, now: datetime, limit: int) -> int:
        """Tell agencies of assignments whose term ends within the policy's notice."""
        expiring = await uow.assignments.announce_expiring(now, self.policy.expiring_notice, limit)
        await uow.deliveries.owe([(EXPIRING, row) for row in expiring], now)
        return len(expiring)

    @staticmethod
    async def _publish(uow: UnitOfWork, envelopes: list[Envelope], now: datetime) -> None:
        for envelope in envelopes:
            uow.publish(envelope)
        await uow.deliveries.owe_for(envelopes, now)

    def _assignment(
        self, case: Row, facts: CaseFacts, variant: Variant, choice: Allocation, now: datetime
    ) -> Row:
        reason = (
            f"{facts.days_past_due} days past due (threshold {self.policy.threshold(variant)}, "
            f"{variant.value}); {facts.amount} {case['currency']} (minimum "
            f"{self.policy.minimum_amount}); {choice.agency_id} by share "
            f"{choice.share}/{choice.eligible_shares} of {choice.eligible} eligible"
        )
        return {
            "assignment_id": f"A-{uuid4().hex}",
            "lender_id": case["lender_id"],
            "loan_id": case["loan_id"],
            "agency_id": choice.agency_id,
            "status": "placed",
            "arm": variant.value,
            "policy_version": self.policy.version,
            "reason": reason,
            "amount": case["amount_overdue"],
            "currency": case["currency"],
            "placed_at": now,
            "ack_due_at": now + self.policy.ack_deadline,
            "expires_at": now + self.policy.term,
            "updated_at": now,
        }

    @staticmethod
    def _placed_event(row: Row, case: Row, agency: dict[str, Any]) -> Envelope:
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
        return loan_event(row, ASSIGNMENT_PLACED, data)
