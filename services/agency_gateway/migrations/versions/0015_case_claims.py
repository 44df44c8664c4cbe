"""Cases due for a placement decision claimed through the kit's job queue (``shared.db.jobs``):
a lease and the claim's fencing token, instead of a row lock held while the batch is decided.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "collection_cases", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("collection_cases", sa.Column("claim_token", postgresql.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column("collection_cases", "claim_token")
    op.drop_column("collection_cases", "lease_until")
