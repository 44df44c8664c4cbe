"""Topic names. Every topic is keyed by lender and loan, so one loan's events stay in order.

Everything intake says about a loan goes to ``LOANS``, one ordered stream per loan: no consumer
can see a payment before the report it pays.
"""

from enum import StrEnum


class Topic(StrEnum):
    LOANS = "collections.loans.v1"
    NOTIFICATIONS = "collections.notifications.v1"
    ASSIGNMENTS = "collections.assignments.v1"
    AGENCY_ACTIVITIES = "collections.agency-activities.v1"
    COMPLIANCE = "collections.compliance.v1"
    DATA_ANSWERS = "collections.data-answers.v1"  # each service's answer to a data request

    def qualified(self, namespace: str = "") -> str:
        """The name on the broker: the namespace (e.g. one per test run) plus the topic."""
        return f"{namespace}{self.value}"


def dead_letter_topic(topic: str, group: str) -> str:
    """One dead-letter topic per consumer group and source topic, never a shared one."""
    return f"{topic}.{group}.dlq"
