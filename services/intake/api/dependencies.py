"""What intake's routes are given: the lender calling, the command bus, a unit of work to read.

Wiring puts the application on ``app.state.intake``; routes stay plain module-level functions.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.intake.application.command_bus import CommandBus
from services.intake.application.ports import UnitOfWork
from shared.auth import Principal, Role, role_required


@dataclass(frozen=True)
class IntakeApplication:
    commands: CommandBus
    unit_of_work: Callable[[], UnitOfWork]


def _application(request: Request) -> IntakeApplication:
    application: IntakeApplication = request.app.state.intake
    return application


async def _commands(request: Request) -> CommandBus:  # async: no worker-thread hop
    return _application(request).commands


async def _unit_of_work(request: Request) -> Callable[[], UnitOfWork]:
    return _application(request).unit_of_work


Lender = Annotated[Principal, Depends(role_required(Role.LENDER))]
Commands = Annotated[CommandBus, Depends(_commands)]
UnitOfWorkFactory = Annotated[Callable[[], UnitOfWork], Depends(_unit_of_work)]
