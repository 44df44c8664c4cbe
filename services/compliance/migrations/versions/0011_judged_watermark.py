"""Judging leaves the append's transaction: the log size judged so far (the judged-up-to
watermark), moved in the transaction that appends the violations of the entries below it.

Everything logged before this revision was judged in its own append's transaction, so the
watermark starts at the log's size.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "judging",
        sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "judged_size",
            sa.BigInteger(),
            nullable=False,
            comment="entries below this leaf index are judged",
        ),
    )
    op.execute(
        "INSERT INTO judging (id, judged_size) "
        "SELECT 1, coalesce((SELECT size FROM log_state WHERE id = 1), 0)"
    )


def downgrade() -> None:
    op.drop_table("judging")
