"""The services the commands act on, by name, each with its own settings class.

The names are spelled here so that ``collections --help`` starts without importing the
services (a unit test holds them equal to the platform's); the services are imported when a
command needs one.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.devstack.platform import Service

NAMES = ("intake", "notifier", "agency_gateway", "compliance")


class ServiceName(StrEnum):
    """A service's name as a command-line choice."""

    intake = "intake"
    notifier = "notifier"
    agency_gateway = "agency_gateway"
    compliance = "compliance"


def service(name: str) -> "Service":
    from deploy.devstack.platform import SERVICES

    return next(each for each in SERVICES if each.name == str(name))


def every_service() -> list["Service"]:
    from deploy.devstack.platform import SERVICES

    return list(SERVICES)
