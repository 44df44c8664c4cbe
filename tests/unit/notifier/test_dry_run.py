"""A cadence policy's dry run on fakes: the candidate's reminders against the current
policy's, with what happened to each current one; nothing is written (the fake has no write)."""

from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from services.notifier.application.dry_run import LoanKey, cadence_dry_run
from services.notifier.domain.files import Case, Preferences
from services.notifier.domain.outreach import notifier_pack
from services.notifier.domain.policy import CadencePolicy
from shared.contact_rules import Contact, load_pack
from shared.vocabulary import Jurisdiction
from tests.unit.notifier.support import book
from tests.unit.notifier.test_lifecycle import loan

FROM = datetime(2026, 3, 1, tzinfo=UTC)
TO = datetime(2026, 4, 1, tzinfo=UTC)
PACKS = {j: notifier_pack(load_pack(j)) for j in Jurisdiction}


class FakeReads:
    """Only reads: a dry run has nothing else to call."""

    def __init__(self, files: list[Case], reminders: list[dict[str, Any]]) -> None:
        self._files = {f.key: f for f in files}
        self._reminders = reminders
        self.prefs: dict[Any, Preferences] = {}
        self.agencies: dict[LoanKey, list[Contact]] = {}

    async def loans_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        return sorted(self._files)

    async def files(self, keys: Collection[LoanKey]) -> list[Case]:
        return [self._files[k] for k in keys]

    async def reminders(
        self, keys: Collection[LoanKey], time_from: datetime, time_to: datetime
    ) -> list[dict[str, Any]]:
        return [r for r in self._reminders if (r["lender_id"], r["loan_id"]) in keys]

    async def preferences(self, borrowers: Collection[Any]) -> dict[Any, Preferences]:
        return {b: p for b, p in self.prefs.items() if b in borrowers}

    async def agency_contacts(self, keys: Collection[LoanKey]) -> dict[LoanKey, list[Contact]]:
        return {k: c for k, c in self.agencies.items() if k in keys}


def stricter(policy: CadencePolicy) -> CadencePolicy:
    """cn-default with its first two SMS only (days 1 and 3)."""
    return policy.model_copy(update={"steps": policy.steps[:2], "version": "2026-12-02.1"})


async def test_a_stricter_cadence_sends_fewer_reminders() -> None:
    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    reads = FakeReads([loan("L1", date(2026, 3, 1)), loan("L2", date(2026, 3, 10))], [])
    done = await cadence_dry_run(reads, stricter(current), policies, PACKS, FROM, TO)
    report = done.as_json()
    # L1: days 1, 3, 5, 10 all in March; L2: days 1, 3, 5 in March, day 10 on 20 March too.
    assert report["summary"]["current_reminders"] == 8
    assert report["summary"]["candidate_reminders"] == 4
    assert report["summary"]["not_sent"] == 4
    assert report["summary"]["sent"] == 0
    gone = {(d["loan_id"], d["template"]) for d in report["differences"]}
    assert gone == {
        (loan_id, template)
        for loan_id in ("L1", "L2")
        for template in ("reminder_firm_email", "reminder_final_sms")
    }
    assert all(d["change"] == "not_sent" for d in report["differences"])


async def test_each_difference_says_what_happened_to_the_current_reminder() -> None:
    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    day5 = datetime(2026, 3, 6, 2, tzinfo=UTC)  # 10:00 in Shanghai, due 1 March + 5 days
    sent = {"lender_id": "lender-1", "loan_id": "L1", "step": 3, "channel": "email"}
    reads = FakeReads(
        [loan("L1", date(2026, 3, 1))],
        [sent | {"template": "reminder_firm_email", "status": "sent", "due_at": day5}],
    )
    done = await cadence_dry_run(reads, stricter(current), policies, PACKS, FROM, TO)
    by_time = {d.at: d for d in done.differences}
    assert by_time[day5].actual == "sent"
    assert by_time[day5].change == "not_sent"
    assert done.actually_sent == 1


async def test_a_later_send_time_moves_reminders_and_none_goes_after_the_loan_ended() -> None:
    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    later = current.model_copy(update={"send_at": current.send_at.replace(hour=15)})
    cured = loan("L1", date(2026, 3, 1))
    cured.ended_at = datetime(2026, 3, 4, 6, tzinfo=UTC)  # 14:00 in Shanghai on day 3
    done = await cadence_dry_run(FakeReads([cured], []), later, policies, PACKS, FROM, TO)
    assert [(d.change, d.at.astimezone(UTC)) for d in done.differences] == [
        ("not_sent", datetime(2026, 3, 2, 2, tzinfo=UTC)),  # 10:00 in Shanghai
        ("sent", datetime(2026, 3, 2, 7, tzinfo=UTC)),  # 15:00 in Shanghai
        ("not_sent", datetime(2026, 3, 4, 2, tzinfo=UTC)),  # day 3 at 15:00: already cured
    ]
    assert (done.current_reminders, done.candidate_reminders) == (2, 1)


async def test_loans_the_candidate_does_not_serve_are_left_out() -> None:
    policies = book()
    us = policies.select("lender-1", "cash", "US")
    reads = FakeReads([loan("L1", date(2026, 3, 1))], [])  # a CN loan
    done = await cadence_dry_run(reads, stricter(us), policies, PACKS, FROM, TO)
    assert done.loans == 0
    assert done.differences == []


async def test_no_reminder_while_an_agency_holds_the_loan_when_the_policy_stops_on_placement() -> (
    None
):
    from services.notifier.domain.files import CasePlacement

    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    assert current.stop.on_placement
    held = loan("L1", date(2026, 3, 1))
    held.placements = [
        CasePlacement("A-1", "ag", "Ag", None, datetime(2026, 3, 5, tzinfo=UTC))  # day 4
    ]
    keeps_going = current.model_copy(
        update={"stop": current.stop.model_copy(update={"on_placement": False})}
    )
    done = await cadence_dry_run(FakeReads([held], []), keeps_going, policies, PACKS, FROM, TO)
    assert [(d.change, d.template) for d in done.differences] == [
        ("sent", "reminder_firm_email"),  # day 5 and day 10: the agency held it by then
        ("sent", "reminder_final_sms"),
    ]


async def test_reminders_the_contact_rules_would_refuse_are_shown_refused_with_the_rule() -> None:
    from services.notifier.domain.files import CaseHold
    from services.notifier.domain.policy import CadenceStep
    from shared.vocabulary import Channel

    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    extra = (
        CadenceStep(days_past_due=6, channel=Channel.SMS, template="reminder_firm_sms"),
        CadenceStep(days_past_due=7, channel=Channel.SMS, template="reminder_firm_sms"),
    )
    steps = (*current.steps[:3], *extra, current.steps[3])
    denser = current.model_copy(update={"steps": steps})
    held = loan("L1", date(2026, 3, 1))
    held.holds = {"H": CaseHold("H", "hardship", datetime(2026, 3, 6, 4, tzinfo=UTC))}  # day 5
    done = await cadence_dry_run(FakeReads([held], []), denser, policies, PACKS, FROM, TO)
    assert [(d.at.day, d.change, d.rules) for d in done.differences] == [
        (7, "refused", "POL-01"),
        (8, "refused", "POL-01"),
    ]  # day 10 is refused by both policies: no difference
    assert (done.current_refused, done.candidate_refused) == (1, 3)
    assert (done.current_reminders, done.candidate_reminders) == (3, 3)


async def test_an_opted_out_channel_is_refused() -> None:
    from services.notifier.domain.files import Preferences
    from shared.events.models import ContactPreferences
    from shared.vocabulary import Channel

    policies = book()
    current = policies.select("lender-1", "cash", "CN")
    by_email = current.model_copy(
        update={
            "steps": tuple(
                s.model_copy(update={"channel": Channel.EMAIL, "template": "reminder_firm_email"})
                for s in current.steps
            )
        }
    )
    reads = FakeReads([loan("L1", date(2026, 3, 1))], [])
    stop = Preferences("lender-1", "bref_1", ContactPreferences(), None, {Channel.EMAIL: FROM})
    reads.prefs[("lender-1", "bref_1")] = stop
    done = await cadence_dry_run(reads, by_email, policies, PACKS, FROM, TO)
    refused = [d for d in done.differences if d.change == "refused"]
    assert len(refused) == 3  # days 1, 3 and 10 move to e-mail; day 5 was e-mail already
    assert {d.rules for d in refused} == {"POL-02"}
    assert done.candidate_reminders == 0
