"""Placement: decides the cases that are due, ends lapsed assignments, announces expiring ones.

A case becomes due when something about it changed (a report, a hold lifted, an assignment
ended) or when no agency could take it and the policy's retry pause is over. The placement
worker (``workers.py``) claims them through the kit's job queue (a lease and a fencing token)
and hands the claim here; a batch is decided on the cases as they are when it is decided, only
those the claim still holds, and written with its events in one unit of work.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from services.agency_gateway.application.ending import end_assignment
from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import LoanKey, Row, UnitOfWork
from services.agency_gateway.domain.allocation import AgencyLoad, Allocation, allocate
from services.agency_gateway.domain.cases import (
    CaseFacts,
    exclusion,
    recalled_by_hold,
    status_of,
)
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


# What a case the first report opens holds besides the report (the columns' defaults).
NEW_CASE: Row = {
    "holds": {},
    "ended_reason": None,
    "lender_recalled_at": None,
    "legal_stage": None,
    "placement_note": None,
}


@dataclass
class Decision:
    """A batch's decisions: each case's new placement state, the assignments made, their
    events."""

    states: dict[LoanKey, Row] = field(default_factory=dict)
    placed: list[Row] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)


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
        # by agency: the counters are locked in the order every placing transaction takes them
        for assignment in sorted(lapsed, key=lambda a: (a["agency_id"], a["assignment_id"])):
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
        decision = await self._decision(uow, due, now)
        await uow.cases.change_each(list(decision.states.values()))
        await uow.assignments.add(decision.placed)
        await self._publish(uow, decision.envelopes, now)
        return len(due)

    async def decide_reports(self, uow: UnitOfWork, rows: list[Row], now: datetime) -> int:
        """Fresh reports decided in the unit of work that records them, each case written
        once: the cases are locked, each report newer than its stored case is decided on the
        case as the report leaves it, and the case is written with its decision (a report
        older than the stored one changes nothing). Returns how many were decided."""
        keys = {(row["lender_id"], row["loan_id"]) for row in rows}
        stored = await uow.cases.for_update(keys)
        fresh: list[Row] = []
        cases: list[Row] = []
        for row in rows:
            case = stored.get((row["lender_id"], row["loan_id"]))
            if case is not None and case["as_of"] >= row["as_of"]:
                continue
            fresh.append(row)
            cases.append(NEW_CASE | (case or {}) | row)
        if not fresh:
            return 0
        decision = await self._decision(uow, cases, now)
        await uow.cases.record_decided(
            [row | decision.states[(row["lender_id"], row["loan_id"])] for row in fresh]
        )
        await uow.assignments.add(decision.placed)
        await self._publish(uow, decision.envelopes, now)
        return len(fresh)

    async def _decision(self, uow: UnitOfWork, due: list[Row], now: datetime) -> Decision:
        """Each case's decision: its new state, the assignments made and their events."""
        keys = {(c["lender_id"], c["loan_id"]) for c in due}
        active: dict[LoanKey, Row] = {}
        held_before: dict[LoanKey, set[str]] = {}
        for a in await uow.assignments.of_loans(keys):  # one read for both
            key = (a["lender_id"], a["loan_id"])
            if a["ended_at"] is None:
                active[key] = a
            if not recalled_by_hold(a["status"], a["end_reason"]):
                held_before.setdefault(key, set()).add(a["agency_id"])
        loads: dict[str, AgencyLoad] = {}
        details: dict[str, Row] = {}
        for load, agency in await uow.agencies.loads():
            loads[load.agency_id], details[load.agency_id] = load, agency
        prefs = await uow.preferences.of({(c["lender_id"], c["borrower_ref"]) for c in due})
        decision = Decision()
        for case in due:
            key = (case["lender_id"], case["loan_id"])
            state = {"lender_id": key[0], "loan_id": key[1], "placement_due_at": None}
            state["updated_at"] = now
            facts = case_facts(case, prefs.get((case["lender_id"], case["borrower_ref"])))
            variant = self.policy.variant(*key)
            if key in active:
                agency_id = active[key]["agency_id"]
                decision.states[key] = state | _placement_state(
                    "placed", agency_id, case["placement_note"]
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
                decision.states[key] = state | _placement_state(
                    status, None, reason or "no_eligible_agency"
                )
                continue
            row = self._assignment(case, facts, variant, choice, now)
            decision.placed.append(row)
            chosen = loads[choice.agency_id]
            loads[choice.agency_id] = replace(chosen, open_accounts=chosen.open_accounts + 1)
            decision.states[key] = state | _placement_state("placed", choice.agency_id, None)
            decision.envelopes.append(self._placed_event(row, case, details[choice.agency_id]))
        return decision

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
