"""The unit of work on the notifier's database: the kit's (one transaction, the outbox written
in its commit) with the notifier's SQL stores on its session."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.case_batch_store import SqlCaseBatchStore
from services.notifier.adapters.notification_queries import SqlNotificationReads
from services.notifier.adapters.personal_data_store import SqlPersonalDataStore
from services.notifier.adapters.receipt_store import SqlReceiptStore
from services.notifier.adapters.sending_store import SqlSendingStore
from shared.db.unit_of_work import UnitOfWork


class NotifierUnitOfWork(UnitOfWork):
    cases: SqlCaseBatchStore
    sending: SqlSendingStore
    receipts: SqlReceiptStore
    notifications: SqlNotificationReads
    personal_data: SqlPersonalDataStore

    def _open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseBatchStore(session)
        self.sending = SqlSendingStore(session)
        self.receipts = SqlReceiptStore(session)
        self.notifications = SqlNotificationReads(session)
        self.personal_data = SqlPersonalDataStore(session)
