"""The unit of work on intake's database: the kit's, with intake's stores."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.borrowers import SqlBorrowerStore
from services.intake.adapters.disputes import SqlDisputeStore
from services.intake.adapters.history import SqlEventHistory
from services.intake.adapters.idempotency import SqlIdempotencyKeys
from services.intake.adapters.loans import SqlLoanStore
from shared.db.unit_of_work import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    loans: SqlLoanStore
    history: SqlEventHistory
    idempotency_keys: SqlIdempotencyKeys
    disputes: SqlDisputeStore
    borrowers: SqlBorrowerStore

    def _open(self, session: AsyncSession) -> None:
        self.loans = SqlLoanStore(session)
        self.history = SqlEventHistory(session)
        self.idempotency_keys = SqlIdempotencyKeys(session)
        self.disputes = SqlDisputeStore(session)
        self.borrowers = SqlBorrowerStore(session)
