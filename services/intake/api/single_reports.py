"""Single overdue reports, accepted together: concurrent POSTs share one transaction.

Each request keeps its own answer: 202, or 200 for a report made before, or 409 for a closed
loan; its ``Idempotency-Key`` is replayed, or stored in the transaction that did its work; an
error that only it causes fails only it.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.idempotency import IdempotencyStore, StoredResponse
from services.intake.api.idempotency import replay
from services.intake.domain import LoanConflictError
from services.intake.reporting import Refusal, ReportIntake
from services.intake.schemas import AcceptedReport, OverdueLoanReport
from shared.db.engine import SessionFactory, transaction
from shared.group_commit import GroupCommit
from shared.http.problems import ProblemError
from shared.kafka.faults import is_transient

Answer = JSONResponse | Exception
KEY_ATTEMPTS = 3
LINGER = 0.002  # seconds; measured: +8 % requests/s under load (benchmarks/intake.py)


@dataclass(frozen=True)
class SingleReport:
    lender_id: str
    report: OverdueLoanReport
    key: str | None = None
    fingerprint: bytes = b""  # of the request, when it has a key


class _KeyTakenError(Exception):
    """A concurrent request stored one of the batch's keys first."""


class SingleReports:
    def __init__(
        self, sessions: SessionFactory, intake: ReportIntake, on_commit: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._intake = intake
        self._on_commit = on_commit
        self._group = GroupCommit[SingleReport, JSONResponse](self._answer_all, linger=LINGER)

    async def accept(self, report: SingleReport) -> JSONResponse:
        """Accept one report (with whatever others arrive meanwhile); its own answer."""
        return await self._group.submit(report)

    async def _answer_all(self, reports: Sequence[SingleReport]) -> list[Answer]:
        """A key used twice in one batch: the repeat goes after the first one has committed,
        so it replays that answer as it would as a retry."""
        first: list[int] = []
        repeats: list[int] = []
        seen: set[tuple[str, str | None]] = set()
        for index, report in enumerate(reports):
            key = (report.lender_id, report.key)
            (repeats if report.key is not None and key in seen else first).append(index)
            seen.add(key)
        answers = dict(zip(first, await self._commit([reports[i] for i in first]), strict=True))
        if repeats:
            again = await self._answer_all([reports[i] for i in repeats])
            answers |= dict(zip(repeats, again, strict=True))
        return [answers[index] for index in range(len(reports))]

    async def _commit(self, reports: Sequence[SingleReport]) -> list[Answer]:
        """All in one transaction; if that fails for a reason a report may cause, each in its own
        transaction, so that a bad one fails alone."""
        failure: Exception | None = None
        for _ in range(KEY_ATTEMPTS):  # a taken key is stored by now: the next attempt replays
            try:
                async with transaction(self._sessions) as session:
                    answers = await self._answer(session, reports)
            except _KeyTakenError as error:
                failure = error
                continue
            except Exception as error:
                if is_transient(error):  # the database is away: one by one would not help
                    return [error] * len(reports)
                failure = error
                break
            self._on_commit()
            return answers
        if len(reports) == 1:
            return [failure or RuntimeError("no attempt made")]
        return [answer for report in reports for answer in await self._commit([report])]

    async def _answer(self, session: AsyncSession, reports: Sequence[SingleReport]) -> list[Answer]:
        store = IdempotencyStore(session)
        keys = {(r.lender_id, r.key) for r in reports if r.key is not None}
        stored = await store.find_many(keys) if keys else {}
        answers: dict[int, Answer] = {}
        to_accept: dict[str, list[int]] = defaultdict(list)
        # In loan order, so concurrent batches lock their loans in the same order.
        for index in sorted(range(len(reports)), key=lambda i: reports[i].report.loan_id):
            report = reports[index]
            earlier = stored.get((report.lender_id, report.key)) if report.key else None
            if earlier is None:
                to_accept[report.lender_id].append(index)
                continue
            try:
                answers[index] = replay(earlier, report.fingerprint)
            except ProblemError as conflict:
                answers[index] = conflict

        to_store: list[tuple[str, str, StoredResponse]] = []
        for lender_id, indexes in to_accept.items():
            outcomes = await self._intake.accept(
                session, lender_id, [reports[i].report for i in indexes]
            )
            for index, outcome in zip(indexes, outcomes, strict=True):
                if isinstance(outcome, Refusal):
                    answers[index] = LoanConflictError(outcome.reason)
                    continue
                status = 200 if outcome.duplicate else 202
                body = AcceptedReport(
                    event_id=outcome.event_id,
                    loan_id=outcome.loan_id,
                    status="duplicate" if outcome.duplicate else "accepted",
                ).model_dump(mode="json")
                answers[index] = JSONResponse(body, status_code=status)
                report = reports[index]
                if report.key is not None:
                    to_store.append(
                        (lender_id, report.key, StoredResponse(report.fingerprint, status, body))
                    )
        if to_store and len(await store.save_many(to_store)) < len(to_store):
            raise _KeyTakenError
        return [answers[index] for index in range(len(reports))]
