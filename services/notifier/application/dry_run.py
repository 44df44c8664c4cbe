"""A changed cadence policy run over the past: the reminders each loan of a period would have
been sent (or refused by the contact rules) under the candidate policy and under the current
ones, and where they differ, with what actually happened to the current reminder (sent,
suppressed, cancelled ...).

Read-only: loans, notifications, preferences and the agencies' contacts come through
``DryRunReads`` (a read-only transaction in production, ``adapters/dry_run_reads.py``); the
schedule is the policy's own pure ``CadencePolicy.schedule``, stopped as the notifier stops
reminders (the loan's end, an agency's placement when ``stop.on_placement``), and each reminder
is checked as the sender checks it (``shared.contact_rules.check`` on ``facts_of`` the loan).
The facts are the loan's as the notifier holds them now (holds in force, placements,
preferences), each with the time it became true. Nothing is sent, scheduled or written.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from services.notifier.domain.cadence_policies import CadencePolicies, NoPolicyError
from services.notifier.domain.files import Case, Preferences
from services.notifier.domain.outreach import facts_of
from services.notifier.domain.policy import CadencePolicy
from shared.contact_rules import Contact, DebtFacts, RulePack, check
from shared.contact_rules.sources import message_contact
from shared.vocabulary import Channel, Jurisdiction

Progress = Callable[[int, int], None]
"""Told (done, total) after each batch of loans."""

BATCH = 500
LoanKey = tuple[str, str]
BorrowerKey = tuple[str, str]
SENT = "sent"


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

    async def preferences(
        self, borrowers: Collection[BorrowerKey]
    ) -> dict[BorrowerKey, Preferences]:
        """The borrowers' preferences and opt-outs, as the notifier keeps them."""

    async def agency_contacts(self, keys: Collection[LoanKey]) -> dict[LoanKey, list[Contact]]:
        """The agencies' contacts of these loans (the notifier's ledger rows)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """One reminder a policy schedules."""

    lender_id: str
    loan_id: str
    at: datetime
    channel: str
    template: str
    policy: str
    verdict: str = SENT  # or "refused", by the contact-rules check at its time
    rules: tuple[str, ...] = ()  # the rules that refused it

    @property
    def key(self) -> tuple[str, str, datetime, str]:
        return (self.lender_id, self.loan_id, self.at, self.channel)


@dataclass(frozen=True)
class CadenceDifference:
    lender_id: str
    loan_id: str
    at: datetime
    channel: str
    change: str  # "sent" or "refused" (the candidate's reminder), "not_sent" (only the current's)
    template: str
    rules: str  # the rules that refuse the candidate's reminder, if refused
    actual: str  # what happened to the current policy's reminder at that time ("-": none)

    def as_json(self) -> dict[str, Any]:
        return {
            "lender_id": self.lender_id,
            "loan_id": self.loan_id,
            "at": self.at.isoformat(),
            "channel": self.channel,
            "change": self.change,
            "template": self.template,
            "rules": self.rules,
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
    current_refused: int = 0
    candidate_refused: int = 0
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
                "current_refused": self.current_refused,
                "candidate_refused": self.candidate_refused,
                "actually_sent": self.actually_sent,
                "sent": changes.count("sent"),
                "refused": changes.count("refused"),
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


def checked(
    file: Case, plan: list[Planned], facts: DebtFacts, agencies: list[Contact], pack: RulePack
) -> list[Planned]:
    """Each planned reminder with the contact-rules check's verdict at its time, over the
    agencies' contacts and the reminders of the same plan sent before it."""
    ledger = list(agencies)
    found = []
    for number, p in enumerate(sorted(plan, key=lambda p: p.at), start=1):
        contact = message_contact(
            file.lender_id,
            file.loan_id,
            file.borrower_ref,
            f"dry-run:{p.policy}:{number}",
            Channel(p.channel),
            p.at,
            notice=False,
        )
        decision = check(contact, ledger, facts, pack)
        if decision.allowed:
            ledger.append(contact)
            found.append(p)
        else:
            found.append(replace(p, verdict="refused", rules=decision.refused_by))
    return found


def with_candidate(policies: CadencePolicies, candidate: CadencePolicy) -> CadencePolicies:
    """The notifier's policies with ``candidate`` in place of the policy of the same id."""
    return CadencePolicies((*(p for p in policies.policies if p.id != candidate.id), candidate))


async def cadence_dry_run(
    reads: DryRunReads,
    candidate: CadencePolicy,
    policies: CadencePolicies,
    packs: Mapping[Jurisdiction, RulePack],
    time_from: datetime,
    time_to: datetime,
    *,
    progress: Progress | None = None,
) -> CadenceDryRun:
    """Schedule every loan of the period the candidate serves by the candidate and by the
    current policies, each reminder checked by the contact rules at its time (the notifier's
    pack, the borrower's preferences, the holds and placements the notifier holds, the
    agencies' contacts); the differences, with what happened to each current reminder."""
    trial = with_candidate(policies, candidate)
    keys = await reads.loans_open(time_from, time_to)
    differences: list[CadenceDifference] = []
    counts = {"loans": 0, "before": 0, "after": 0, "before_refused": 0, "after_refused": 0}
    sent = 0
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        files = await reads.files(batch)
        actual = {
            (r["lender_id"], r["loan_id"], r["due_at"], r["channel"]): r["status"]
            for r in await reads.reminders(batch, time_from, time_to)
        }
        sent += sum(status in ("sent", "delivered") for status in actual.values())
        prefs = await reads.preferences({(f.lender_id, f.borrower_ref) for f in files})
        agencies = await reads.agency_contacts(batch)
        for file in files:
            served = (file.lender_id, file.product, file.jurisdiction.value)
            if _select(trial, *served) is not candidate:
                continue
            counts["loans"] += 1
            facts = facts_of(file, prefs.get((file.lender_id, file.borrower_ref)))
            pack, theirs = packs[file.jurisdiction], agencies.get(file.key, [])
            current = _select(policies, *served)
            plans = {
                "before": planned(file, current, time_from, time_to) if current else [],
                "after": planned(file, candidate, time_from, time_to),
            }
            before, after = (
                {p.key: p for p in checked(file, plans[side], facts, theirs, pack)}
                for side in ("before", "after")
            )
            for side, found in (("before", before), ("after", after)):
                refused = sum(p.verdict != SENT for p in found.values())
                counts[side] += len(found) - refused
                counts[f"{side}_refused"] += refused
            differences += _differences(before, after, actual)
        if progress is not None:
            progress(min(start + BATCH, len(keys)), len(keys))
    differences.sort(key=lambda d: (d.at, d.lender_id, d.loan_id, d.channel))
    return CadenceDryRun(
        candidate=candidate.label,
        time_from=time_from,
        time_to=time_to,
        loans=counts["loans"],
        current_reminders=counts["before"],
        candidate_reminders=counts["after"],
        current_refused=counts["before_refused"],
        candidate_refused=counts["after_refused"],
        actually_sent=sent,
        differences=differences,
    )


def _differences(
    before: Mapping[Any, Planned], after: Mapping[Any, Planned], actual: Mapping[Any, str]
) -> list[CadenceDifference]:
    """A reminder only one plan sends, or both plan and only one sends."""
    found = []
    for key, p in after.items():
        mine = before.get(key)
        if mine is None or mine.verdict != p.verdict:
            found.append(_difference(p, p.verdict, actual.get(key, "-")))
    for key, p in before.items():
        if key not in after and p.verdict == SENT:
            found.append(_difference(p, "not_sent", actual.get(key, "-")))
    return found


def _select(
    policies: CadencePolicies, lender_id: str, product: str, jurisdiction: str
) -> CadencePolicy | None:
    try:
        return policies.select(lender_id, product, jurisdiction)
    except NoPolicyError:
        return None


def _difference(p: Planned, change: str, actual: str) -> CadenceDifference:
    rules = ", ".join(p.rules) if change == "refused" else ""
    return CadenceDifference(
        p.lender_id, p.loan_id, p.at, p.channel, change, p.template, rules, actual
    )
