"""Which failures the consumer retries and which it dead-letters."""

import aiokafka.errors
import pydantic
import pytest
import sqlalchemy.exc

from shared.kafka.faults import (
    describe_failure,
    is_broker_unavailable,
    is_transient,
    sqlstate_of,
)


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(error_type: type[sqlalchemy.exc.DBAPIError], sqlstate: str) -> Exception:
    return error_type("SELECT 1", {}, _DriverError(sqlstate))


def test_lost_connections_and_rollbacks_are_transient() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert is_transient(_dbapi(sqlalchemy.exc.OperationalError, "08006"))
    assert is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "40001"))
    assert is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "57P01"))


def test_bad_data_is_not_transient() -> None:
    assert not is_transient(ValueError("bad amount"))
    assert not is_transient(_dbapi(sqlalchemy.exc.IntegrityError, "23505"))
    assert not is_transient(_dbapi(sqlalchemy.exc.DataError, "22003"))


def test_a_broker_away_is_transient() -> None:
    assert is_transient(aiokafka.errors.KafkaConnectionError())
    assert is_transient(aiokafka.errors.UnknownTopicOrPartitionError())  # no metadata: no broker
    assert is_transient(aiokafka.errors.RequestTimedOutError())
    assert is_transient(aiokafka.errors.KafkaTimeoutError())  # expired in the send buffer
    assert is_transient(aiokafka.errors.KafkaUnavailableError())


def test_a_message_kafka_refuses_is_not_transient() -> None:
    assert not is_transient(aiokafka.errors.MessageSizeTooLargeError())
    assert not is_transient(aiokafka.errors.TopicAuthorizationFailedError())


def test_a_statement_timeout_from_the_driver_is_transient() -> None:
    wrapped = sqlalchemy.exc.DBAPIError("SELECT 1", {}, TimeoutError())
    assert is_transient(wrapped)


def test_a_failover_a_lock_timeout_and_a_cancelled_statement_are_transient() -> None:
    assert is_transient(_dbapi(sqlalchemy.exc.InternalError, "25006"))  # read-only: a failover
    assert is_transient(_dbapi(sqlalchemy.exc.OperationalError, "55P03"))  # lock not available
    assert is_transient(_dbapi(sqlalchemy.exc.OperationalError, "57014"))  # statement cancelled
    assert is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "25006"))
    assert is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "55P03"))
    assert is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "57014"))


def test_other_states_of_those_classes_are_not_transient() -> None:
    assert not is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "25001"))  # active transaction
    assert not is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "55000"))  # not in prereq state
    assert not is_transient(_dbapi(sqlalchemy.exc.DBAPIError, "57000"))


def test_a_database_error_is_described_by_its_class_and_driver_message_without_parameters() -> None:
    driver_error = _DriverError("23505")
    driver_error.args = ('duplicate key value violates unique constraint "uq_loans_email"',)
    error = sqlalchemy.exc.IntegrityError(
        "INSERT INTO loans (email) VALUES ($1)", {"email": "borrower@example.com"}, driver_error
    )
    assert "borrower@example.com" in str(error)  # what SQLAlchemy's own message carries

    reason = describe_failure(error)

    assert "borrower@example.com" not in reason
    assert "parameters" not in reason
    assert reason == (
        "IntegrityError: _DriverError: "
        'duplicate key value violates unique constraint "uq_loans_email"'
    )
    assert sqlstate_of(error) == "23505"


def test_other_errors_are_described_by_their_class_and_message() -> None:
    assert (
        describe_failure(ValueError("cannot apply event 7")) == "ValueError: cannot apply event 7"
    )


class _Step(pydantic.BaseModel):
    seq: int


def test_a_validation_error_is_described_without_the_input() -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        _Step.model_validate({"seq": "borrower@example.com"})

    reason = describe_failure(raised.value)

    assert "borrower@example.com" not in reason
    assert reason == (
        "ValidationError: 1 error: seq: "
        "Input should be a valid integer, unable to parse string as an integer (int_parsing)"
    )


def test_the_broker_unreachable_is_told_apart_from_every_other_failure() -> None:
    assert is_broker_unavailable(aiokafka.errors.KafkaConnectionError("Unable to bootstrap"))
    assert is_broker_unavailable(aiokafka.errors.NodeNotReadyError())
    assert is_broker_unavailable(aiokafka.errors.KafkaTimeoutError())
    assert is_broker_unavailable(aiokafka.errors.GroupCoordinatorNotAvailableError())
    wrapped = RuntimeError("start failed")
    wrapped.__cause__ = aiokafka.errors.KafkaConnectionError()
    assert is_broker_unavailable(wrapped)
    # The database away, or a fault of the task itself, is not the broker.
    assert not is_broker_unavailable(_dbapi(sqlalchemy.exc.OperationalError, "08006"))
    assert not is_broker_unavailable(ConnectionRefusedError())
    assert not is_broker_unavailable(ValueError("bug"))
    assert not is_broker_unavailable(aiokafka.errors.CommitFailedError())
