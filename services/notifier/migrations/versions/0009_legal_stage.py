"""The legal stage of a loan and the terms of its demand letter.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "loans",
        sa.Column(
            "legal_stage", sa.Text(), comment="the escalation's legal stage, if one was granted"
        ),
    )
    op.add_column(
        "loans",
        sa.Column(
            "demand",
            JSONB(),
            comment="the demand letter's terms (amount, respond_by, agency): no personal data",
        ),
    )


def downgrade() -> None:
    op.drop_column("loans", "demand")
    op.drop_column("loans", "legal_stage")
