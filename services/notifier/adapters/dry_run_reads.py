"""The notifier's loans and reminders read in one read-only transaction, for a cadence
policy's dry run (nothing can be written through it), and a candidate policy file checked as
the notifier checks its own."""

import tomllib
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.case_batch_store import SqlCaseBatchStore
from services.notifier.adapters.rows import case_of_row
from services.notifier.adapters.tables import contacts, loans, notifications
from services.notifier.domain.cadence_policies import CadencePolicies, PolicyError, policy_of
from services.notifier.domain.files import Case, Preferences
from services.notifier.domain.policy import CadencePolicy
from services.notifier.domain.templates import TemplateCatalog
from shared.contact_rules import Contact, RulePack
from shared.contact_rules.sources import contact_of_row
from shared.db.bulk import among
from shared.events.notifications import NotificationKind
from shared.vocabulary import Jurisdiction

LoanKey = tuple[str, str]
BorrowerKey = tuple[str, str]


class SqlDryRunReads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def loans_open(self, time_from: datetime, time_to: datetime) -> list[LoanKey]:
        c = loans.c
        query = (
            select(c.lender_id, c.loan_id)
            .where(c.due_date < time_to.date(), or_(c.ended_at.is_(None), c.ended_at >= time_from))
            .order_by(c.lender_id, c.loan_id)
        )
        return [(r.lender_id, r.loan_id) for r in await self._session.execute(query)]

    async def files(self, keys: Collection[LoanKey]) -> list[Case]:
        if not keys:
            return []
        query = select(loans).where(among([loans.c.lender_id, loans.c.loan_id], keys))
        return [case_of_row(r._mapping) for r in await self._session.execute(query)]

    async def reminders(
        self, keys: Collection[LoanKey], time_from: datetime, time_to: datetime
    ) -> list[dict[str, Any]]:
        if not keys:
            return []
        n = notifications.c
        query = select(
            n.lender_id, n.loan_id, n.step, n.channel, n.template, n.status, n.due_at
        ).where(
            among([n.lender_id, n.loan_id], keys),
            n.kind == NotificationKind.REMINDER.value,
            n.due_at >= time_from,
            n.due_at < time_to,
        )
        return [dict(r._mapping) for r in await self._session.execute(query)]

    async def preferences(
        self, borrowers: Collection[BorrowerKey]
    ) -> dict[BorrowerKey, Preferences]:
        return await SqlCaseBatchStore(self._session).preferences(borrowers)

    async def agency_contacts(self, keys: Collection[LoanKey]) -> dict[LoanKey, list[Contact]]:
        if not keys:
            return {}
        c = contacts.c
        query = select(contacts).where(
            among([c.lender_id, c.loan_id], keys), c.agency_id.is_not(None)
        )
        found: dict[LoanKey, list[Contact]] = {}
        for row in (await self._session.execute(query)).mappings():
            found.setdefault((row["lender_id"], row["loan_id"]), []).append(
                contact_of_row(dict(row))
            )
        return found


def candidate_policy(
    path: Path, templates: TemplateCatalog, packs: Mapping[Jurisdiction, RulePack]
) -> CadencePolicy:
    """The policy of a candidate file, checked as at the notifier's start (its templates, the
    quiet hours of the packs); ``PolicyError`` naming the file and the key otherwise."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path.name}: not valid TOML: {error}") from None
    policy = policy_of(path.name, raw)
    CadencePolicies.checked({path.name: policy}, templates, packs)
    return policy
