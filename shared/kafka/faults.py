"""Which failures are worth retrying (the database or broker went away) and which are not."""

import pydantic
import sqlalchemy.exc
from aiokafka.errors import KafkaError, KafkaTimeoutError, KafkaUnavailableError

# SQLSTATE classes that go away on their own: connection exceptions, transaction rollbacks
# (serialization failures, deadlocks), insufficient resources, operator intervention.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "57P")
# Single states that go away too: a read-only transaction during a failover (the old primary
# is now a replica), a lock timeout, a statement cancelled (statement timeout or by an operator).
TRANSIENT_SQLSTATES = frozenset({"25006", "55P03", "57014"})


def is_transient(error: BaseException) -> bool:
    """True when retrying the same work later can succeed without changing it."""
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return True
    if isinstance(error, KafkaError):
        # The broker away or moving: aiokafka marks most of these retriable; a send that
        # timed out in the buffer and "no broker at all" are not marked, but are the same.
        return bool(error.retriable) or isinstance(error, KafkaTimeoutError | KafkaUnavailableError)
    if isinstance(error, sqlalchemy.exc.TimeoutError | sqlalchemy.exc.DisconnectionError):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sqlalchemy.exc.InterfaceError):
            return True
        sqlstate = sqlstate_of(error)
        if sqlstate is not None:
            return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith(
                TRANSIENT_SQLSTATE_PREFIXES
            )
        if isinstance(error, sqlalchemy.exc.OperationalError):
            return True
        # The driver's own error may be a lost connection or a statement timeout.
        return _driver_error_is_transient(error.orig)
    cause = error.__cause__
    return cause is not None and cause is not error and is_transient(cause)


def is_broker_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the Kafka broker cannot be reached or has not answered (no
    connection, no broker, a request timed out, the coordinator away): waiting for Kafka, not a
    fault of the task that raised it. A database error never is, even a transient one."""
    if isinstance(error, KafkaError):
        return bool(error.retriable) or isinstance(error, KafkaTimeoutError | KafkaUnavailableError)
    cause = error.__cause__
    return cause is not None and cause is not error and is_broker_unavailable(cause)


def _driver_error_is_transient(original: BaseException | None) -> bool:
    for candidate in (original, getattr(original, "__cause__", None)):
        if isinstance(candidate, OSError | TimeoutError | ConnectionError):
            return True
    return False


def sqlstate_of(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a database error, if there is one."""
    original = getattr(error, "orig", None)
    for candidate in (original, getattr(original, "__cause__", None)):
        sqlstate = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def describe_failure(error: BaseException) -> str:
    """A reason to log or put in a header: the error's class and message, never the SQL
    parameters a SQLAlchemy error's own message carries nor the input values a pydantic error's
    does (they can be personal data)."""
    if isinstance(error, sqlalchemy.exc.StatementError) and error.orig is not None:
        original = error.orig
        driver = original.__cause__ if original.__cause__ is not None else original
        message = str(driver).split("[parameters:", 1)[0].split("[SQL:", 1)[0].strip()
        return f"{type(error).__name__}: {type(driver).__name__}: {message}"
    if isinstance(error, pydantic.ValidationError):
        return f"{type(error).__name__}: {describe_validation(error)}"
    return f"{type(error).__name__}: {error}"


def describe_validation(error: pydantic.ValidationError) -> str:
    """Where the data does not fit and why, without the input values (personal data)."""
    count = error.error_count()
    details = "; ".join(
        f"{'.'.join(map(str, item['loc'])) or '(root)'}: {item['msg']} ({item['type']})"
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    )
    return f"{count} error{'s' if count != 1 else ''}: {details}"
