"""audit: the hash-chained append as one server-side function on PostgreSQL

Why: appending to the audit chain needs the tip's sequence number and hash, which the client could
only learn by a round trip (`UPDATE audit_head ... RETURNING`) and then hash itself. Every command
paid that wait, and a group commit paid it after its pipeline drained (bench/exchange.md, "Fourth
round"). `cm_append_audit` takes the row with its canonical text split around the seq
(`audit/model.py` `row_hash_parts`) and does the rest under the tip's lock: next seq, sha256 over
the previous hash and the row, the row, the new tip. Nothing has to come back, so inside a
pipeline the command's last rows are sent without waiting. The hash is the one `row_hash` gives
(a unit test and the chain check of every PostgreSQL test say so); SQLite keeps appending from
Python.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The tip row is created on the first append, as the Python path does; ON CONFLICT covers two
# first appenders racing, and the loser then locks the row the winner made.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION cm_append_audit(
    p_at text, p_actor text, p_action text, p_subject text, p_payload text,
    p_hash_prefix text, p_hash_suffix text
) RETURNS bigint
LANGUAGE plpgsql AS $function$
DECLARE
    head record;
    next_seq bigint;
    digest text;
BEGIN
    SELECT seq, hash INTO head FROM audit_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
        SELECT seq, hash INTO head FROM audit_head WHERE id = 1 FOR UPDATE;
    END IF;
    next_seq := head.seq + 1;
    -- audit/model.py row_hash: sha256(previous hash ‖ canonical row), the row split around its seq.
    digest := encode(sha256(convert_to(head.hash || p_hash_prefix || next_seq::text || p_hash_suffix,
        'UTF8')), 'hex');
    INSERT INTO audit_log (seq, at, actor, action, subject, payload, prev_hash, hash)
        VALUES (next_seq, p_at, p_actor, p_action, p_subject, p_payload, head.hash, digest);
    UPDATE audit_head SET seq = next_seq, hash = digest WHERE id = 1;
    RETURN next_seq;
END
$function$
"""


def upgrade() -> None:
    """Create the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_FUNCTION)


def downgrade() -> None:
    """Drop the function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cm_append_audit")
