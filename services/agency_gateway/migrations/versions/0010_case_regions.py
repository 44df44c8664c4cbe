"""The borrower's region on each case, for agencies that serve some regions only.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "collection_cases",
        sa.Column("region", sa.Text(), nullable=True, comment="ISO 3166-2, when reported"),
    )


def downgrade() -> None:
    op.drop_column("collection_cases", "region")
