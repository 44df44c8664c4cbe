"""The services the commands act on, by name, each with its own settings class."""

from enum import StrEnum

from deploy.devstack.platform import SERVICES, Service

BY_NAME = {service.name: service for service in SERVICES}

ServiceName = StrEnum("ServiceName", {s.name: s.name for s in SERVICES})  # type: ignore[misc]
"""A service's name as a command-line choice (``intake``, ``notifier`` ...)."""


def service(name: str) -> Service:
    return BY_NAME[str(name)]
