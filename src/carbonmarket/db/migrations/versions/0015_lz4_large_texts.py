"""db: the large texts (audit payloads, command results) compressed with lz4 on PostgreSQL

Why: a group commit of 1,000 orders writes one command row whose result lists every order, and
one audit row whose payload holds the whole batch and its result, several hundred kilobytes that
PostgreSQL compresses when it stores them out of line (TOAST). Its default, pglz, was the largest
single function in the server's profile of the exchange benchmark (bench/exchange.md); lz4 does
the same job several times faster, at a slightly lower ratio. The texts read back are the same;
rows stored before keep their pglz compression until rewritten. PostgreSQL 14+ built with lz4
(Debian's is); SQLite does not compress.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LARGE_TEXTS = (("audit_log", "payload"), ("commands", "result"), ("exchange_journal", "command"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in LARGE_TEXTS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in LARGE_TEXTS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION pglz")
