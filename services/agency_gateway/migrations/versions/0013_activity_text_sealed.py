"""Agencies' activity text leaves the report's plain JSON for a sealed column.

Texts recorded before move out of ``body`` into ``text_sealed`` marked as not yet sealed
(key id ``unsealed``); ``collections reseal agency_gateway`` seals them under the data
key (a migration holds no key). A downgrade drops the sealed texts.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("activities", sa.Column("text_sealed", JSONB(), nullable=True))
    op.execute(
        "UPDATE activities SET text_sealed = jsonb_build_object("
        "'kid', 'unsealed', 'ct', encode(convert_to(body->>'text', 'UTF8'), 'base64')), "
        "body = body - 'text' WHERE body->>'text' IS NOT NULL"
    )
    op.execute("UPDATE activities SET body = body - 'text' WHERE body ? 'text'")


def downgrade() -> None:
    op.drop_column("activities", "text_sealed")
