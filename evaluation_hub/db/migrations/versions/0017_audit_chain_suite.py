"""the audit chain's cryptographic suite, recorded once per database; seat key columns wide
enough for SM2 keys (130 hex digits)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No row is written here: a database without one holds a default-suite chain (every chain
    # written before suites could be chosen), and the hub records its suite at its first start.
    op.create_table(
        "audit_settings",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_settings")),
    )
    for table, column in (("report_signatures", "public_key"), ("submitted_scores", "seat_public_key")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=64),
                type_=sa.String(length=130),
                existing_nullable=True,
            )


def downgrade() -> None:
    for table, column in (("report_signatures", "public_key"), ("submitted_scores", "seat_public_key")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=130),
                type_=sa.String(length=64),
                existing_nullable=True,
            )
    op.drop_table("audit_settings")
