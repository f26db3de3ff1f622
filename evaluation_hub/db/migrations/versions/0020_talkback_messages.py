"""talk-back: the text announcements and push-to-talk turns sent to a session's seats

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talkback_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("seat_key", sa.String(length=120), nullable=True),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("sender_role", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.CheckConstraint("kind IN ('text', 'voice')", name=op.f("ck_talkback_messages_kind")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["evaluation_sessions.id"],
            name=op.f("fk_talkback_messages_session_id_evaluation_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talkback_messages")),
    )
    op.create_index(
        op.f("ix_talkback_messages_session_id"), "talkback_messages", ["session_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_talkback_messages_session_id"), table_name="talkback_messages")
    op.drop_table("talkback_messages")
