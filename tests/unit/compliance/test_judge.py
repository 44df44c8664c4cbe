"""The judge on fakes: the loans a batch touched judged whole, violations found once with
their rule ids, retracted once when a later entry excuses them, whatever order the facts were
logged in."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.compliance.application.judge import Judge, Verdicts, touched
from services.compliance.domain.entries import NewEntry, new_entry
from tests.unit.compliance.fakes import FakeUnitOfWork, entry
from tests.unit.compliance.test_judgement import PACKS

LOAN, REF, AGENCY = "L-1", "bref_1", "ag"
# 2026-11-03 (a Tuesday) 10:00 in Shanghai.
NOON_CN = datetime(2026, 11, 3, 2, tzinfo=UTC)


def at(hours: float) -> str:
    return (NOON_CN + timedelta(hours=hours)).isoformat()


def report() -> NewEntry:
    borrower = {"ref": REF, "timezone": "Asia/Shanghai", "locale": "zh-CN"}
    return entry(
        "collections.loan.overdue-reported", loan_id=LOAN, jurisdiction="CN", borrower=borrower
    )


def placed(hours: float = -48) -> NewEntry:
    return entry(
        "collections.assignment.placed",
        loan_id=LOAN,
        borrower_ref=REF,
        agency_id=AGENCY,
        placed_at=at(hours),
    )


def notice(hours: float, notification: str = "n-notice") -> NewEntry:
    return entry(
        "collections.notification.agency-notice-sent",
        loan_id=LOAN,
        borrower_ref=REF,
        notification_id=notification,
        kind="agency_notice",
        channel="email",
        agency_id=AGENCY,
        at=at(hours),
    )


def call(hours: float, **more: Any) -> NewEntry:
    fields = {"type": "call", "direction": "outbound", "outcome": "no_answer", **more}
    return entry(
        "collections.agency.activity-recorded",
        loan_id=LOAN,
        borrower_ref=REF,
        activity_id=f"a{hours}",
        agency_id=AGENCY,
        at=at(hours),
        **fields,
    )


def sms(hours: float) -> NewEntry:
    return entry(
        "collections.notification.sent",
        loan_id=LOAN,
        borrower_ref=REF,
        notification_id=f"n{hours}",
        kind="reminder",
        channel="sms",
        at=at(hours),
    )


def stop(hours: float) -> NewEntry:
    """The borrower's STOP reply: a borrower entry, naming no loan."""
    return entry(
        "collections.borrower.opt-out-recorded",
        borrower_ref=REF,
        channel="sms",
        source="reply",
        at=at(hours),
        loan_ids=[LOAN],
    )


class Ledger:
    """The log and violations of the fakes, judged batch by batch as the log writer does."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.judge = Judge(PACKS)

    async def batch(self, *entries: NewEntry) -> Verdicts:
        appended = await self.uow.log.append(entries)
        verdicts = await self.judge.verdicts(self.uow, touched(entries), appended.size)
        appended = await self.uow.log.append([new_entry(e) for e in verdicts.envelopes])
        first = appended.size - len(verdicts.envelopes)
        await self.uow.violations.add(
            [(f.lender_id, first + i, f.judged) for i, f in enumerate(verdicts.found)]
        )
        first += len(verdicts.found)
        await self.uow.violations.retract(
            [
                (r.retraction.violation.violation_id, first + i, r.envelope.time)
                for i, r in enumerate(verdicts.retracted)
            ]
        )
        return verdicts


def rules(verdicts: Verdicts) -> list[str]:
    return sorted(f.judged.rule_id for f in verdicts.found)


async def test_a_lawful_contact_is_no_violation() -> None:
    ledger = Ledger()
    assert rules(await ledger.batch(report(), placed(), notice(-47), call(0), sms(1))) == []


async def test_quiet_hours_frequency_and_stop_breaches_are_found_with_their_rule_ids() -> None:
    ledger = Ledger()
    await ledger.batch(report(), placed(), notice(-47))

    night = await ledger.batch(call(13))  # 23:00 in Shanghai
    assert rules(night) == ["CN-01"]
    [found] = night.found
    assert found.judged.party == "agency:ag"
    assert found.envelope.type == "collections.compliance.violation-found"
    assert found.envelope.data["rule_id"] == "CN-01"

    attempts = await ledger.batch(*(call(0.5 * n) for n in range(7)))  # 8 unanswered in a day
    assert set(rules(attempts)) == {"CN-03"}

    after_stop = await ledger.batch(stop(20), sms(24))  # 10:00 the next day
    assert rules(after_stop) == ["POL-02"]


async def test_a_notice_logged_after_the_call_retracts_cn09_once() -> None:
    ledger = Ledger()
    found = await ledger.batch(report(), placed(), call(0))
    assert rules(found) == ["CN-09"]
    [cn09] = found.found

    told = await ledger.batch(notice(-47))  # sent before the call, logged after it
    assert told.found == []
    [retracted] = told.retracted
    assert retracted.retraction.violation.violation_id == cn09.judged.violation_id
    assert retracted.envelope.type == "collections.compliance.violation-retracted"
    assert ledger.uow.violations.by_rule(standing=False).keys() == {"CN-09"}

    again = await ledger.batch(notice(-47, "n-other"), sms(2))  # later entries: nothing new
    assert (again.found, again.retracted) == ([], [])


async def test_the_earliest_notice_counts_whatever_order_the_notices_are_logged_in() -> None:
    """The notifier sends its own notice on the placement: when that later notice is logged
    first, an earlier one logged after it still tells the borrower before the call."""
    ledger = Ledger()
    await ledger.batch(report(), placed(), call(0))
    late = await ledger.batch(notice(24 * 30, "n-notifier"))  # sent a month after the call
    assert (late.found, late.retracted) == ([], [])

    [retracted] = (await ledger.batch(notice(-47))).retracted
    assert retracted.retraction.violation.rule_id == "CN-09"


async def test_a_notice_logged_before_its_placement_counts_once_the_placement_is() -> None:
    ledger = Ledger()
    await ledger.batch(report(), notice(-47))
    found = await ledger.batch(call(0))
    assert rules(found) == ["CN-10"]  # no placement logged yet
    placement = await ledger.batch(placed())
    assert placement.found == []  # told before the call: no CN-09
    assert [r.retraction.violation.rule_id for r in placement.retracted] == ["CN-10"]


async def test_a_replayed_batch_finds_and_retracts_nothing_again() -> None:
    ledger = Ledger()
    first = [report(), placed(), call(0), call(13)]
    assert rules(await ledger.batch(*first)) == ["CN-01", "CN-09", "CN-09"]  # both calls
    replayed = await ledger.batch(*first)
    assert (replayed.found, replayed.retracted) == ([], [])

    late_notice = notice(-47)
    assert len((await ledger.batch(late_notice)).retracted) == 2  # both calls' CN-09
    for again in ([late_notice], first, [placed()]):  # the placement logged again keeps its notice
        replayed = await ledger.batch(*again)
        assert (replayed.found, replayed.retracted) == ([], [])
    assert set(ledger.uow.violations.by_rule()) == {"CN-01"}


async def test_only_the_loans_a_batch_names_are_judged() -> None:
    ledger = Ledger()
    other = entry("collections.loan.payment-received", loan_id="L-2", payment_id="p1")
    assert await ledger.batch(report(), placed(), call(0), other) != Verdicts()
    assert (await ledger.batch(other)) == Verdicts()
