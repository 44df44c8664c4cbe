"""Judging the loans a range of the log names, by the log's prefix up to that range's end (a
judging round, after the range's entries were committed and signed)."""

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.compliance.application.ports import EntryRow, LoanPair, UnitOfWork
from services.compliance.domain.entries import NewEntry
from services.compliance.domain.judgement import Judged, LoggedEvent, judge_loan
from services.compliance.domain.retraction import Retraction, StandingViolation, retractions
from shared.contact_rules import RulePack
from shared.events.catalog import VIOLATION_FOUND, VIOLATION_RETRACTED
from shared.events.compliance import ViolationFound, ViolationRetracted
from shared.events.envelope import Envelope
from shared.vocabulary import Jurisdiction

SOURCE = "/collections/compliance"
OUTCOMES = (VIOLATION_FOUND.name, VIOLATION_RETRACTED.name)
"""Compliance's own entries: what judging concludes, never a cause to judge a loan again."""


def touched(entries: Iterable[NewEntry]) -> list[LoanPair]:
    """The loans these entries name (a borrower's entry names none), in order, each once."""
    return sorted({(e.lender_id, e.loan_id) for e in entries if e.loan_id is not None})


@dataclass(frozen=True)
class Found:
    lender_id: str
    judged: Judged
    envelope: Envelope


@dataclass(frozen=True)
class Retracted:
    lender_id: str
    retraction: Retraction
    envelope: Envelope


@dataclass(frozen=True)
class Verdicts:
    """What a batch changes: violations found (new, or again after a retraction) and standing
    violations retracted."""

    found: list[Found] = field(default_factory=list)
    retracted: list[Retracted] = field(default_factory=list)

    @property
    def envelopes(self) -> list[Envelope]:
        return [f.envelope for f in self.found] + [r.envelope for r in self.retracted]


class Timelines:
    """Parsed timelines of the loans judged lately (entries never change: a timeline only
    grows), each complete below ``before``, the end of the last round judged here; at most
    ``max_loans``, the least recently judged dropped first. A round that starts anywhere else
    (another replica judged since, or a round failed) starts from none."""

    def __init__(self, max_loans: int = 4096) -> None:
        self.before: int | None = None
        self._max_loans = max_loans
        self._events: OrderedDict[LoanPair, list[LoggedEvent]] = OrderedDict()
        self._refs: dict[LoanPair, set[str]] = {}

    def __contains__(self, loan: LoanPair) -> bool:
        return loan in self._events

    def __len__(self) -> int:
        return len(self._events)

    def start(self, start: int) -> None:
        """A round judging from ``start``: what is kept is kept only if complete below it."""
        if self.before != start:
            self._events.clear()
            self._refs.clear()
        self.before = None  # until the round ends well

    def grow(self, rows: Sequence[EntryRow]) -> None:
        """Add a range's entries (in leaf order) to the loans they belong to; a loan given an
        entry of a borrower it did not name before, and every loan of a borrower with an entry
        of its own (which names no loan), is dropped: read whole when next judged."""
        for row in rows:
            lender_id, loan_id, ref = row["tenant_id"], row["loan_id"], row["borrower_ref"]
            if loan_id is None:
                if ref is not None:
                    for loan in [k for k, refs in self._refs.items() if k[0] == lender_id]:
                        if ref in self._refs[loan]:
                            self._drop(loan)
                continue
            loan = (lender_id, loan_id)
            if loan not in self._events:
                continue
            if ref is not None and ref not in self._refs[loan]:
                self._drop(loan)
                continue
            self._events[loan].append(_logged(row))

    def keep(self, loan: LoanPair, rows: Sequence[EntryRow]) -> list[LoggedEvent]:
        """A loan's whole timeline as read, parsed and kept."""
        events = [_logged(row) for row in rows]
        self._events[loan] = events
        self._refs[loan] = {row["borrower_ref"] for row in rows if row["borrower_ref"]}
        while len(self._events) > self._max_loans:
            self._drop(next(iter(self._events)))
        return events

    def events(self, loan: LoanPair) -> list[LoggedEvent]:
        self._events.move_to_end(loan)
        return self._events[loan]

    def _drop(self, loan: LoanPair) -> None:
        self._events.pop(loan, None)
        self._refs.pop(loan, None)


class Judge:
    def __init__(self, packs: Mapping[Jurisdiction, RulePack]) -> None:
        self._packs = packs
        self.timelines = Timelines()

    async def verdicts_between(self, uow: UnitOfWork, start: int, end: int) -> Verdicts:
        """A judging round's verdicts: every loan the entries ``[start, end)`` name (but by
        compliance's own entries) judged whole by the log below ``end``, as ``verdicts``;
        timelines judged by the previous round here are grown by the range, not read again."""
        timelines = self.timelines
        timelines.start(start)
        rows = await uow.log.between(start, end)
        timelines.grow(rows)
        loans = sorted(
            {
                (row["tenant_id"], row["loan_id"])
                for row in rows
                if row["loan_id"] is not None and row["event_type"] not in OUTCOMES
            }
        )
        missing = [loan for loan in loans if loan not in timelines]
        read = await uow.log.judged_timelines(missing, end) if missing else {}
        for loan in missing:
            timelines.keep(loan, read.get(loan, []))
        verdicts = await self._judge(uow, {loan: timelines.events(loan) for loan in loans})
        timelines.before = end
        return verdicts

    async def verdicts(self, uow: UnitOfWork, loans: Collection[LoanPair], before: int) -> Verdicts:
        """Judge these loans whole, by every fact logged below the leaf index ``before``:
        violations not standing yet are found; standing ones no longer found are retracted
        (their entries stay: the log is append-only). The event loop is let go between loans,
        so the consumer's appends on it wait for one loan's judging at most."""
        ordered = sorted(loans)
        timelines = await uow.log.judged_timelines(ordered, before)
        return await self._judge(
            uow, {loan: [_logged(row) for row in timelines.get(loan, [])] for loan in ordered}
        )

    async def _judge(
        self, uow: UnitOfWork, timelines: Mapping[LoanPair, list[LoggedEvent]]
    ) -> Verdicts:
        standing = await uow.violations.standing(list(timelines))
        verdicts = Verdicts()
        for (lender_id, loan_id), events in timelines.items():
            await asyncio.sleep(0)
            judged = judge_loan(lender_id, loan_id, events, self._packs)
            stands = standing.get((lender_id, loan_id), [])
            known = {v.violation_id for v in stands}
            verdicts.found.extend(
                Found(lender_id, v, _found(lender_id, v))
                for v in judged
                if v.violation_id not in known
            )
            verdicts.retracted.extend(
                Retracted(lender_id, r, _retracted(lender_id, r))
                for r in retractions(stands, judged, events)
            )
        return verdicts


def _logged(row: EntryRow) -> LoggedEvent:
    return LoggedEvent(row["leaf_index"], row["event_type"], orjson.loads(row["entry"])["data"])


def _found(lender_id: str, v: Judged) -> Envelope:
    data = ViolationFound(
        **_about(v),
        contact_at=v.contact_at,
        leaf_indexes=list(v.leaf_indexes),
        explanation=v.explanation,
    )
    return VIOLATION_FOUND.envelope(source=SOURCE, subject=v.loan_id, tenant=lender_id, data=data)


def _retracted(lender_id: str, r: Retraction) -> Envelope:
    v = r.violation
    data = ViolationRetracted(
        **_about(v),
        violation_leaf_index=v.leaf_index,
        clearing_leaf_indexes=list(r.clearing_leaf_indexes),
        explanation=r.explanation,
    )
    return VIOLATION_RETRACTED.envelope(
        source=SOURCE, subject=v.loan_id, tenant=lender_id, data=data
    )


def _about(v: Judged | StandingViolation) -> dict[str, Any]:
    """What a found and a retracted violation's events both say of it."""
    return {
        "violation_id": v.violation_id,
        "rule_id": v.rule_id,
        "pack_version": v.pack_version,
        "loan_id": v.loan_id,
        "party": v.party,
        "agency_id": v.agency_id,
        "contact_id": v.contact_id,
    }
