"""What every rule gets (a ``Situation``) and gives back (a ``Finding``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.contact_rules import clock
from shared.contact_rules.facts import DebtFacts
from shared.contact_rules.ledger import Contact, Outcome


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that a contact breaks: why, the ledger entries that show it, and the earliest
    moment the rule could allow it (``None``: time alone never will)."""

    rule_id: str
    explanation: str
    evidence: tuple[str, ...] = ()
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """One contact, the history that counts for it (same person and debt, not later, oldest
    first, without the contact itself), the facts, and the contact's time in the borrower's zone.
    """

    contact: Contact
    history: tuple[Contact, ...]
    facts: DebtFacts
    tz: ZoneInfo
    local: datetime

    @property
    def day(self) -> date:
        return self.local.date()

    def day_start(self, days_from_today: int = 0) -> datetime:
        return clock.day_start(self.day + timedelta(days=days_from_today), self.tz)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def with_outcome(self, outcome: Outcome) -> Situation:
        return replace(self, contact=replace(self.contact, outcome=outcome))


Evaluate = Callable[[Situation], Finding | None]


def merge(rule_id: str, problems: list[tuple[str, tuple[str, ...], datetime | None]]) -> Finding:
    """One finding from several problems of the same rule; it can allow only after all pass."""
    retries = [retry for _, _, retry in problems]
    latest = None if any(r is None for r in retries) else max(r for r in retries if r)
    evidence = tuple(dict.fromkeys(e for _, ids, _ in problems for e in ids))
    return Finding(rule_id, "; ".join(text for text, _, _ in problems), evidence, latest)


def local_text(at: datetime, tz: ZoneInfo) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
