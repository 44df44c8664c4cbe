"""The log writer on fakes: a batch's entries appended in order with consecutive leaf indexes
under the Merkle root of every leaf and signed at once, before any judging; a judging round
appends and publishes the violations they reveal after them, signed once, and moves the
judged-up-to watermark past them; nothing found twice on a replay or a second round."""

from collections.abc import Collection, Sequence
from datetime import timedelta

from services.compliance.application.judge import Judge, Verdicts
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import EntryRow, LoanPair, SignedCheckpoint, UnitOfWork
from services.compliance.domain.entries import NewEntry
from shared.tlog.merkle import root_of, verify_inclusion
from shared.tlog.note import open_checkpoint
from shared.tlog.tree import inclusion_ranges, nodes_of, range_hash
from tests.unit.compliance.fakes import (
    NOW,
    CountingSigner,
    FakeAuditLog,
    FakeUnitOfWork,
    FixedClock,
    entry,
    envelope,
)
from tests.unit.compliance.test_judge import call, notice, placed, report, sms, stop
from tests.unit.compliance.test_judgement import PACKS

FOUND = "collections.compliance.violation-found"
RETRACTED = "collections.compliance.violation-retracted"


def writer(judge: Judge | None = None) -> tuple[LogWriter, CountingSigner]:
    signer = CountingSigner()
    return LogWriter(signer, judge or Judge(PACKS), FixedClock()), signer


async def logged(
    log_writer: LogWriter, uow: FakeUnitOfWork, batch: Sequence[NewEntry]
) -> SignedCheckpoint:
    """A consumed batch appended, then a judging round; the batch's own checkpoint."""
    signed = await log_writer.append(uow, batch)
    await log_writer.judge_pending(uow)
    return signed


def leaves(uow: FakeUnitOfWork) -> list[bytes]:
    return [bytes(row["leaf_hash"]) for row in uow.log.rows]


async def test_entries_are_appended_in_order_under_the_merkle_root_of_every_leaf() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer()
    first = [report(), placed(), notice(-47)]
    second = [
        entry("collections.loan.payment-received", loan_id="L-1", payment_id=f"p{n}")
        for n in range(5)
    ]

    await log_writer.append(uow, first)
    signed = await log_writer.append(uow, second)

    rows = uow.log.rows
    assert [row["leaf_index"] for row in rows] == list(range(8))
    assert [row["event_id"] for row in rows] == [e.event_id for e in first + second]
    assert (signed.tree_size, signed.root_hash) == (8, root_of(leaves(uow)))
    ranges = inclusion_ranges(3, 8)  # each entry proven in the signed tree
    nodes = await uow.log.nodes(nodes_of(ranges))
    proof = [range_hash(start, end, nodes) for start, end in ranges]
    verify_inclusion(3, 8, leaves(uow)[3], proof, signed.root_hash)


async def test_a_batch_is_signed_once_with_the_logs_key_before_it_is_judged() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()

    signed = await log_writer.append(uow, [report(), placed(), call(0), call(13)])

    assert len(signer.signed) == 1
    assert uow.checkpoints.saved == [signed]
    assert signed.tree_size == len(uow.log.rows) == 4  # provable: no judging waited for
    assert uow.published == []
    assert uow.judging.size == 0
    assert signed.signed_at == NOW
    assert signed.key_id == log_writer.key_id
    checkpoint = open_checkpoint(signed.note, signer.verifier)
    assert (checkpoint.size, checkpoint.root_hash) == (4, signed.root_hash)

    assert await log_writer.judge_pending(uow) == 4
    assert len(signer.signed) == 2  # the violations they reveal: one checkpoint more
    judged = uow.checkpoints.saved[-1]
    assert judged.tree_size == len(uow.log.rows) == 4 + 3
    assert open_checkpoint(judged.note, signer.verifier).size == 7
    assert uow.judging.size == 4  # the violations' own entries are judged's outcome


async def test_violations_are_appended_after_the_batch_and_published() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer()
    batch = [report(), placed(), call(0), call(13)]

    await logged(log_writer, uow, batch)

    assert uow.log.types()[4:] == [FOUND] * 3
    assert uow.published_types() == [FOUND] * 3
    violation_ids = {row["event_id"] for row in uow.log.rows[4:]}
    assert violation_ids == {e.id for e in uow.published}
    stored = {v["violation_id"]: v for v in uow.violations.rows.values()}
    assert {e.data["violation_id"] for e in uow.published} == set(stored)
    assert sorted(v["leaf_index"] for v in stored.values()) == [4, 5, 6]
    assert sorted(v["rule_id"] for v in stored.values()) == ["CN-01", "CN-09", "CN-09"]


async def test_a_later_notice_retracts_once_and_a_replay_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()
    first = [report(), placed(), call(0)]
    await logged(log_writer, uow, first)
    [cn09] = uow.violations.rows.values()
    late = [notice(-47)]

    await logged(log_writer, uow, late)

    size = len(uow.log.rows)
    assert uow.log.types()[-2:] == ["collections.notification.agency-notice-sent", RETRACTED]
    assert uow.published_types() == [FOUND, RETRACTED]
    assert cn09["retracted_at"] == uow.published[-1].time
    assert cn09["retraction_leaf_index"] == size - 1
    assert uow.published[-1].data["clearing_leaf_indexes"] == [size - 2]

    published, violations = len(uow.published), dict(uow.violations.rows)
    for batch in (first, late, [report(), placed(), call(0)]):  # redelivered, published again
        await logged(log_writer, uow, batch)
    assert len(uow.published) == published
    assert uow.violations.rows == violations
    assert uow.log.types().count(RETRACTED) == 1
    assert uow.log.types().count(FOUND) == 1
    assert len(signer.signed) == 5 + 2  # each batch; the rounds that found or retracted


async def test_a_round_judges_each_entry_once_and_batches_together() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()
    await log_writer.append(uow, [report(), placed()])
    await log_writer.append(uow, [call(0)])  # two batches, one round

    assert await log_writer.judge_pending(uow) == 3
    assert uow.published_types() == [FOUND]
    assert uow.judging.size == 3
    assert await log_writer.judge_pending(uow) == 1  # its violation entry: passed, not judged
    assert await log_writer.judge_pending(uow) == 0
    assert uow.published_types() == [FOUND]
    assert len(signer.signed) == 3


async def test_a_round_takes_at_most_its_limit_and_the_next_goes_on() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer()
    await log_writer.append(uow, [report(), placed(), call(0), call(13)])

    assert await log_writer.judge_pending(uow, limit=2) == 2  # report and placement: no contact
    assert uow.published == []
    assert uow.judging.size == 2
    assert await log_writer.judge_pending(uow, limit=2) == 2
    assert sorted(e.data["rule_id"] for e in uow.published) == ["CN-01", "CN-09", "CN-09"]


async def test_a_round_held_by_another_replica_judges_nothing() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()
    await log_writer.append(uow, [report(), placed(), call(0)])
    uow.judging.held = True

    assert await log_writer.judge_pending(uow) == 0

    assert uow.published == []
    assert uow.judging.size == 0
    assert len(uow.log.rows) == 3
    assert len(signer.signed) == 1


class FailingJudge(Judge):
    async def verdicts_between(self, uow: UnitOfWork, start: int, end: int) -> Verdicts:
        uow.publish(envelope(FOUND, loan_id="L-1"))
        raise RuntimeError("a rule crashed")


async def test_a_judging_failure_never_holds_the_log_up() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer(FailingJudge(PACKS))

    signed = await log_writer.append(uow, [report(), placed(), call(0)])
    judged = await log_writer.judge_pending(uow)

    assert signed.tree_size == len(uow.log.rows) == 3
    assert judged == 3
    assert uow.judging.size == 3
    assert uow.published == []  # undone with the savepoint
    assert uow.violations.rows == {}


async def test_the_latest_checkpoint_is_signed_when_none_is() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()
    await log_writer.append(uow, [report()])
    latest = await log_writer.latest(uow.log, uow.checkpoints)
    assert latest == uow.checkpoints.saved[-1]
    assert len(signer.signed) == 1

    log_writer.signer = CountingSigner()  # a new key: the head signed again with it
    again = await log_writer.latest(uow.log, uow.checkpoints)
    assert again.key_id != latest.key_id
    assert again.signed_at - latest.signed_at == timedelta(0)


class CountingLog(FakeAuditLog):
    """The fake log, counting the loans whose whole timeline a round read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[LoanPair] = []

    async def judged_timelines(
        self, loans: Collection[LoanPair], before: int
    ) -> dict[LoanPair, list[EntryRow]]:
        self.read.extend(loans)
        return await super().judged_timelines(loans, before)


BATCHES = [
    [report(), placed()],
    [call(0), sms(1)],
    [stop(2)],  # the borrower's own entry: names no loan
    [sms(3)],  # after the STOP
    [notice(-47)],  # late: retracts CN-09
    [sms(4), call(5)],
]


async def test_rounds_grow_the_timelines_they_judged_and_judge_as_a_fresh_read_does() -> None:
    kept, fresh = FakeUnitOfWork(log=CountingLog()), FakeUnitOfWork()
    kept_writer, _ = writer()

    for batch in BATCHES:
        await logged(kept_writer, kept, batch)
        await fresh_round(fresh, batch)

    assert kept.published_types() == fresh.published_types()
    assert without_times(kept) == without_times(fresh)
    assert kept.log.types() == fresh.log.types()
    assert RETRACTED in kept.published_types()
    log = kept.log
    assert isinstance(log, CountingLog)
    # read whole: first judged, and after the borrower's own entry (the STOP) only
    assert log.read == [("lender-1", "L-1")] * 2


async def test_a_round_starting_where_another_ended_reads_the_timelines_again() -> None:
    uow = FakeUnitOfWork(log=CountingLog())
    log_writer, _ = writer()
    await logged(log_writer, uow, [report(), placed()])
    await log_writer.append(uow, [call(0)])
    await log_writer.judge_pending(uow)
    log = uow.log
    assert isinstance(log, CountingLog)
    assert len(log.read) == 1

    await log_writer.append(uow, [call(13)])
    await log_writer.judge_pending(uow)  # judges the violation entries only
    uow.judging.size = len(uow.log.rows)  # another replica judged past them
    await log_writer.append(uow, [sms(14)])
    await log_writer.judge_pending(uow)
    assert len(log.read) == 2


def without_times(uow: FakeUnitOfWork) -> list[dict[str, object]]:
    """The violations stored, but when they were retracted (the retraction's clock)."""
    return [
        {name: value for name, value in row.items() if name != "retracted_at"}
        for row in uow.violations.rows.values()
    ]


async def fresh_round(uow: FakeUnitOfWork, batch: list[NewEntry]) -> None:
    """A batch appended and judged by a judge with nothing kept (every timeline read)."""
    fresh_writer, _ = writer()
    await logged(fresh_writer, uow, batch)
