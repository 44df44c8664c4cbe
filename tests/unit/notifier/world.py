"""One lender's loans and their due notifications on the fakes, with the notifier's use cases
wired over them as ``wiring`` wires them over SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from pydantic import SecretStr

from services.notifier.adapters.demand_pdf import ReportLabLetters
from services.notifier.application.composer import MessageComposer
from services.notifier.application.ports import CallbackParser
from services.notifier.application.receipts import ReceiptHandlers
from services.notifier.application.sending import SendHandlers
from services.notifier.domain.files import Case, Notification
from services.notifier.domain.outreach import notifier_pack
from services.notifier.workers import Sender
from shared.borrower_links import BorrowerLinks
from shared.crypto import KeyRing
from shared.events.models import BorrowerContact
from shared.events.notifications import NotificationKind
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.fakes import (
    ClearContactDetails,
    FakeDatabase,
    FakeUnitOfWork,
    ScriptedProviders,
    phone_ref,
    sealed,
)
from tests.unit.notifier.support import book, catalog, packs

LENDER = "lender-1"
PHONE = "+8613800138000"
LEASE = timedelta(seconds=60)
UNCONFIRMED_AFTER = timedelta(minutes=10)
LINKS = BorrowerLinks(KeyRing.from_secret(SecretStr(KeyRing.generate_spec("l1"))))
BORROWER_SITE = "https://borrower.example.com"
TEMPLATES = {Channel.SMS: "reminder_gentle_sms", Channel.EMAIL: "reminder_firm_email"}


@dataclass
class World:
    db: FakeDatabase = field(default_factory=FakeDatabase)
    sms: ScriptedProviders = field(default_factory=ScriptedProviders)
    email: ScriptedProviders = field(default_factory=ScriptedProviders)
    contact_details: ClearContactDetails = field(default_factory=ClearContactDetails)
    parsers: dict[str, CallbackParser] = field(default_factory=dict)

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)

    @property
    def now(self) -> datetime:
        return self.db.clock()

    @property
    def sending(self) -> SendHandlers:
        return SendHandlers(
            self.unit_of_work,
            book(),
            {j: notifier_pack(pack) for j, pack in packs().items()},
            MessageComposer(
                self.contact_details,
                catalog(),
                {LENDER: "Acme"},
                LINKS,
                BORROWER_SITE,
                ReportLabLetters(),
            ),
            {Channel.SMS: self.sms, Channel.EMAIL: self.email},
            LEASE,
            UNCONFIRMED_AFTER,
            clock=self.db.clock,
        )

    @property
    def sender(self) -> Sender:
        return Sender(self.unit_of_work, self.sending, batch_size=50, lease=LEASE)

    @property
    def receipts(self) -> ReceiptHandlers:
        return ReceiptHandlers(
            self.unit_of_work, book(), self.contact_details, self.parsers, clock=self.db.clock
        )

    def loan(self, loan_id: str = "L1", zone: str = "Asia/Shanghai", email: bool = True) -> Case:
        contact = BorrowerContact(
            name="张三", phone=PHONE, email="zhangsan@example.com" if email else None
        )
        case = Case(
            lender_id=LENDER,
            loan_id=loan_id,
            borrower_ref=f"bref_{loan_id}",
            jurisdiction=Jurisdiction.CN,
            product="cash",
            locale="zh-CN",
            timezone=zone,
            due_date=date(2026, 3, 1),
            days_past_due=1,
            as_of=self.now - timedelta(hours=1),
            amount_overdue="1250.00",
            currency="CNY",
            contact_sealed=sealed(contact),
            phone_refs=[phone_ref(PHONE)],
            reachable=frozenset({Channel.SMS, Channel.EMAIL} if email else {Channel.SMS}),
            policy_id="cn-default",
            policy_version="2026-12-01.1",
        )
        self.db.cases[case.key] = case
        return case

    def due(self, case: Case, channel: Channel = Channel.SMS, step: int = 1) -> UUID:
        """A reminder of ``case`` on ``channel``, due now."""
        n = Notification(
            id=uuid4(),
            lender_id=case.lender_id,
            loan_id=case.loan_id,
            borrower_ref=case.borrower_ref,
            kind=NotificationKind.REMINDER,
            step=step,
            channel=channel,
            template=TEMPLATES[channel],
            locale=case.locale,
            policy_id=case.policy_id,
            policy_version=case.policy_version,
            due_at=self.now,
            dedupe_key=f"{case.loan_id}:{step}:{channel.value}",
        )
        self.db.notifications[n.id] = n
        return n.id

    def later(self, by: timedelta) -> None:
        self.db.clock.advance(by)
