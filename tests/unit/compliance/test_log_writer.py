"""The log writer on fakes: a batch's entries appended in order with consecutive leaf indexes
under the Merkle root of every leaf, the violations they reveal appended and published after
them, one signed checkpoint per batch, nothing found twice on a replay."""

from collections.abc import Sequence
from datetime import timedelta

from services.compliance.application.judge import Judge, Verdicts
from services.compliance.application.log_writer import LogWriter
from services.compliance.application.ports import UnitOfWork
from services.compliance.domain.entries import NewEntry
from shared.tlog.merkle import root_of, verify_inclusion
from shared.tlog.note import open_checkpoint
from shared.tlog.tree import inclusion_ranges, nodes_of, range_hash
from tests.unit.compliance.fakes import (
    NOW,
    CountingSigner,
    FakeUnitOfWork,
    FixedClock,
    entry,
    envelope,
)
from tests.unit.compliance.test_judge import call, notice, placed, report
from tests.unit.compliance.test_judgement import PACKS

FOUND = "collections.compliance.violation-found"
RETRACTED = "collections.compliance.violation-retracted"


def writer(judge: Judge | None = None) -> tuple[LogWriter, CountingSigner]:
    signer = CountingSigner()
    return LogWriter(signer, judge or Judge(PACKS), FixedClock()), signer


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


async def test_a_batch_is_signed_once_with_the_logs_key() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()

    signed = await log_writer.append(uow, [report(), placed(), call(0), call(13)])

    assert len(signer.signed) == 1  # the entries and the violations they reveal: one checkpoint
    assert uow.checkpoints.saved == [signed]
    assert signed.tree_size == len(uow.log.rows) == 4 + 3
    assert signed.signed_at == NOW
    assert signed.key_id == log_writer.key_id
    checkpoint = open_checkpoint(signed.note, signer.verifier)
    assert (checkpoint.size, checkpoint.root_hash) == (7, signed.root_hash)


async def test_violations_are_appended_after_the_batch_and_published() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer()
    batch = [report(), placed(), call(0), call(13)]

    await log_writer.append(uow, batch)

    assert uow.log.types()[4:] == [FOUND] * 3
    assert uow.published_types() == [FOUND] * 3
    logged = {row["event_id"] for row in uow.log.rows[4:]}
    assert logged == {e.id for e in uow.published}
    stored = {v["violation_id"]: v for v in uow.violations.rows.values()}
    assert {e.data["violation_id"] for e in uow.published} == set(stored)
    assert sorted(v["leaf_index"] for v in stored.values()) == [4, 5, 6]
    assert sorted(v["rule_id"] for v in stored.values()) == ["CN-01", "CN-09", "CN-09"]


async def test_a_later_notice_retracts_once_and_a_replay_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    log_writer, signer = writer()
    first = [report(), placed(), call(0)]
    await log_writer.append(uow, first)
    [cn09] = uow.violations.rows.values()
    late = [notice(-47)]

    signed = await log_writer.append(uow, late)

    assert uow.log.types()[-2:] == ["collections.notification.agency-notice-sent", RETRACTED]
    assert uow.published_types() == [FOUND, RETRACTED]
    assert cn09["retracted_at"] == uow.published[-1].time
    assert cn09["retraction_leaf_index"] == signed.tree_size - 1
    assert uow.published[-1].data["clearing_leaf_indexes"] == [signed.tree_size - 2]

    published, violations = len(uow.published), dict(uow.violations.rows)
    for batch in (first, late, [report(), placed(), call(0)]):  # redelivered, published again
        await log_writer.append(uow, batch)
    assert len(uow.published) == published
    assert uow.violations.rows == violations
    assert uow.log.types().count(RETRACTED) == 1
    assert uow.log.types().count(FOUND) == 1
    assert len(signer.signed) == 5


class FailingJudge(Judge):
    async def verdicts(self, uow: UnitOfWork, entries: Sequence[NewEntry]) -> Verdicts:
        uow.publish(envelope(FOUND, loan_id="L-1"))
        raise RuntimeError("a rule crashed")


async def test_a_judging_failure_never_keeps_entries_out_of_the_log() -> None:
    uow = FakeUnitOfWork()
    log_writer, _ = writer(FailingJudge(PACKS))

    signed = await log_writer.append(uow, [report(), placed(), call(0)])

    assert signed.tree_size == 3
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
