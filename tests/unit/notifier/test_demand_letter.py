"""The demand letter on fakes: ``demand_sent`` schedules it by e-mail (the letter, with its
PDF) and by SMS (pointing to the borrower's page), in the borrower's language, on the channels
they have not opted out of; holds stop it as any notice, the stage does not; from demand_sent
the lender's reminders are cancelled and none are planned (even after a hold is lifted) until a
withdrawal starts the cadence over. The letter's content in both locales and jurisdictions,
and the e-mail's MIME parts."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

from pypdf import PdfReader

from services.notifier.adapters.demand_pdf import ReportLabLetters
from services.notifier.adapters.providers.smtp import SmtpEmail
from services.notifier.application.lifecycle import LifecycleHandlers
from services.notifier.application.ports import Attachment, OutgoingMessage
from services.notifier.domain.files import Case
from services.notifier.domain.lifecycle import CaseBatch
from services.notifier.domain.messages import MessageContext
from shared.events.legal import DemandTerms, LegalStage, LegalStageChanged
from shared.events.models import (
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    HoldReason,
)
from shared.events.money import Money
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.support import book, catalog
from tests.unit.notifier.world import LENDER, World

SCHEDULED, SENT, CANCELLED = (
    NotificationStatus.SCHEDULED,
    NotificationStatus.SENT,
    NotificationStatus.CANCELLED,
)
TERMS = DemandTerms(
    amount=Money(amount=Decimal("1250.00"), currency="CNY"),
    respond_by=date(2026, 3, 20),
    agency_id="agency-1",
    agency_name="示例信息咨询服务有限公司",
    agency_phone="400-820-8820",
)


def stage(
    case: Case,
    to: LegalStage,
    at: datetime,
    previous: LegalStage | None = None,
    demand: DemandTerms | None = None,
) -> LegalStageChanged:
    return LegalStageChanged(
        escalation_id="E1",
        assignment_id="A1",
        loan_id=case.loan_id,
        borrower_ref=case.borrower_ref,
        agency_id="agency-1",
        stage=to,
        previous=previous,
        reported_by="lender",
        changed_at=at,
        demand=demand,
    )


def demand_sent(case: Case, at: datetime, terms: DemandTerms = TERMS) -> LegalStageChanged:
    return stage(case, LegalStage.DEMAND_SENT, at, LegalStage.GRANTED, terms)


async def consume(world: World, *events: object) -> None:
    handlers = LifecycleHandlers(book(), world.contact_details, clock=world.db.clock)
    async with world.unit_of_work() as uow:
        await handlers.apply(uow, [(LENDER, e) for e in events])
        await uow.commit()


def of_kind(world: World, kind: NotificationKind) -> list:  # type: ignore[type-arg]
    return [n for n in world.db.notifications.values() if n.kind is kind]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


async def test_demand_sent_sends_the_letter_by_e_mail_with_its_pdf_and_by_text() -> None:
    world = World()
    case = world.loan()
    reminder = world.due(case)
    await consume(world, stage(case, LegalStage.GRANTED, world.now), demand_sent(case, world.now))
    assert world.db.stored(reminder).status is CANCELLED
    assert world.db.stored(reminder).reason == "legal_stage:demand_sent"
    letters = of_kind(world, NotificationKind.DEMAND_LETTER)
    assert {(n.channel, n.template, n.status) for n in letters} == {
        (Channel.EMAIL, "demand_letter_email", SCHEDULED),
        (Channel.SMS, "demand_letter_sms", SCHEDULED),
    }
    assert {n.dedupe_key for n in letters} == {"demand:E1:email", "demand:E1:sms"}
    assert world.db.cases[case.key].demand == TERMS
    assert await world.sender.send_due() == 2
    assert {world.db.stored(n.id).status for n in letters} == {SENT}
    (mail,) = world.email.sent
    assert mail.subject == "Acme：关于尾号L1借款的正式催告函"
    assert "债权人：Acme" in mail.body
    assert "¥1,250.00" in mail.body
    assert "2026年3月20日" in mail.body
    assert "示例信息咨询服务有限公司" in mail.body
    assert mail.unsubscribe_url is not None
    assert mail.unsubscribe_url.endswith("/unsubscribe")
    (pdf,) = mail.attachments
    assert (pdf.filename, pdf.content_type) == ("demand-L1.pdf", "application/pdf")
    assert pdf.data.startswith(b"%PDF-")
    text = pdf_text(pdf.data)
    assert "1,250.00" in text
    assert "L1" in text
    (sms,) = world.sms.sent
    assert sms.attachments == ()
    assert "https://borrower.example.com/b/b1." in sms.body
    assert "正式催告函" in sms.body
    sent = world.db.event_types().count("collections.notification.sent")
    assert sent == 2


async def test_a_borrower_opted_out_of_texts_gets_the_letter_by_e_mail_only() -> None:
    world = World()
    case = world.loan()
    opted_out = ContactPreferencesUpdated(
        borrower_ref=case.borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.SMS]),
        effective_at=world.now,
    )
    await consume(world, opted_out, demand_sent(case, world.now))
    (letter,) = of_kind(world, NotificationKind.DEMAND_LETTER)
    assert letter.channel is Channel.EMAIL


async def test_a_hold_stops_the_letter_as_any_notice_and_its_lifting_brings_no_reminders() -> None:
    world = World()
    case = world.loan()
    held = HoldPlaced(
        loan_id=case.loan_id, hold_id="dispute:D1", reason=HoldReason.DISPUTE, placed_at=world.now
    )
    await consume(world, demand_sent(case, world.now), held)
    letters = of_kind(world, NotificationKind.DEMAND_LETTER)
    assert {n.status for n in letters} == {CANCELLED}
    world.later(timedelta(days=1))
    lifted = HoldLifted(loan_id=case.loan_id, hold_id="dispute:D1", lifted_at=world.now)
    await consume(world, lifted)
    assert [n for n in of_kind(world, NotificationKind.REMINDER) if n.pending] == []


async def test_a_reminder_already_claimed_is_stopped_by_the_stage_when_it_is_decided() -> None:
    world = World()
    case = world.loan()
    reminder = world.due(case)
    case.legal_stage = LegalStage.FILED  # as the consumer recorded it after the plan was made
    await world.sender.send_due()
    assert world.db.stored(reminder).status is CANCELLED
    assert world.sms.sent == []


async def test_a_withdrawal_starts_the_cadence_over_as_a_lifted_hold_does() -> None:
    world = World()
    case = world.loan()
    world.due(case)
    await consume(world, demand_sent(case, world.now))
    assert [n for n in of_kind(world, NotificationKind.REMINDER) if n.pending] == []
    world.later(timedelta(days=1))
    withdrawn = stage(case, LegalStage.WITHDRAWN, world.now, LegalStage.DEMAND_SENT)
    await consume(world, withdrawn)
    resumed = [n for n in of_kind(world, NotificationKind.REMINDER) if n.pending]
    assert resumed
    assert all(n.dedupe_key.startswith("reminder:1:") for n in resumed)
    assert world.db.cases[case.key].legal_stage is LegalStage.WITHDRAWN


def test_granted_stops_nothing_and_a_repeated_stage_changes_nothing() -> None:
    world = World()
    case = world.loan()
    now = world.now
    b = CaseBatch(book(), now)
    b.report(case)
    planned = [n for n in b.created if n.kind is NotificationKind.REMINDER]
    b.legal_stage(LENDER, stage(case, LegalStage.GRANTED, now))
    assert planned
    assert all(n.pending for n in planned)
    b.legal_stage(LENDER, demand_sent(case, now))
    b.legal_stage(LENDER, demand_sent(case, now))
    letters = [n for n in b.created if n.kind is NotificationKind.DEMAND_LETTER]
    assert len(letters) == 2  # one per channel, not one per event
    assert not any(n.pending for n in planned)


def context(jurisdiction: Jurisdiction, agency: bool) -> MessageContext:
    return MessageContext(
        jurisdiction=jurisdiction,
        borrower_name="Pat Doe",
        lender_name="Acme",
        loan_id="LN-2026-0042",
        amount_overdue=Money(amount=Decimal("980.50"), currency="USD"),
        due_date=date(2026, 3, 1),
        days_past_due=40,
        link="https://borrower.example.com/b/b1.k.token",
        demand=DemandTerms(
            amount=Money(amount=Decimal("980.50"), currency="USD"),
            respond_by=date(2026, 4, 30),
            agency_name="Example Recovery LLC" if agency else None,
            agency_phone="+1 800 555 0100" if agency else None,
        ),
    )


def test_the_letter_in_english_names_creditor_amount_deadline_and_us_rights() -> None:
    letter = catalog().render("demand_letter_email", "en-US", context(Jurisdiction.US, True))
    assert letter.subject == "Acme: formal demand for your loan ending 0042"
    for shown in (
        "Creditor: Acme",
        "Collecting for the creditor: Example Recovery LLC (phone +1 800 555 0100)",
        "Amount due: $980.50",
        "by April 30, 2026",
        "Loan ending: 0042",
        "You may dispute this debt",
        "ask us to verify the debt",
        "Consumer Financial Protection Bureau",
        "https://borrower.example.com/b/b1.k.token",
    ):
        assert shown in letter.body, shown
    sms = catalog().render("demand_letter_sms", "en", context(Jurisdiction.US, True))
    assert "$980.50 due by April 30, 2026" in sms.body


def test_the_letter_in_chinese_names_the_regulator_and_leaves_out_an_absent_agency() -> None:
    letter = catalog().render("demand_letter_email", "zh-CN", context(Jurisdiction.CN, False))
    assert "受托机构" not in letter.body
    for shown in ("债权人：Acme", "应付金额：US$980.50", "2026年4月30日", "提出异议", "核实"):
        assert shown in letter.body, shown
    assert "国家金融监督管理总局" in letter.body
    assert "12378" in letter.body


def test_the_chinese_pdf_is_set_in_the_cid_font() -> None:
    data = ReportLabLetters().pdf("正式催告函", "债权人：Acme\n\n应付金额：¥1,250.00", "zh-CN")
    assert data.startswith(b"%PDF-")
    assert b"STSong-Light" in data
    assert "1,250.00" in pdf_text(data)


def test_the_e_mail_carries_the_pdf_and_the_one_click_opt_out() -> None:
    smtp = SmtpEmail(host="localhost", port=25, from_address="notices@acme.example")
    mail = smtp.mime(
        OutgoingMessage(
            channel=Channel.EMAIL,
            to="pat@example.com",
            subject="demand",
            body="the letter",
            idempotency_key="n-1",
            unsubscribe_url="https://borrower.example.com/b/t/unsubscribe",
            attachments=(Attachment("demand-0042.pdf", "application/pdf", b"%PDF-1.4 x"),),
        )
    )
    assert mail["List-Unsubscribe"] == "<https://borrower.example.com/b/t/unsubscribe>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (attached,) = list(mail.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "demand-0042.pdf"
    assert attached.get_payload(decode=True) == b"%PDF-1.4 x"


async def test_the_letter_waits_for_the_hours_the_rules_allow() -> None:
    world = World()
    case = world.loan(zone="America/Sao_Paulo")  # 23:00 there: CN-01's quiet hours
    await consume(world, demand_sent(case, world.now))
    letters = of_kind(world, NotificationKind.DEMAND_LETTER)
    assert len(letters) == 2
    await world.sender.send_due()
    for letter in letters:
        stored = world.db.stored(letter.id)
        assert world.db.statuses(letter.id)[-2:] == [NotificationStatus.SUPPRESSED, SCHEDULED]
        assert "CN-01" in stored.rule_ids
    assert world.sms.sent == []
    assert world.email.sent == []
