"""Stored contacts are sealed under the gateway's own data keys, no longer as received.

Values stored before this revision stay under the transit key until
``collections reseal agency_gateway`` re-seals them (a migration holds no keys).

Revision ID: 0005
Revises: 0004
"""

from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BEFORE = "as received: AES-GCM sealed"
AFTER = "AES-GCM sealed under the gateway's data key, bound to lender_id and loan_id"


def upgrade() -> None:
    op.alter_column(
        "collection_cases",
        "contact_sealed",
        existing_type=JSONB(),
        comment=AFTER,
        existing_comment=BEFORE,
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "collection_cases",
        "contact_sealed",
        existing_type=JSONB(),
        comment=BEFORE,
        existing_comment=AFTER,
        existing_nullable=False,
    )
