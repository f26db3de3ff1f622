"""chair election at the seats (closed rounds, proxied ballots' reasons), presence at check-in

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chair_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["evaluation_sessions.id"],
            name=op.f("fk_chair_rounds_session_id_evaluation_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chair_rounds")),
        sa.UniqueConstraint("session_id", "round", name=op.f("uq_chair_rounds_session_id")),
    )
    with op.batch_alter_table("chair_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chair_rounds_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("chair_votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))

    with op.batch_alter_table("checkin_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("presence", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("presence_note", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("presence_faces", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("presence_confirmed_by", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("presence_confirmed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("presence_reason", sa.Text(), server_default="", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_checkin_credentials_presence"),
            "presence IS NULL OR presence IN ('confirmed', 'unconfirmed', 'confirmed_by_hand')",
        )
    # A check-in accepted before this revision saw no picture check: it is left without a
    # presence state (NULL), never counted as confirmed.


def downgrade() -> None:
    with op.batch_alter_table("checkin_credentials", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_checkin_credentials_presence"), type_="check")
        batch_op.drop_column("presence_reason")
        batch_op.drop_column("presence_confirmed_at")
        batch_op.drop_column("presence_confirmed_by")
        batch_op.drop_column("presence_faces")
        batch_op.drop_column("presence_note")
        batch_op.drop_column("presence")

    with op.batch_alter_table("chair_votes", schema=None) as batch_op:
        batch_op.drop_column("reason")

    with op.batch_alter_table("chair_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chair_rounds_session_id"))

    op.drop_table("chair_rounds")
