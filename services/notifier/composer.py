"""A notification made into the message a borrower receives: address, text, language.

The only place contact details are opened, just before they go to a provider."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.notifier.adapters.contacts import ContactVault
from services.notifier.adapters.providers.base import OutgoingMessage
from services.notifier.domain.files import LoanFile, Notification
from services.notifier.domain.messages import AgencyContact, MessageContext
from services.notifier.domain.templates import TemplateCatalog
from shared.events.money import Money
from shared.vocabulary import Channel


@dataclass(frozen=True)
class MessageComposer:
    vault: ContactVault
    templates: TemplateCatalog
    lender_names: Mapping[str, str]

    def compose(self, n: Notification, file: LoanFile, now: datetime) -> OutgoingMessage:
        """The message for ``n``; LookupError if the borrower has no address on its channel."""
        contact = self.vault.open(file.lender_id, file.loan_id, file.contact_sealed)
        to = contact.phone if n.channel is Channel.SMS else contact.email
        if not to:
            raise LookupError(f"no {n.channel.value} address on file")
        lender_name = self.lender_names.get(file.lender_id, file.lender_id)
        placement = file.placement
        today = now.astimezone(ZoneInfo(file.timezone)).date()
        context = MessageContext(
            borrower_name=contact.name,
            lender_name=lender_name,
            amount_overdue=Money(amount=Decimal(file.amount_overdue), currency=file.currency),
            due_date=file.due_date,
            days_past_due=max((today - file.due_date).days, 0),
            loan_id=file.loan_id,
            jurisdiction=file.jurisdiction,
            agency=AgencyContact(placement.agency_name, placement.agency_phone or "")
            if placement
            else None,
        )
        rendered = self.templates.render(n.template, n.locale, context)
        return OutgoingMessage(
            channel=n.channel,
            to=to,
            subject=rendered.subject,
            body=rendered.body,
            idempotency_key=str(n.id),
            sender_name=lender_name,
        )
