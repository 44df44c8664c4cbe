"""The gateway's unit of work: the kit's (one transaction, the outbox written in its commit)
with the gateway's stores.

The gateway publishes on two topics (assignments, agencies' activities): once routed
(:meth:`GatewayUnitOfWork.routed`), each event goes to its type's topic, in the order it was
published.
"""

from collections.abc import Callable
from itertools import groupby
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.activities import ActivityLog
from services.agency_gateway.adapters.agencies import AgencyRegistry
from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseStore, OptOutStore, PreferenceStore
from services.agency_gateway.adapters.commitments import CommitmentStore
from services.agency_gateway.adapters.ledger import ContactLedger
from services.agency_gateway.adapters.webhooks import DeliveryLog
from shared.db.unit_of_work import UnitOfWork, enqueue
from shared.events.catalog import EVENT_TYPES
from shared.events.topics import Topic

TopicNames = Callable[[Topic], str]  # a topic's name in this deployment (``runtime.topic``)


class GatewayUnitOfWork(UnitOfWork):
    cases: CaseStore
    preferences: PreferenceStore
    opt_outs: OptOutStore
    assignments: AssignmentStore
    agencies: AgencyRegistry
    activities: ActivityLog
    commitments: CommitmentStore
    ledger: ContactLedger
    deliveries: DeliveryLog
    _topic_names: TopicNames | None = None

    def routed(self, topic_names: TopicNames) -> Self:
        """Publish each event on its type's topic, named by ``topic_names``."""
        self._topic_names = topic_names
        return self

    def _open(self, session: AsyncSession) -> None:
        self.cases = CaseStore(session)
        self.preferences = PreferenceStore(session)
        self.opt_outs = OptOutStore(session)
        self.assignments = AssignmentStore(session)
        self.agencies = AgencyRegistry(session)
        self.activities = ActivityLog(session)
        self.commitments = CommitmentStore(session)
        self.ledger = ContactLedger(session)
        self.deliveries = DeliveryLog(session)

    async def commit(self) -> None:
        topic_names = self._topic_names
        if topic_names is None:
            await super().commit()
            return
        published, self._events = self._events, []
        for topic, run in groupby(published, key=lambda e: EVENT_TYPES[e.type].topic):
            await enqueue(self.session, topic_names(topic), list(run))
        await self._transaction.commit()
        if published:
            self._on_commit()


def routed_units(
    units: Callable[[], GatewayUnitOfWork], topic_names: TopicNames
) -> Callable[[], GatewayUnitOfWork]:
    """Units of work (the runtime's) that publish each event on its type's topic."""
    return lambda: units().routed(topic_names)
