"""What the gateway's routes are given: the caller, by role, and the use cases they call.

Wiring puts the application on ``app.state.gateway``; routes stay plain module-level functions.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.agency_gateway.application.agencies import AgencyHandlers
from services.agency_gateway.application.assignments import AssignmentHandlers
from services.agency_gateway.application.cases import CaseQueries
from services.agency_gateway.application.commitments import CommitmentHandlers
from services.agency_gateway.application.legal import LegalStageHandlers
from services.agency_gateway.application.ports import AssignmentList
from services.agency_gateway.application.webhooks import WebhookDeliveries
from shared.auth import Principal, Role, role_required


@dataclass(frozen=True)
class GatewayApplication:
    assignments: AssignmentHandlers
    assignment_list: AssignmentList
    commitments: CommitmentHandlers
    cases: CaseQueries
    agencies: AgencyHandlers
    webhooks: WebhookDeliveries
    legal: LegalStageHandlers


def _application(request: Request) -> GatewayApplication:
    application: GatewayApplication = request.app.state.gateway
    return application


# async: no worker-thread hop
async def _assignments(request: Request) -> AssignmentHandlers:
    return _application(request).assignments


async def _assignment_list(request: Request) -> AssignmentList:
    return _application(request).assignment_list


async def _commitments(request: Request) -> CommitmentHandlers:
    return _application(request).commitments


async def _cases(request: Request) -> CaseQueries:
    return _application(request).cases


async def _agencies(request: Request) -> AgencyHandlers:
    return _application(request).agencies


async def _webhooks(request: Request) -> WebhookDeliveries:
    return _application(request).webhooks


async def _legal(request: Request) -> LegalStageHandlers:
    return _application(request).legal


AgencyKey = Annotated[Principal, Depends(role_required(Role.AGENCY))]
LenderKey = Annotated[Principal, Depends(role_required(Role.LENDER))]
OperatorKey = Annotated[Principal, Depends(role_required(Role.OPERATOR))]
Assignments = Annotated[AssignmentHandlers, Depends(_assignments)]
AssignmentPages = Annotated[AssignmentList, Depends(_assignment_list)]
Commitments = Annotated[CommitmentHandlers, Depends(_commitments)]
Cases = Annotated[CaseQueries, Depends(_cases)]
Agencies = Annotated[AgencyHandlers, Depends(_agencies)]
Webhooks = Annotated[WebhookDeliveries, Depends(_webhooks)]
LegalStages = Annotated[LegalStageHandlers, Depends(_legal)]
