"""The channels each borrower opted out of by reply (STOP / 退订 / TD), from the notifier.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "borrower_opt_outs",
        sa.Column("lender_id", sa.Text(), nullable=False),
        sa.Column("borrower_ref", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="when the borrower replied (the earliest reply per channel)",
        ),
        sa.PrimaryKeyConstraint("lender_id", "borrower_ref", "channel"),
    )


def downgrade() -> None:
    op.drop_table("borrower_opt_outs")
