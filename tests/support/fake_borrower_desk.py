"""An in-memory ``BorrowerDesk`` for the borrowers' site's tests: real link tokens (minted and
opened with ``BorrowerLinks``), loans and what borrowers did with them kept in dicts."""

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.intake.application.borrower_desk import (
    BorrowerView,
    DataRequestView,
    DisputeView,
    Holder,
    LinkRefusedError,
    LoanEndedError,
    NoticeSent,
)
from shared.borrower_links import BorrowerLinks, ExpiredLinkError, InvalidLinkError, LinkClaims
from shared.crypto import KeyRing
from shared.events.borrowers import (
    DataAnswer,
    DataRequestKind,
    DisputeReason,
    PersonalDataItem,
    RetentionItem,
    SharingRecord,
)
from shared.events.models import ContactPreferences, InconvenientTime
from shared.events.money import Money
from shared.vocabulary import Channel

LINK_KEYS = KeyRing.generate_spec("l1")


@dataclass
class FakeLoan:
    lender_id: str
    loan_id: str
    borrower_ref: str
    locale: str
    amount: Money
    overdue_since: date
    status: str = "overdue"
    held_by: Holder | None = None
    preferences: ContactPreferences = field(default_factory=ContactPreferences)
    disputes: list[DisputeView] = field(default_factory=list)
    notices: list[NoticeSent] = field(default_factory=list)
    requests: list[DataRequestView] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    unsubscribed: bool = False


class FakeBorrowerDesk:
    def __init__(self, link_keys: str = LINK_KEYS) -> None:
        self.links = BorrowerLinks(KeyRing.parse(link_keys))
        self.loans: dict[tuple[str, str], FakeLoan] = {}
        self.revoked: set[str] = set()  # link ids
        self.opened = 0
        self._ids = itertools.count(1)

    def add_loan(
        self,
        loan_id: str = "L-1",
        *,
        lender_id: str = "lender-demo",
        borrower_ref: str = "bref_demo",
        locale: str = "zh-CN",
        amount: str = "1250.00",
        currency: str = "CNY",
        held_by: Holder | None = None,
        notices: list[NoticeSent] | None = None,
    ) -> str:
        """Adds a loan and returns a token of its link."""
        self.loans[(lender_id, loan_id)] = FakeLoan(
            lender_id,
            loan_id,
            borrower_ref,
            locale,
            Money(amount=Decimal(amount), currency=currency),
            date(2026, 10, 1),
            held_by=held_by,
            notices=list(notices or []),
        )
        return self.token(loan_id, lender_id=lender_id, borrower_ref=borrower_ref)

    def token(
        self,
        loan_id: str = "L-1",
        *,
        lender_id: str = "lender-demo",
        borrower_ref: str = "bref_demo",
        now: datetime | None = None,
    ) -> str:
        return self.links.mint(lender_id, loan_id, borrower_ref, now=now)

    def expired_token(self, loan_id: str = "L-1", **names: str) -> str:
        return self.token(loan_id, now=datetime.now(UTC) - timedelta(days=31), **names)

    def revoke(self, token: str) -> None:
        self.revoked.add(self.links.open(token).link_id)

    def loan(self, loan_id: str = "L-1", lender_id: str = "lender-demo") -> FakeLoan:
        return self.loans[(lender_id, loan_id)]

    def _loan(self, claims: LinkClaims) -> FakeLoan:
        return self.loans[(claims.lender_id, claims.loan_id)]

    async def open_link(self, token: str) -> LinkClaims:
        self.opened += 1
        try:
            claims = self.links.open(token)
        except ExpiredLinkError:
            raise LinkRefusedError(gone=True) from None
        except InvalidLinkError:
            raise LinkRefusedError(gone=False) from None
        if claims.link_id in self.revoked:
            raise LinkRefusedError(gone=True)
        if (claims.lender_id, claims.loan_id) not in self.loans:
            raise LinkRefusedError(gone=False)
        return claims

    async def view(self, claims: LinkClaims) -> BorrowerView:
        loan = self._loan(claims)
        return BorrowerView(
            lender_id=loan.lender_id,
            lender_name="Demo Consumer Finance",
            loan_id=loan.loan_id,
            locale=loan.locale,
            amount_overdue=loan.amount,
            overdue_since=loan.overdue_since,
            days_past_due=66,
            status=loan.status,
            held_by=loan.held_by,
            preferences=loan.preferences,
            disputes=list(loan.disputes),
            notices=list(loan.notices),
            data_requests=list(loan.requests),
        )

    async def open_dispute(
        self, claims: LinkClaims, reason: DisputeReason, details: str
    ) -> DisputeView:
        loan = self._loan(claims)
        if loan.status == "closed":
            raise LoanEndedError
        dispute = DisputeView(
            dispute_id=f"D-{next(self._ids)}",
            reason=reason,
            status="open",
            source="borrower",
            opened_at=datetime.now(UTC),
            resolved_at=None,
        )
        loan.disputes.append(dispute)
        loan.details.append(details)
        loan.status = "on_hold"
        return dispute

    async def set_preferences(
        self,
        claims: LinkClaims,
        opted_out_channels: list[Channel],
        inconvenient_times: list[InconvenientTime],
    ) -> ContactPreferences:
        loan = self._loan(claims)
        if loan.status == "closed":
            raise LoanEndedError
        loan.preferences = loan.preferences.model_copy(
            update={
                "opted_out_channels": list(opted_out_channels),
                "inconvenient_times": list(inconvenient_times),
            }
        )
        return loan.preferences

    async def unsubscribe_email(self, claims: LinkClaims) -> None:
        loan = self._loan(claims)
        loan.unsubscribed = True
        channels = [*loan.preferences.opted_out_channels, Channel.EMAIL]
        loan.preferences = loan.preferences.model_copy(
            update={"opted_out_channels": list(dict.fromkeys(channels))}
        )

    async def request_data(self, claims: LinkClaims, kind: DataRequestKind) -> DataRequestView:
        now = datetime.now(UTC)
        asked = DataRequestView(
            request_id=f"R-{next(self._ids)}",
            kind=kind,
            status="pending",
            requested_at=now,
            due_by=now + timedelta(days=15),
        )
        self._loan(claims).requests.append(asked)
        return asked

    async def data_request(self, claims: LinkClaims, request_id: str) -> DataRequestView | None:
        loan = self._loan(claims)
        return next((r for r in loan.requests if r.request_id == request_id), None)

    def answer(self, request_id: str) -> DataRequestView:
        """Makes a request ready with answers like the services' (access or deletion)."""
        for loan in self.loans.values():
            for index, asked in enumerate(loan.requests):
                if asked.request_id == request_id:
                    ready = replace(asked, status="ready", answers=sample_answers(asked.kind))
                    loan.requests[index] = ready
                    return ready
        raise KeyError(request_id)


def sample_answers(kind: DataRequestKind) -> list[DataAnswer]:
    if kind is DataRequestKind.ACCESS:
        return [
            DataAnswer(
                service="notifier",
                personal_data=[
                    PersonalDataItem(category="phone", value="+8613800138000", purpose="reminders")
                ],
            ),
            DataAnswer(
                service="agency_gateway",
                shared_with=[
                    SharingRecord(
                        party="agency",
                        party_id="agency-north",
                        name="North Recovery",
                        shared_at=datetime(2026, 11, 1, tzinfo=UTC),
                        purpose="collection",
                    )
                ],
            ),
        ]
    return [
        DataAnswer(
            service="notifier",
            retention=[
                RetentionItem(
                    category="phone",
                    erased=False,
                    legal_basis="debt still owed",
                    kept_until=None,
                ),
                RetentionItem(category="email", erased=True),
            ],
        )
    ]
