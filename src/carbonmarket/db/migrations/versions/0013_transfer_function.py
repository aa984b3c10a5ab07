"""ledger: a plain registry transfer as one server-side function on PostgreSQL

Why: on a small machine a transfer's throughput is set by round trips and client CPU (eleven of
each per transfer through the driver, bench/README.md). `cm_transfer` does the write path of the
common case — both accounts open and of the right kind, no approval, no serials, no retirement —
in one statement: idempotency check, account checks, balance locks in key order, the leg, the
registry transaction, the command row and the hash-chained audit row.

It decides nothing the Python checks do not decide: the caller passes the account types and
type:holder-kind pairs that `registry/model.py` accepts, and whenever a guard fails the function
returns why and writes nothing, so the caller runs the ordinary path, which refuses with the
right code and message (or handles approval, serials and retirements). SQLite has no such function
and always takes the ordinary path. See `registry/direct.py`.

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

# Every early RETURN happens before the first write, so a guard that fails leaves nothing behind.
# Balances are locked in key order, as the ledger's own path locks them, so the two paths queue
# behind each other instead of deadlocking; the audit tip is taken last and held only until commit.
TRANSFER_FUNCTION = """
CREATE OR REPLACE FUNCTION cm_transfer(
    p_key text, p_kind text, p_body_hash text, p_result text, p_actor text, p_at text,
    p_batch text, p_type text, p_leg_kind text, p_status text,
    p_from text, p_to text, p_instrument text, p_quantity bigint,
    p_sendable text[], p_receivable text[], p_skip_approval boolean,
    p_payload text, p_hash_prefix text, p_hash_suffix text
) RETURNS text LANGUAGE plpgsql AS $function$
DECLARE
    sender record;
    receiver record;
    locked integer;
    available bigint;
    head record;
    next_seq bigint;
    digest text;
BEGIN
    IF EXISTS (SELECT 1 FROM commands WHERE id = p_key) THEN
        RETURN 'command id already used';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1) THEN
        RETURN 'audit log not started';
    END IF;
    SELECT a.type, a.status, a.approval_required, h.kind AS holder_kind INTO sender
        FROM accounts AS a JOIN holders AS h ON h.id = a.holder_id WHERE a.id = p_from;
    IF NOT FOUND OR sender.status <> 'open' OR NOT (sender.type = ANY (p_sendable))
            OR (sender.approval_required AND NOT p_skip_approval) THEN
        RETURN 'transferring account needs the full checks';
    END IF;
    SELECT a.type, a.status, h.kind AS holder_kind INTO receiver
        FROM accounts AS a JOIN holders AS h ON h.id = a.holder_id WHERE a.id = p_to;
    IF NOT FOUND OR receiver.status <> 'open'
            OR NOT ((receiver.type || ':' || receiver.holder_kind) = ANY (p_receivable)) THEN
        RETURN 'acquiring account needs the full checks';
    END IF;
    PERFORM 1 FROM balances WHERE instrument_id = p_instrument AND account_id IN (p_from, p_to)
        ORDER BY account_id FOR UPDATE;
    GET DIAGNOSTICS locked = ROW_COUNT;
    SELECT total - held INTO available FROM balances
        WHERE account_id = p_from AND instrument_id = p_instrument;
    IF available IS NULL OR available < p_quantity THEN
        RETURN 'balance not available';
    END IF;
    IF locked < 2 THEN
        -- The receiver's first unit of this instrument: create its row, then lock both again in
        -- key order (the sender's lock is already held; a rare deadlock is retried by the caller).
        INSERT INTO balances (account_id, instrument_id, total, held) VALUES (p_to, p_instrument, 0, 0)
            ON CONFLICT DO NOTHING;
        PERFORM 1 FROM balances WHERE instrument_id = p_instrument AND account_id IN (p_from, p_to)
            ORDER BY account_id FOR UPDATE;
    END IF;
    UPDATE balances
        SET total = total + CASE WHEN account_id = p_from THEN -p_quantity ELSE p_quantity END
        WHERE instrument_id = p_instrument AND account_id IN (p_from, p_to);
    INSERT INTO transfers (batch_id, leg, kind, debit_account, credit_account, instrument_id, quantity,
            hold_id, reverses_id, at)
        VALUES (p_batch, 0, p_leg_kind, p_from, p_to, p_instrument, p_quantity, NULL, NULL, p_at);
    INSERT INTO registry_transactions (id, type, status, from_account, to_account, instrument_id,
            quantity, initiated_by, created_at, completed_at)
        VALUES (p_batch, p_type, p_status, p_from, p_to, p_instrument, p_quantity, p_actor, p_at, p_at);
    INSERT INTO commands (id, kind, body_hash, result, actor, at)
        VALUES (p_key, p_kind, p_body_hash, p_result, p_actor, p_at);
    SELECT seq, hash INTO head FROM audit_head WHERE id = 1 FOR UPDATE;
    next_seq := head.seq + 1;
    -- audit/model.py row_hash: sha256(previous hash ‖ canonical row), the row split around its seq.
    digest := encode(sha256(convert_to(head.hash || p_hash_prefix || next_seq::text || p_hash_suffix,
        'UTF8')), 'hex');
    INSERT INTO audit_log (seq, at, actor, action, subject, payload, prev_hash, hash)
        VALUES (next_seq, p_at, p_actor, p_kind, p_batch, p_payload, head.hash, digest);
    UPDATE audit_head SET seq = next_seq, hash = digest WHERE id = 1;
    RETURN 'done';
END
$function$
"""


def upgrade() -> None:
    """Create the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TRANSFER_FUNCTION)


def downgrade() -> None:
    """Drop the function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cm_transfer")
