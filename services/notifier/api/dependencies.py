"""What the notifier's routes are given: the lender calling and the use cases.

Wiring puts the application on ``app.state.notifier``; routes stay plain module-level functions.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.notifier.application.queries import NotificationQueries
from services.notifier.application.receipts import ReceiptHandlers
from services.notifier.domain.cadence_policies import CadencePolicies
from shared.auth import Principal, Role, role_required


@dataclass(frozen=True)
class NotifierApplication:
    policies: CadencePolicies
    notifications: NotificationQueries
    receipts: ReceiptHandlers


def _application(request: Request) -> NotifierApplication:
    application: NotifierApplication = request.app.state.notifier
    return application


async def _policies(request: Request) -> CadencePolicies:  # async: no worker-thread hop
    return _application(request).policies


async def _notifications(request: Request) -> NotificationQueries:
    return _application(request).notifications


async def _receipts(request: Request) -> ReceiptHandlers:
    return _application(request).receipts


Lender = Annotated[Principal, Depends(role_required(Role.LENDER))]
PoliciesInForce = Annotated[CadencePolicies, Depends(_policies)]
Notifications = Annotated[NotificationQueries, Depends(_notifications)]
Receipts = Annotated[ReceiptHandlers, Depends(_receipts)]
