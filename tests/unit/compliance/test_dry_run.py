"""A rule pack's dry run and ``rules explain`` on fakes: logged contacts judged by a stricter
pack and by the current one; each rule's verdict on a contact, made or proposed."""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from services.compliance.application.dry_run import rule_pack_dry_run
from services.compliance.application.explain import (
    NothingToExplainError,
    case_of,
    explain_contact,
    explain_notification,
    explain_proposed,
)
from services.compliance.application.ports import EntryRow, LoanPair
from shared.contact_rules import Party, tighten
from shared.vocabulary import Channel
from tests.unit.compliance.test_judgement import NOON_CN, PACKS, Log

CN = PACKS[next(j for j in PACKS if j.value == "CN")]
FROM = datetime(2026, 11, 1, tzinfo=UTC)
TO = datetime(2026, 12, 1, tzinfo=UTC)


class FakeReads:
    """The audit log's reads, and nothing to write with."""

    def __init__(self, logs: dict[LoanPair, Log]) -> None:
        self._logs = logs

    async def loans_logged(
        self, time_from: datetime, time_to: datetime, lender_id: str | None
    ) -> list[LoanPair]:
        return sorted(k for k in self._logs if lender_id in (None, k[0]))

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        return {
            key: [
                {
                    "leaf_index": e.leaf_index,
                    "event_type": e.type,
                    "entry": orjson.dumps({"data": dict(e.data)}),
                }
                for e in self._logs[key].events
            ]
            for key in loans
        }


def three_unanswered_calls() -> Log:
    log = Log()
    log.placed()
    for hours in (0, 1, 2):
        log.activity(hours)  # no answer, 10:00 to 12:00 in Shanghai
    return log


async def test_a_stricter_pack_judges_a_past_contact_a_violation() -> None:
    stricter = tighten(CN, {"CN-03": {"params": {"max_per_day": 2}}}, label="try")
    reads = FakeReads({("lender-1", "L-1"): three_unanswered_calls()})
    done = await rule_pack_dry_run(reads, stricter, PACKS, FROM, TO)
    report = done.as_json()
    assert [(d["rule_id"], d["change"], d["party"]) for d in report["differences"]] == [
        ("CN-03", "violation", "agency:ag")
    ]
    assert report["differences"][0]["contact_at"] == (NOON_CN + timedelta(hours=2)).isoformat()
    assert report["summary"] == {
        "loans": 1,
        "contacts": 4,  # three calls and the agency notice
        "current_violations": 0,
        "candidate_violations": 1,
        "new_violations": 1,
        "cleared": 0,
    }
    assert (report["candidate"], report["current"]) == (f"{CN.version}+try", CN.version)


async def test_the_same_pack_changes_nothing_and_the_period_bounds_the_contacts() -> None:
    stricter = tighten(CN, {"CN-03": {"params": {"max_per_day": 2}}}, label="try")
    reads = FakeReads({("lender-1", "L-1"): three_unanswered_calls()})
    same = await rule_pack_dry_run(reads, CN, PACKS, FROM, TO)
    assert same.differences == []
    before = await rule_pack_dry_run(reads, stricter, PACKS, FROM, NOON_CN)
    assert before.differences == []  # the third call is after the period


def test_explain_a_proposed_call_rule_by_rule() -> None:
    case = case_of("lender-1", "L-1", three_unanswered_calls().events)
    night = NOON_CN + timedelta(hours=13)  # 23:00 in Shanghai
    explained = explain_proposed(case, Party.agency("ag"), Channel.PHONE_CALL, night, PACKS)
    verdicts = {v.rule_id: v for v in explained.verdicts}
    assert not explained.allowed
    assert verdicts["CN-01"].verdict == "refuses"
    assert "22:00" in verdicts["CN-01"].explanation
    assert verdicts["CN-03"].verdict == "allows"
    assert verdicts["CN-08"].verdict == "out_of_scope"
    assert verdicts["CN-01"].source.startswith("NIFA")
    assert list(verdicts) == list(CN.rules)  # every rule of the pack, in the pack's order
    assert explained.facts["placements"][0]["agency_id"] == "ag"
    assert explained.contact["borrower_local_time"].startswith("2026-11-03 23:00")


def test_explain_a_contact_made_names_the_ledger_entries_it_counted() -> None:
    log = three_unanswered_calls()
    case = case_of("lender-1", "L-1", log.events)
    stricter = tighten(CN, {"CN-03": {"params": {"max_per_day": 2}}}, label="try")
    third = case.contacts[-1].id
    explained = explain_contact(case, third, {**PACKS, CN.jurisdiction: stricter})
    broken = [v for v in explained.verdicts if v.verdict == "broken"]
    assert [v.rule_id for v in broken] == ["CN-03"]
    assert set(broken[0].evidence) >= {c.id for c in case.contacts[1:3]}
    assert explain_contact(case, third, PACKS).allowed


def test_explain_a_suppressed_notification_as_the_check_that_refused_it() -> None:
    log = three_unanswered_calls()
    log.add(
        "collections.notification.suppressed",
        notification_id="n-quiet",
        kind="reminder",
        channel="sms",
        at=(NOON_CN + timedelta(hours=13)).isoformat(),
    )
    case = case_of("lender-1", "L-1", log.events)
    explained = explain_notification(case, log.events, "n-quiet", PACKS)
    assert explained.mode == "check"
    assert "CN-01" in {v.rule_id for v in explained.verdicts if v.verdict == "refuses"}
    with pytest.raises(NothingToExplainError):
        explain_notification(case, log.events, "n-unknown", PACKS)


def test_a_loan_never_reported_has_nothing_to_explain() -> None:
    with pytest.raises(NothingToExplainError):
        case_of("lender-1", "L-1", [])


def test_explain_a_sent_notification_as_the_contact_it_made() -> None:
    log = three_unanswered_calls()
    leaf = log.sent(13)  # 23:00 in Shanghai
    notification = log.events[leaf].data["notification_id"]
    case = case_of("lender-1", "L-1", log.events)
    explained = explain_notification(case, log.events, notification, PACKS)
    assert explained.mode == "judge"
    assert explained.contact["id"] == f"notifier:{notification}"
    assert "CN-01" in {v.rule_id for v in explained.verdicts if v.verdict == "broken"}
