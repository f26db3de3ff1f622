"""chapter deliveries keep the manifest released to the seat, so any hub process can hand it
over (and re-derive its chunks) when the seat is connected there

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chapter_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manifest", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chapter_deliveries", schema=None) as batch_op:
        batch_op.drop_column("manifest")
