"""A notification made into the message a borrower receives: address, text, language, and the
link to the borrower's own page.

The only place contact details are opened, just before they go to a provider; the link's token
is minted here, for this message alone, and lives only in the message (never stored, never
logged: it is a bearer credential). The demand letter's e-mail carries its text as a PDF too
(``LetterPrinter``, ``demand-<loan ref>.pdf``)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.notifier.application.ports import (
    Attachment,
    ContactDetails,
    LetterPrinter,
    OutgoingMessage,
)
from services.notifier.domain.files import Case, Notification
from services.notifier.domain.messages import AgencyContact, MessageContext
from services.notifier.domain.templates import TemplateCatalog, loan_reference
from shared.borrower_links import BorrowerLinks
from shared.events.money import Money
from shared.events.notifications import NotificationKind
from shared.vocabulary import Channel


@dataclass(frozen=True)
class MessageComposer:
    contact_details: ContactDetails
    templates: TemplateCatalog
    lender_names: Mapping[str, str]
    links: BorrowerLinks
    base_url: str
    letters: LetterPrinter | None = None  # the demand letter's PDF; without it, none attached

    def compose(self, n: Notification, case: Case, now: datetime) -> OutgoingMessage:
        """The message for ``n``; LookupError if the borrower has no address on its channel."""
        if not case.contact_sealed:
            raise LookupError("contact details erased")
        contact = self.contact_details.open(case.lender_id, case.loan_id, case.contact_sealed)
        to = contact.phone if n.channel is Channel.SMS else contact.email
        if not to:
            raise LookupError(f"no {n.channel.value} address on file")
        lender_name = self.lender_names.get(case.lender_id, case.lender_id)
        placement = case.placement
        token = self.links.mint(case.lender_id, case.loan_id, case.borrower_ref, now=now)
        link = self.links.url(self.base_url, token)
        today = now.astimezone(ZoneInfo(case.timezone)).date()
        context = MessageContext(
            borrower_name=contact.name,
            lender_name=lender_name,
            amount_overdue=Money(amount=Decimal(case.amount_overdue), currency=case.currency),
            due_date=case.due_date,
            days_past_due=max((today - case.due_date).days, 0),
            loan_id=case.loan_id,
            link=link,
            jurisdiction=case.jurisdiction,
            agency=AgencyContact(placement.agency_name, placement.agency_phone or "")
            if placement
            else None,
            demand=case.demand,
        )
        rendered = self.templates.render(n.template, n.locale, context)
        attachments: tuple[Attachment, ...] = ()
        if n.kind is NotificationKind.DEMAND_LETTER and n.channel is Channel.EMAIL:
            if self.letters is None:
                raise LookupError("no letter printer for the demand letter's PDF")
            pdf = self.letters.pdf(rendered.subject or "", rendered.body, rendered.locale)
            name = f"demand-{loan_reference(case.loan_id)}.pdf"
            attachments = (Attachment(name, "application/pdf", pdf),)
        return OutgoingMessage(
            channel=n.channel,
            to=to,
            subject=rendered.subject,
            body=rendered.body,
            idempotency_key=str(n.id),
            sender_name=lender_name,
            unsubscribe_url=f"{link}/unsubscribe" if n.channel is Channel.EMAIL else None,
            attachments=attachments,
            traceparent=n.traceparent,
            tracestate=n.tracestate,
        )
