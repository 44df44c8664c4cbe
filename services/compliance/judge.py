"""Judging the loans a batch touched, after its entries are in the log (same transaction)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import AuditLog
from services.compliance.adapters.violations import Violations
from services.compliance.domain.entries import NewEntry
from services.compliance.domain.judgement import Judged, LoggedEvent, judge_loan
from shared.contact_rules import RulePack
from shared.events.catalog import VIOLATION_FOUND
from shared.events.compliance import ViolationFound
from shared.events.envelope import Envelope
from shared.vocabulary import Jurisdiction

SOURCE = "/collections/compliance"


@dataclass(frozen=True)
class Found:
    lender_id: str
    judged: Judged
    envelope: Envelope


class Judge:
    def __init__(self, packs: Mapping[Jurisdiction, RulePack]) -> None:
        self._packs = packs

    async def new_violations(
        self, session: AsyncSession, entries: Sequence[NewEntry]
    ) -> list[Found]:
        """Violations of the loans these entries name that were not found before. A loan is
        judged whole each time, so a contact is judged by every fact logged so far; a
        violation, once logged, stays (the log is append-only)."""
        touched = sorted({(e.lender_id, e.loan_id) for e in entries if e.loan_id is not None})
        timelines = await AuditLog(session).timelines(touched)
        judged: list[tuple[str, Judged]] = []
        for lender_id, loan_id in touched:
            rows = timelines.get((lender_id, loan_id), [])
            events = [
                LoggedEvent(
                    row["leaf_index"], row["event_type"], orjson.loads(row["entry"])["data"]
                )
                for row in rows
            ]
            judged += [(lender_id, v) for v in judge_loan(lender_id, loan_id, events, self._packs)]
        known = await Violations(session).known([v.violation_id for _, v in judged])
        return [
            Found(lender_id, v, _envelope(lender_id, v))
            for lender_id, v in judged
            if v.violation_id not in known
        ]


def _envelope(lender_id: str, v: Judged) -> Envelope:
    return VIOLATION_FOUND.envelope(
        source=SOURCE,
        subject=v.loan_id,
        tenant=lender_id,
        data=ViolationFound(
            violation_id=v.violation_id,
            rule_id=v.rule_id,
            pack_version=v.pack_version,
            loan_id=v.loan_id,
            party=v.party,
            agency_id=v.agency_id,
            contact_id=v.contact_id,
            contact_at=v.contact_at,
            leaf_indexes=list(v.leaf_indexes),
            explanation=v.explanation,
        ),
    )
