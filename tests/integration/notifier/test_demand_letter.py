"""The demand letter on real Kafka and PostgreSQL, with the local providers: the gateway's
``demand_sent`` (published here as the gateway would) reaches the borrower by e-mail carrying
the letter as a PDF (its text names the loan and the amount) and the one-click opt-out headers,
and by SMS with the link to their page; both are recorded and published as notification
events; the reminders stop at that stage and start over when the lender withdraws."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from services.notifier.domain.templates import loan_reference
from services.notifier.settings import NotifierSettings
from shared.events.catalog import LEGAL_STAGE_CHANGED
from shared.events.legal import DemandTerms, LegalStage, LegalStageChanged
from shared.events.money import Money
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import Stack, notifier_stack


@pytest.fixture(scope="module")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[Stack]:
    async with notifier_stack(infrastructure) as running:
        yield running


def lender(stack: Stack) -> str:
    return stack.platform.credentials.lender["id"]


async def move(
    stack: Stack,
    loan_id: str,
    to: LegalStage,
    previous: LegalStage | None,
    demand: DemandTerms | None = None,
) -> None:
    data = LegalStageChanged(
        escalation_id=f"E-{loan_id}",
        assignment_id=None,
        loan_id=loan_id,
        borrower_ref=await stack.borrower_ref(loan_id),
        agency_id="agency-1" if demand and demand.agency_id else None,
        stage=to,
        previous=previous,
        reported_by="lender",
        changed_at=datetime.now(UTC),
        demand=demand,
    )
    await stack.publish(LEGAL_STAGE_CHANGED, lender(stack), loan_id, data)


async def of_kind(stack: Stack, loan_id: str, kind: str) -> list[dict[str, Any]]:
    return [n for n in await stack.notifications(loan_id) if n["kind"] == kind]


async def test_the_demand_reaches_the_borrower_by_e_mail_with_its_pdf_and_by_text(
    stack: Stack,
) -> None:
    loan_id, phone = await stack.report_loan()
    address = stack.borrower_emails[loan_id]
    terms = DemandTerms(
        amount=Money(amount=Decimal("1250.00"), currency="CNY"),
        respond_by=date.today() + timedelta(days=14),
        agency_id="agency-1",
        agency_name="示例信息咨询服务有限公司",
        agency_phone="400-820-8820",
    )
    await move(stack, loan_id, LegalStage.GRANTED, None)
    await move(stack, loan_id, LegalStage.DEMAND_SENT, LegalStage.GRANTED, terms)

    async def both_out() -> list[dict[str, Any]] | None:
        letters = await of_kind(stack, loan_id, "demand_letter")
        done = {n["channel"] for n in letters if n["status"] in ("sent", "delivered")}
        return letters if done == {"sms", "email"} else None

    letters = await eventually(both_out, within=45)
    assert len(letters) == 2
    reminders = await of_kind(stack, loan_id, "reminder")
    assert reminders
    assert {n["status"] for n in reminders} == {"cancelled"}
    assert {n["reason"] for n in reminders} == {"legal_stage:demand_sent"}

    (mail,) = stack.providers.journal.messages(address)
    ref = loan_reference(loan_id)
    assert ref in (mail.subject or "")
    assert "¥1,250.00" in mail.body
    assert "示例信息咨询服务有限公司" in mail.body
    assert mail.list_unsubscribe is not None
    assert mail.list_unsubscribe.endswith("/unsubscribe>")
    assert mail.list_unsubscribe_post == "List-Unsubscribe=One-Click"
    assert mail.attachments is not None
    (pdf,) = mail.attachments
    assert (pdf["filename"], pdf["content_type"]) == (f"demand-{ref}.pdf", "application/pdf")
    data = base64.b64decode(pdf["data_base64"])
    assert data.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    assert "1,250.00" in text
    assert ref in text

    settings = stack.platform.runtime("notifier").settings
    assert isinstance(settings, NotifierSettings)
    base = settings.borrower_base_url.rstrip("/")
    (sms,) = stack.providers.journal.messages(phone)
    assert f"{base}/b/b1." in sms.body
    assert "正式催告函" in sms.body
    assert sms.attachments is None

    async def published() -> list[str] | None:
        types = await stack.published_types(loan_id)
        return types if types.count("collections.notification.sent") >= 2 else None

    types = await eventually(published, within=30)
    assert types.count("collections.notification.scheduled") >= 2  # reminders and letters
    assert "collections.notification.cancelled" in types


async def test_reminders_stay_stopped_after_the_demand_and_start_over_on_withdrawal(
    stack: Stack,
) -> None:
    loan_id, _ = await stack.report_loan()
    terms = DemandTerms(
        amount=Money(amount=Decimal("800.00"), currency="CNY"),
        respond_by=date.today() + timedelta(days=14),
    )
    await move(stack, loan_id, LegalStage.DEMAND_SENT, LegalStage.GRANTED, terms)

    async def stopped() -> bool:
        reminders = await of_kind(stack, loan_id, "reminder")
        return bool(reminders) and {n["status"] for n in reminders} == {"cancelled"}

    await eventually(stopped, within=30)
    await move(stack, loan_id, LegalStage.WITHDRAWN, LegalStage.DEMAND_SENT)

    async def resumed() -> list[dict[str, Any]] | None:
        reminders = await of_kind(stack, loan_id, "reminder")
        return [n for n in reminders if n["status"] == "scheduled"] or None

    assert await eventually(resumed, within=30)
