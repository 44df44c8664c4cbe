"""The borrower desk on fakes: which links open, what the borrower sees, and what each of
their requests stores and publishes."""

from dataclasses import replace
from datetime import time, timedelta

import pytest

from services.intake.application.borrower_desk import LinkRefusedError, LoanEndedError
from services.intake.application.borrower_side import BorrowerSide
from services.intake.application.handlers import IntakeHandlers
from services.intake.application.ports import HolderRecord
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import (
    CloseLoan,
    RecallPlacement,
    UpdateContactPreferences,
)
from services.intake.domain.loan import LoanStatus
from shared.borrower_links import BorrowerLinks, LinkClaims
from shared.events.borrowers import DataRequestKind, DisputeReason
from shared.events.models import (
    ClosureReason,
    ConsentKind,
    ConsentRecord,
    ContactPreferences,
    InconvenientTime,
)
from shared.personal_data import collection_records, debt_owed
from shared.vocabulary import Channel, Jurisdiction
from tests.support.factories import EMAIL, NAME, PHONE, overdue_report
from tests.unit.intake.conftest import LENDER, NOW, Clock, reported
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LOAN = "L-1"
EVENING = InconvenientTime(start=time(20), end=time(22))


@pytest.fixture
async def claims(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> LinkClaims:
    await reported(intake, database, overdue_report(LOAN))
    return await desk.open_link(mint(links, database))


def mint(links: BorrowerLinks, database: Database, loan_id: str = LOAN, **at: object) -> str:
    ref = database.loans[(LENDER, loan_id)].borrower_ref
    return links.mint(LENDER, loan_id, ref, now=at.get("now", NOW))  # type: ignore[arg-type]


async def refused(desk: BorrowerSide, token: str) -> LinkRefusedError:
    with pytest.raises(LinkRefusedError) as error:
        await desk.open_link(token)
    return error.value


async def test_a_good_link_opens_its_loan(claims: LinkClaims) -> None:
    assert (claims.lender_id, claims.loan_id) == (LENDER, LOAN)


async def test_a_tampered_or_unknown_link_is_refused_as_unknown(
    claims: LinkClaims, desk: BorrowerSide, links: BorrowerLinks, database: Database
) -> None:
    token = mint(links, database)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert not (await refused(desk, tampered)).gone
    assert not (await refused(desk, "b1.l1.nothing")).gone
    other_borrower = links.mint(LENDER, LOAN, "bref_someone_else", now=NOW)
    assert not (await refused(desk, other_borrower)).gone
    no_such_loan = links.mint(LENDER, "L-404", claims.borrower_ref, now=NOW)
    assert not (await refused(desk, no_such_loan)).gone


async def test_an_expired_link_is_gone(
    claims: LinkClaims, desk: BorrowerSide, links: BorrowerLinks, database: Database
) -> None:
    old = mint(links, database, now=NOW - timedelta(days=31))
    assert (await refused(desk, old)).gone


async def test_the_view_shows_the_loan_as_the_borrower_may_see_it(
    claims: LinkClaims, desk: BorrowerSide, clock: Clock
) -> None:
    view = await desk.view(claims)
    assert (view.lender_name, view.locale, view.status) == (
        "Lender One Finance",
        "zh-CN",
        "overdue",
    )
    assert str(view.amount_overdue.amount) == "1250.00"
    assert view.days_past_due == (NOW.date() - view.overdue_since).days
    assert (view.held_by, view.disputes, view.notices, view.data_requests) == (None, [], [], [])


async def test_a_dispute_holds_the_loan_in_one_go(
    claims: LinkClaims, desk: BorrowerSide, database: Database
) -> None:
    before = len(database.outbox)
    dispute = await desk.open_dispute(claims, DisputeReason.NOT_MINE, "never borrowed")
    opened, held = database.outbox[before:]
    assert (opened.type, held.type) == (
        "collections.borrower.dispute-opened",
        "collections.loan.hold-placed",
    )
    assert opened.data["hold_id"] == held.data["hold_id"] == f"dispute:{dispute.dispute_id}"
    assert opened.data["reason"] == "not_mine"
    assert "never borrowed" not in opened.to_bytes().decode()  # free text stays at intake
    view = await desk.view(claims)
    assert view.status == "on_hold"
    assert [(d.dispute_id, d.status, d.source) for d in view.disputes] == [
        (dispute.dispute_id, "open", "borrower")
    ]
    _, details, _ = database.disputes[(LENDER, dispute.dispute_id)]
    assert details is not None
    assert "never" not in details.ct


async def test_a_closed_loan_takes_no_dispute_and_no_preference_change(
    claims: LinkClaims, desk: BorrowerSide, intake: IntakeHandlers, database: Database
) -> None:
    async with FakeUnitOfWork(database) as uow:
        await intake.close_loan(uow, LENDER, CloseLoan(LOAN, ClosureReason.SETTLED))
        await uow.commit()
    before = len(database.outbox)
    with pytest.raises(LoanEndedError):
        await desk.open_dispute(claims, DisputeReason.OTHER, "")
    with pytest.raises(LoanEndedError):
        await desk.set_preferences(claims, [Channel.SMS], [])
    assert len(database.outbox) == before


@pytest.mark.parametrize("details", ["x" * 2001, "a\u202eb", "bell\x07"])
async def test_details_that_cannot_be_stored_are_refused_naming_them(
    claims: LinkClaims, desk: BorrowerSide, database: Database, details: str
) -> None:
    before = len(database.outbox)
    with pytest.raises(ValueError, match=r"^details: "):
        await desk.open_dispute(claims, DisputeReason.OTHER, details)
    assert len(database.outbox) == before
    assert database.disputes == {}


async def test_the_borrowers_choices_are_added_to_what_the_lender_reported(
    claims: LinkClaims, desk: BorrowerSide, intake: IntakeHandlers, database: Database
) -> None:
    consent = ConsentRecord(kind=ConsentKind.CONTACT_IN_QUIET_HOURS, granted=True, recorded_at=NOW)
    reported_by_lender = ContactPreferences(
        opted_out_channels=[Channel.PHONE_CALL], attorney_represented=True, consents=[consent]
    )
    async with FakeUnitOfWork(database) as uow:
        await intake.update_contact_preferences(
            uow, LENDER, UpdateContactPreferences("B-88231", reported_by_lender)
        )
        await uow.commit()
    preferences = await desk.set_preferences(claims, [Channel.SMS, Channel.SMS], [EVENING])
    assert preferences.opted_out_channels == [Channel.PHONE_CALL, Channel.SMS]
    assert preferences.inconvenient_times == [EVENING]
    assert preferences.attorney_represented
    assert preferences.consents == [consent]
    event = database.outbox[-1]
    assert event.type == "collections.borrower.contact-preferences-updated"
    assert event.subject == claims.borrower_ref
    assert event.data["preferences"] == preferences.model_dump(mode="json")
    # the lender's next report replaces its own part and keeps the borrower's
    async with FakeUnitOfWork(database) as uow:
        await intake.update_contact_preferences(
            uow, LENDER, UpdateContactPreferences("B-88231", ContactPreferences())
        )
        await uow.commit()
    assert database.outbox[-1].data["preferences"]["opted_out_channels"] == ["sms"]
    # and the borrower may take back their own opt-out
    assert (await desk.set_preferences(claims, [], [])).opted_out_channels == []


async def test_one_click_unsubscribe_opts_out_of_email_once(
    claims: LinkClaims, desk: BorrowerSide, database: Database
) -> None:
    await desk.unsubscribe_email(claims)
    after_first = len(database.outbox)
    await desk.unsubscribe_email(claims)
    assert len(database.outbox) == after_first
    assert database.outbox[-1].data["preferences"]["opted_out_channels"] == ["email"]
    assert (await desk.view(claims)).preferences.opted_out_channels == [Channel.EMAIL]


async def test_an_access_request_holds_intakes_answer_and_is_published(
    claims: LinkClaims, desk: BorrowerSide, database: Database, sealing: Sealing
) -> None:
    await desk.unsubscribe_email(claims)
    request = await desk.request_data(claims, DataRequestKind.ACCESS)
    assert (request.status, request.due_by) == ("pending", NOW + timedelta(days=15))
    event = database.outbox[-1]
    assert event.type == "collections.borrower.data-requested"
    assert (event.data["request_id"], event.data["kind"]) == (request.request_id, "access")
    (stored,) = database.answers.values()
    assert stored.service == "intake"
    assert NAME not in stored.sealed.ct
    found = await desk.data_request(claims, request.request_id)
    assert found is not None
    assert found.status == "pending"
    assert found.answers == []
    # every answer is in: the borrower reads intake's own part first, opened
    database.requests[request.request_id] = replace(
        database.requests[request.request_id], status="ready"
    )
    found = await desk.data_request(claims, request.request_id)
    assert found is not None
    (own,) = found.answers
    values = {item.category: item.value for item in own.personal_data}
    assert (values["name"], values["phone"], values["email"]) == (NAME, PHONE, EMAIL)
    assert values["locale"] == "zh-CN"
    assert '"email"' in values["contact_preferences"]


async def test_a_request_is_only_its_borrowers(
    claims: LinkClaims, desk: BorrowerSide, links: BorrowerLinks, database: Database
) -> None:
    request = await desk.request_data(claims, DataRequestKind.ACCESS)
    other = replace(claims, borrower_ref="bref_other")
    assert await desk.data_request(other, request.request_id) is None
    assert await desk.data_request(claims, "R-unknown") is None
    assert [r.request_id for r in (await desk.view(claims)).data_requests] == [request.request_id]


async def test_a_deletion_erases_the_contacts_of_ended_loans_and_keeps_what_is_owed(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    await reported(
        intake, database, overdue_report("L-1"), overdue_report("L-2"), overdue_report("L-3")
    )
    async with FakeUnitOfWork(database) as uow:
        await intake.recall_placement(uow, LENDER, RecallPlacement("L-3", "lender_request"))
        await uow.commit()
    claims = await desk.open_link(mint(links, database, "L-1"))
    closed_claims = await desk.open_link(mint(links, database, "L-2"))
    kept = await desk.open_dispute(claims, DisputeReason.OTHER, "text on an open loan")
    erased = await desk.open_dispute(closed_claims, DisputeReason.OTHER, "text on an ended loan")
    async with FakeUnitOfWork(database) as uow:
        await intake.close_loan(uow, LENDER, CloseLoan("L-2", ClosureReason.SETTLED))
        await uow.commit()
    request = await desk.request_data(closed_claims, DataRequestKind.DELETION)
    assert database.borrowers[(LENDER, "L-2")]["contact"] is None  # closed
    assert database.borrowers[(LENDER, "L-3")]["contact"] is None  # recalled
    assert database.borrowers[(LENDER, "L-1")]["contact"] is not None
    assert database.loans[(LENDER, "L-2")].status is LoanStatus.CLOSED  # the record stays
    assert database.disputes[(LENDER, erased.dispute_id)][1] is None
    assert database.disputes[(LENDER, kept.dispute_id)][1] is not None
    database.requests[request.request_id] = replace(
        database.requests[request.request_id], status="ready"
    )
    found = await desk.data_request(closed_claims, request.request_id)
    assert found is not None
    retention = {item.category: item for item in found.answers[0].retention}
    assert retention["contact_details:L-2"].erased
    assert retention["contact_details:L-3"].erased
    owed = retention["contact_details:L-1"]
    assert (owed.erased, owed.legal_basis) == (False, debt_owed().legal_basis)
    record = retention["loan_record:L-2"]
    assert not record.erased
    assert record.legal_basis == collection_records(Jurisdiction.CN, NOW).legal_basis


async def test_the_view_shows_who_holds_the_account(
    claims: LinkClaims, desk: BorrowerSide, database: Database, clock: Clock
) -> None:
    database.holders[(LENDER, LOAN)] = HolderRecord(
        LENDER, LOAN, "A-1", "agency-9", "Nine Recoveries", "+861010", NOW
    )
    held_by = (await desk.view(claims)).held_by
    assert held_by is not None
    assert (held_by.agency_id, held_by.name, held_by.phone) == (
        "agency-9",
        "Nine Recoveries",
        "+861010",
    )
