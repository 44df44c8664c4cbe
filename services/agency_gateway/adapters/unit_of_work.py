"""The gateway's unit of work: the kit's (one transaction, the outbox written in its commit)
with the gateway's stores.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.activities import ActivityLog
from services.agency_gateway.adapters.agencies import AgencyRegistry
from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseStore, OptOutStore, PreferenceStore
from services.agency_gateway.adapters.commitments import CommitmentStore
from services.agency_gateway.adapters.ledger import ContactLedger
from services.agency_gateway.adapters.legal import LegalStageStore
from services.agency_gateway.adapters.webhooks import DeliveryLog
from shared.db.unit_of_work import UnitOfWork


class GatewayUnitOfWork(UnitOfWork):
    cases: CaseStore
    preferences: PreferenceStore
    opt_outs: OptOutStore
    assignments: AssignmentStore
    agencies: AgencyRegistry
    activities: ActivityLog
    commitments: CommitmentStore
    legal: LegalStageStore
    ledger: ContactLedger
    deliveries: DeliveryLog

    def _open(self, session: AsyncSession) -> None:
        self.cases = CaseStore(session)
        self.preferences = PreferenceStore(session)
        self.opt_outs = OptOutStore(session)
        self.assignments = AssignmentStore(session)
        self.agencies = AgencyRegistry(session)
        self.activities = ActivityLog(session)
        self.commitments = CommitmentStore(session)
        self.legal = LegalStageStore(session)
        self.ledger = ContactLedger(session)
        self.deliveries = DeliveryLog(session)
