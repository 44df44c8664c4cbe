"""A changed cadence policy run over the past: the reminders each loan of a period would have
been scheduled under the candidate policy and under the current ones, and where they differ,
with what actually happened to the current reminder (sent, suppressed, cancelled ...).

Read-only: loans and notifications come through ``DryRunReads`` (a read-only transaction in
production, ``adapters/dry_run_reads.py``); the schedule is the policy's own pure
``CadencePolicy.schedule``, stopped as the notifier stops reminders (the loan's end, an
agency's placement when ``stop.on_placement``). Nothing is sent, scheduled or written.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from services.notifier.domain.cadence_policies import CadencePolicies, NoPolicyError
from services.notifier.domain.files import Case
from services.notifier.domain.policy import CadencePolicy

Progress = Callable[[int, int], None]
"""Told (done, total) after each batch of loans."""

BATCH = 500
LoanKey = tuple[str, str]


class DryRunReads(Protocol):
    async def loans_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        """Loans due before the period ends and not ended before it starts, in a stable order."""

    async def files(self, keys: Collection[LoanKey]) -> list[Case]:
        """Those loans' files."""

    async def reminders(
        self, keys: Collection[LoanKey], time_from: datetime, time_to: datetime
    ) -> list[dict[str, Any]]:
        """Their reminders due in the period: lender_id, loan_id, step, channel, template,
        status, due_at."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One reminder a policy schedules."""

    lender_id: str
    loan_id: str
    at: datetime
    channel: str
    template: str
    policy: str

    @property
    def key(self) -> tuple[str, str, datetime, str]:
        return (self.lender_id, self.loan_id, self.at, self.channel)


@dataclass(frozen=True)
class CadenceDifference:
    lender_id: str
    loan_id: str
    at: datetime
    channel: str
    change: str  # "sent" (only the candidate sends it) or "not_sent" (only the current does)
    template: str
    actual: str  # what happened to the current policy's reminder at that time ("-": none)

    def as_json(self) -> dict[str, Any]:
        return {
            "lender_id": self.lender_id,
            "loan_id": self.loan_id,
            "at": self.at.isoformat(),
            "channel": self.channel,
            "change": self.change,
            "template": self.template,
            "actual": self.actual,
        }


@dataclass(frozen=True)
class CadenceDryRun:
    candidate: str
    time_from: datetime
    time_to: datetime
    loans: int = 0
    current_reminders: int = 0
    candidate_reminders: int = 0
    actually_sent: int = 0
    differences: list[CadenceDifference] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        changes = [d.change for d in self.differences]
        return {
            "kind": "cadence",
            "candidate": self.candidate,
            "current": "the notifier's policies",
            "from": self.time_from.isoformat(),
            "to": self.time_to.isoformat(),
            "summary": {
                "loans": self.loans,
                "current_reminders": self.current_reminders,
                "candidate_reminders": self.candidate_reminders,
                "actually_sent": self.actually_sent,
                "sent": changes.count("sent"),
                "not_sent": changes.count("not_sent"),
            },
            "differences": [d.as_json() for d in self.differences],
        }


def planned(
    file: Case, policy: CadencePolicy, time_from: datetime, time_to: datetime
) -> list[Planned]:
    """The reminders ``policy`` schedules for the loan in ``[time_from, time_to)``: none after
    the loan ended, none while an agency holds it if the policy stops on placement."""
    found = []
    for scheduled in policy.schedule(file.due_date, ZoneInfo(file.timezone)):
        at = scheduled.send_at
        if at is None or not time_from <= at < time_to:
            continue
        if file.ended_at is not None and at >= file.ended_at:
            continue
        if policy.stop.on_placement and any(
            p.placed_at <= at and (p.ended_at is None or at < p.ended_at) for p in file.placements
        ):
            continue
        step = scheduled.step
        found.append(
            Planned(
                file.lender_id, file.loan_id, at, step.channel.value, step.template, policy.label
            )
        )
    return found


def with_candidate(policies: CadencePolicies, candidate: CadencePolicy) -> CadencePolicies:
    """The notifier's policies with ``candidate`` in place of the policy of the same id."""
    return CadencePolicies((*(p for p in policies.policies if p.id != candidate.id), candidate))


async def cadence_dry_run(
    reads: DryRunReads,
    candidate: CadencePolicy,
    policies: CadencePolicies,
    time_from: datetime,
    time_to: datetime,
    *,
    progress: Progress | None = None,
) -> CadenceDryRun:
    """Schedule every loan of the period the candidate serves by the candidate and by the
    current policies; the differences, with what happened to each current reminder."""
    trial = with_candidate(policies, candidate)
    keys = await reads.loans_open(time_from, time_to)
    differences: list[CadenceDifference] = []
    loans = now_count = trial_count = sent = 0
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        files = await reads.files(batch)
        actual = {
            (r["lender_id"], r["loan_id"], r["due_at"], r["channel"]): r["status"]
            for r in await reads.reminders(batch, time_from, time_to)
        }
        sent += sum(status in ("sent", "delivered") for status in actual.values())
        for file in files:
            served = (file.lender_id, file.product, file.jurisdiction.value)
            after_policy = _select(trial, *served)
            if after_policy is None or after_policy is not candidate:
                continue
            loans += 1
            before_policy = _select(policies, *served)
            before = (
                {p.key: p for p in planned(file, before_policy, time_from, time_to)}
                if before_policy
                else {}
            )
            after = {p.key: p for p in planned(file, candidate, time_from, time_to)}
            now_count += len(before)
            trial_count += len(after)
            for key, p in after.items():
                if key not in before:
                    differences.append(_difference(p, "sent", actual.get(key, "-")))
            for key, p in before.items():
                if key not in after:
                    differences.append(_difference(p, "not_sent", actual.get(key, "-")))
        if progress is not None:
            progress(min(start + BATCH, len(keys)), len(keys))
    differences.sort(key=lambda d: (d.at, d.lender_id, d.loan_id, d.channel))
    return CadenceDryRun(
        candidate=candidate.label,
        time_from=time_from,
        time_to=time_to,
        loans=loans,
        current_reminders=now_count,
        candidate_reminders=trial_count,
        actually_sent=sent,
        differences=differences,
    )


def _select(
    policies: CadencePolicies, lender_id: str, product: str, jurisdiction: str
) -> CadencePolicy | None:
    try:
        return policies.select(lender_id, product, jurisdiction)
    except NoPolicyError:
        return None


def _difference(p: Planned, change: str, actual: str) -> CadenceDifference:
    return CadenceDifference(p.lender_id, p.loan_id, p.at, p.channel, change, p.template, actual)
