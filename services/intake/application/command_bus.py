"""The one path every command takes: group commit, Idempotency-Key replay, one unit of work.

Concurrent submissions are handled together in one transaction (``shared.group_commit``): all
overdue reports of a lender in the group become one batch for the handler, so a thousand single
POSTs cost what one batch does. Each submission keeps its own reply or error: a replayed reply
for a known key (or ``IdempotencyKeyReusedError`` for a key sent with another request), a new
reply stored under its key in the transaction that did its work, or the refusal it caused
alone. A group that fails for a reason one submission may cause is retried one by one.
Each submission keeps its request's trace too: the events of its loans carry that context
(``shared.observability.tracing``), whichever request's task runs the group.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.intake.application.handlers import IntakeHandlers
from services.intake.application.ports import StoredReply, UnitOfWork
from services.intake.domain.commands import (
    CloseLoan,
    Command,
    LiftHold,
    PlaceHold,
    RecallPlacement,
    RecordPayment,
    ReportOverdueLoans,
    ResolveDispute,
    RevokeBorrowerLinks,
    UpdateContactPreferences,
)
from services.intake.domain.loan import LoanConflictError, LoanNotFoundError
from shared.events.envelope import message_key
from shared.group_commit import GroupCommit
from shared.kafka.faults import is_transient, sqlstate_of
from shared.observability.tracing import Carrier, carrier_for, causes

KEY_ATTEMPTS = 3
ALREADY_A_BATCH = 100  # reports in one command: grouping it with others gains nothing
# Batches in a transaction at once, per process: with the group commit's two, below the pool's
# ten connections (and its ten more of overflow), and enough to overlap two cores' Python work
# with the database's.
BATCHES_IN_FLIGHT = 6
LINGER = 0.002  # seconds; measured: +8 % requests/s under load (benchmarks/intake.py)
REFUSALS = (LoanNotFoundError, LoanConflictError)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the caller answers: a status and a JSON body (stored to replay under a key)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Submission:
    """A command from one lender; ``present`` turns the handler's result into the reply (and
    may raise a refusal instead)."""

    lender_id: str
    command: Command
    present: Callable[[Any], Reply]
    key: str | None = None
    fingerprint: bytes = b""  # of the request, when it has a key
    trace: Carrier | None = None  # the W3C context of its request (set by ``submit``)

    def traces(self) -> dict[str, Carrier | None]:
        """Its request's context for the message key of each loan it names."""
        command = self.command
        if isinstance(command, ReportOverdueLoans):
            loans = [report.loan_id for report in command.reports]
        else:
            loans = [command.loan_id] if hasattr(command, "loan_id") else []
        return {message_key(self.lender_id, loan): self.trace for loan in loans}


class IdempotencyKeyReusedError(Exception):
    """The key was used before for a different request."""


class _KeyTakenError(Exception):
    """A concurrent group stored one of this group's keys first: the next attempt replays it."""


Outcome = Reply | Exception


class CommandBus:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        handlers: IntakeHandlers,
        linger: float = LINGER,
        batches_in_flight: int = BATCHES_IN_FLIGHT,
    ) -> None:
        """``batches_in_flight``: batch commands in a transaction at once (each holds a
        database connection; the others wait here, in order, not for the pool's checkout,
        which gives up with a 503 after its timeout). Keep it below the pool's size."""
        self._unit_of_work = unit_of_work
        self._handlers = handlers
        self._group = GroupCommit[Submission, Reply](self._answer_all, linger=linger)
        self._batches = asyncio.Semaphore(batches_in_flight)

    async def submit(self, submission: Submission) -> Reply:
        """Handle one submission (with whatever others arrive meanwhile); its own reply.

        A command that is a batch already takes the same path in a unit of work of its own,
        so that concurrent batches overlap their Python work with each other's database work.
        """
        submission = replace(submission, trace=carrier_for())
        command = submission.command
        if isinstance(command, ReportOverdueLoans) and len(command.reports) >= ALREADY_A_BATCH:
            async with self._batches:
                (outcome,) = await self._answer_all([submission])
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return await self._group.submit(submission)

    async def _answer_all(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """A key used twice in one group: the repeat goes after the first one has committed,
        so it replays that reply as it would as a retry."""
        first: list[int] = []
        repeats: list[int] = []
        seen: set[tuple[str, str]] = set()
        for index, submission in enumerate(submissions):
            key = (submission.lender_id, submission.key or "")
            (repeats if submission.key is not None and key in seen else first).append(index)
            seen.add(key)
        outcomes = dict(
            zip(first, await self._commit([submissions[i] for i in first]), strict=True)
        )
        if repeats:
            again = await self._answer_all([submissions[i] for i in repeats])
            outcomes |= dict(zip(repeats, again, strict=True))
        return [outcomes[index] for index in range(len(submissions))]

    async def _commit(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """All in one transaction; if that fails for a reason a submission may cause, each in
        its own transaction, so that a bad one fails alone."""
        failure: Exception | None = None
        traces = {key: trace for s in submissions for key, trace in s.traces().items()}
        for _ in range(KEY_ATTEMPTS):
            try:
                with causes(traces):
                    async with self._unit_of_work() as uow:
                        outcomes = await self._answer(uow, submissions)
                        await uow.commit()
                return outcomes
            except _KeyTakenError as error:
                failure = error
            except Exception as error:
                if is_transient(error) and not _is_lock_conflict(error):
                    return [error] * len(submissions)  # the database is away: one by one won't do
                failure = error
                break
        if len(submissions) == 1:
            return [failure or RuntimeError("no attempt made")]
        return [outcome for one in submissions for outcome in await self._commit([one])]

    async def _answer(self, uow: UnitOfWork, submissions: Sequence[Submission]) -> list[Outcome]:
        stored = await uow.idempotency_keys.find(
            {(s.lender_id, s.key) for s in submissions if s.key is not None}
        )
        outcomes: dict[int, Outcome] = {}
        to_run: list[int] = []
        for index, submission in enumerate(submissions):
            earlier = stored.get((submission.lender_id, submission.key or ""))
            if earlier is None:
                to_run.append(index)
            elif earlier.fingerprint != submission.fingerprint:
                outcomes[index] = IdempotencyKeyReusedError(submission.key)
            else:
                outcomes[index] = Reply(earlier.status, earlier.body, replayed=True)

        results = await self._run(uow, [submissions[i] for i in to_run], isolate=len(to_run) > 1)
        to_store: list[tuple[str, str, StoredReply]] = []
        for index, result in zip(to_run, results, strict=True):
            submission = submissions[index]
            try:
                reply = result if isinstance(result, Exception) else submission.present(result)
            except REFUSALS as refusal:
                reply = refusal
            outcomes[index] = reply
            if isinstance(reply, Reply) and submission.key is not None:
                stored_reply = StoredReply(submission.fingerprint, reply.status, reply.body)
                to_store.append((submission.lender_id, submission.key, stored_reply))
        if len(await uow.idempotency_keys.save(to_store)) < len(to_store):
            raise _KeyTakenError
        return [outcomes[index] for index in range(len(submissions))]

    async def _run(
        self, uow: UnitOfWork, submissions: Sequence[Submission], *, isolate: bool
    ) -> list[Any]:
        """Each submission's result, or the refusal it raised. Reports first, one batch per
        lender; then the other commands, each in a savepoint when it shares the transaction."""
        results: dict[int, Any] = {}
        reports: dict[str, list[int]] = defaultdict(list)
        for index, submission in enumerate(submissions):
            if isinstance(submission.command, ReportOverdueLoans):
                reports[submission.lender_id].append(index)
        for lender_id, indexes in reports.items():
            commands = [submissions[i].command for i in indexes]
            merged = ReportOverdueLoans(
                tuple(r for c in commands if isinstance(c, ReportOverdueLoans) for r in c.reports)
            )
            items = iter(await self._handlers.report_overdue_loans(uow, lender_id, merged))
            for index, command in zip(indexes, commands, strict=True):
                assert isinstance(command, ReportOverdueLoans)
                results[index] = [next(items) for _ in command.reports]
        for index, submission in enumerate(submissions):
            if index in results:
                continue
            try:
                if isolate:
                    async with uow.savepoint():
                        results[index] = await self._handle(uow, submission)
                else:
                    results[index] = await self._handle(uow, submission)
            except REFUSALS as refusal:
                results[index] = refusal
        return [results[index] for index in range(len(submissions))]

    def _handle(self, uow: UnitOfWork, submission: Submission) -> Awaitable[Any]:
        handlers, lender_id, command = self._handlers, submission.lender_id, submission.command
        match command:
            case RecordPayment():
                return handlers.record_payment(uow, lender_id, command)
            case PlaceHold():
                return handlers.place_hold(uow, lender_id, command)
            case LiftHold():
                return handlers.lift_hold(uow, lender_id, command)
            case RecallPlacement():
                return handlers.recall_placement(uow, lender_id, command)
            case CloseLoan():
                return handlers.close_loan(uow, lender_id, command)
            case UpdateContactPreferences():
                return handlers.update_contact_preferences(uow, lender_id, command)
            case ResolveDispute():
                return handlers.resolve_dispute(uow, lender_id, command)
            case RevokeBorrowerLinks():
                return handlers.revoke_borrower_links(uow, lender_id, command)
            case ReportOverdueLoans():
                return handlers.report_overdue_loans(uow, lender_id, command)


def _is_lock_conflict(error: Exception) -> bool:
    """A deadlock or serialization failure between two groups: one by one will not deadlock."""
    sqlstate = sqlstate_of(error)
    return sqlstate is not None and sqlstate.startswith("40")
