"""A batch's events are made without models: each must equal what the models make."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from services.intake.api.reports import _item_result
from services.intake.api.schemas import BatchResult
from services.intake.application import report_events
from services.intake.application.handlers import Accepted, Refused
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import Borrower, OverdueReport
from services.intake.domain.loan import overdue_reported
from shared.crypto import without_sealed_values
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.envelope import Envelope, new_envelope
from shared.events.models import BorrowerContact
from shared.events.money import Money
from shared.vocabulary import Jurisdiction

BORROWERS = [
    Borrower("B-1", "Wang Fang", "+8613800000001", "wang@example.com", "zh-CN", "Asia/Shanghai"),
    Borrower(
        "B-2", "Zoë Ángel 王芳", None, "zoe@example.com", "es-MX", "America/Mexico_City", "MX-CMX"
    ),
    Borrower("B-3", 'Quote "O\\Brien"', "+13125550123", None, "en-US", "America/Chicago", "US-IL"),
]
INSTANTS = [
    datetime(2026, 11, 28, 9, 0, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 11, 28, 1, 2, 3, 120000, tzinfo=UTC),
    datetime(2026, 11, 27, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
]
AMOUNTS = [Money(amount=Decimal("1250.00"), currency="CNY"), Money(amount="7", currency="JPY")]


def _reports() -> list[OverdueReport]:
    return [
        OverdueReport(
            loan_id=f"L-{n}",
            borrower=borrower,
            jurisdiction=Jurisdiction.CN,
            product="consumer-credit",
            amount_overdue=AMOUNTS[n % len(AMOUNTS)],
            due_date=date(2026, 10, 1),
            days_past_due=58,
            as_of=as_of,
        )
        for n, (borrower, as_of) in enumerate((b, i) for b in BORROWERS for i in INSTANTS)
    ]


@pytest.mark.parametrize("report", _reports(), ids=lambda r: r.loan_id)
def test_a_report_event_is_byte_for_byte_what_the_models_make(
    sealing: Sealing, report: OverdueReport
) -> None:
    borrower = sealing.seal("lender-1", report.borrower)
    contact = BorrowerContact(
        name=report.borrower.name, phone=report.borrower.phone, email=report.borrower.email
    )
    opened = sealing.transit.open(borrower.profile.contact, associated_data=borrower.ref.encode())
    assert opened == contact.model_dump_json().encode()
    assert borrower.ref == sealing.reference("lender-1", report.borrower.id)

    data = report_events.overdue_reported(report, borrower)
    model = overdue_reported(report, borrower.profile)
    assert data == model.model_dump(mode="json")

    event_id, at = uuid4(), datetime(2026, 12, 6, 15, 0, 0, 123456, tzinfo=UTC)
    event = report_events.encoded(
        OVERDUE_REPORTED,
        source="/collections/intake",
        tenant="lender-1",
        subject=report.loan_id,
        data=data,
        event_id=event_id,
        time=at,
    )
    envelope = new_envelope(
        type_name=OVERDUE_REPORTED.name,
        schema_version=OVERDUE_REPORTED.version,
        source="/collections/intake",
        subject=report.loan_id,
        tenant="lender-1",
        data=model,
        event_id=event_id,
        time=at,
    )
    assert event.payload == envelope.to_bytes()
    assert Envelope.model_validate_json(event.payload) == envelope
    assert (event.event_id, event.type, event.key) == (event_id, envelope.type, envelope.key)

    details = report_events.history_details(data, "opened")
    assert details == {**without_sealed_values(envelope.data), "outcome": "opened"}
    assert "contact" not in details["borrower"]


def test_a_batch_reply_is_what_its_model_makes() -> None:
    outcomes: list[Accepted | Refused] = [
        Accepted(uuid4(), "L-1"),
        Accepted(uuid4(), "L-2", duplicate=True),
        Refused("L-3", "the loan is closed; it takes no more reports"),
    ]
    results = [_item_result(index, outcome) for index, outcome in enumerate(outcomes)]
    body = {"accepted": 1, "duplicates": 1, "rejected": 1, "results": results}
    assert BatchResult.model_validate(body).model_dump(mode="json") == body
