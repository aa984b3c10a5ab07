"""Registry use cases. Each is one command: checked, applied in one transaction, audited.

Checks run in the UK ETS order (REGISTRY_CHECKS.md §5): who may act, then the transferring
account, the acquiring account, then units and quantity; the first failure is returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from carbonmarket.core.actors import Actor, Permission, Role, require_right, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.instruments import InstrumentId, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Done, Outcome, Refused
from carbonmarket.core.units import parse_quantity
from carbonmarket.db.command import run_command, run_read
from carbonmarket.db.engine import is_postgres
from carbonmarket.ledger import service as ledger
from carbonmarket.ledger import store as ledger_store
from carbonmarket.ledger.model import MINT_ACCOUNT_ID, HoldKind, HoldStatus, Leg, LegKind
from carbonmarket.registry import store
from carbonmarket.registry.direct import DirectTransfer, movement_result
from carbonmarket.registry.model import (
    RETIREMENT_TYPES,
    Account,
    AccountStatus,
    AccountType,
    HolderKind,
    TransactionStatus,
    check_account_opening,
    check_acquiring,
    check_issuance_cap,
    check_issuance_target,
    check_retirement_target,
    check_text,
    check_transferring,
    parse_account_status,
    parse_account_type,
    parse_holder_kind,
)

REGULATORS = {Role.REGULATOR}
OPERATORS = {Role.REGULATOR, Role.REGISTRY_OPERATOR}
name_length_max = 200
# Issuance, transfer, cancellation, surrender and reversal ids name ledger batches, so they share
# one id space: a transfer may not reuse the id of an issuance.
MOVEMENTS = "movement"
TRANSFER_KIND = "registry.transfer"
page_size_max = 500


class Registry:
    """The registry's use cases over one database."""

    def __init__(self, engine: Engine, clock: Clock | None = None, *, direct_transfers: bool = True) -> None:
        """`direct_transfers=False` keeps every transfer on the ordinary path (registry/direct.py)."""
        self.engine = engine
        self.clock = clock or SystemClock()
        self._instrument_kinds: dict[str, InstrumentKind] = {}
        direct = direct_transfers and is_postgres(engine)
        self._direct = DirectTransfer(engine, self.clock) if direct else None

    # --- holders and accounts -------------------------------------------------------------------

    def add_holder(self, actor: Actor, holder_id: str, name: str, kind: str) -> Outcome:
        """Register an account holder (unified account opening starts here)."""
        body = {"holder_id": holder_id, "name": name, "kind": kind}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, OPERATORS, "adding an account holder")
            check_id(holder_id, what="holder id")
            holder_kind = parse_holder_kind(kind)
            check_text(name, "holder name")
            if store.get_holder(connection, holder_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"holder {holder_id!r} already exists")
            store.insert_holder(connection, holder_id, name.strip(), holder_kind, at)
            return {"holder": holder_id, "kind": holder_kind.value}

        return run_command(self.engine, self.clock, actor, "holder.add", holder_id, body, work)

    def open_account(
        self,
        actor: Actor,
        account_id: str,
        holder_id: str,
        account_type: str,
        approval_required: bool = False,
    ) -> Outcome:
        """Open an account of a type for a holder; central accounts need a government holder."""
        body = {
            "account_id": account_id,
            "holder_id": holder_id,
            "type": account_type,
            "approval": approval_required,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, OPERATORS, "opening an account")
            check_id(account_id, what="account id")
            type_ = parse_account_type(account_type)
            holder = store.get_holder(connection, holder_id)
            if holder is None:
                raise Refused(Code.UNKNOWN_HOLDER, f"holder {holder_id!r} does not exist")
            check_account_opening(HolderKind(holder.kind), type_)
            if store.account_row(connection, account_id) is not None:
                raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"account {account_id!r} already exists")
            store.insert_account(connection, account_id, holder_id, type_, approval_required, at)
            return {"account": account_id, "holder": holder_id, "type": type_.value, "status": "open"}

        return run_command(self.engine, self.clock, actor, "account.open", account_id, body, work)

    def set_account_status(
        self, actor: Actor, command_id: str, account_id: str, status: str, reason: str
    ) -> Outcome:
        """Block, unblock or close an account; a closing account must be empty and hold nothing reserved."""
        body = {"account_id": account_id, "status": status, "reason": reason}

        def work(connection: Connection, _at: str) -> dict[str, Any]:
            require_role(actor, OPERATORS, "changing an account's status")
            new_status = parse_account_status(status)
            check_text(reason, "reason")
            row = store.account_row(connection, account_id)
            if row is None:
                raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account_id!r} does not exist")
            if row.status == AccountStatus.CLOSED:
                raise Refused(Code.TRANSFERRING_ACCOUNT_CLOSED, f"account {account_id!r} is closed for good")
            if new_status is AccountStatus.CLOSED and store.units_in_account(connection, account_id) > 0:
                raise Refused(
                    Code.ACCOUNT_NOT_EMPTY, f"account {account_id!r} still holds units; transfer them first"
                )
            store.set_account_status(connection, account_id, new_status)
            return {"account": account_id, "status": new_status.value, "previous": row.status}

        return run_command(self.engine, self.clock, actor, "account.status", command_id, body, work)

    # --- instruments and issuance ---------------------------------------------------------------

    def define_instrument(
        self, actor: Actor, instrument: str, cap: object | None, source: str | None = None
    ) -> Outcome:
        """Define an instrument (a CEA vintage or a CCER project-vintage) with its issuance cap."""
        body = {"instrument": instrument, "cap": _jsonable(cap), "source": source}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "defining an instrument")
            parsed = parse_instrument(instrument)
            checked_cap = None if cap is None else parse_quantity(cap, what="cap")
            if store.get_instrument(connection, parsed.text) is not None:
                raise Refused(Code.INSTRUMENT_EXISTS, f"instrument {parsed.text} is already defined")
            _insert_instrument(connection, parsed, checked_cap, source, at)
            return {"instrument": parsed.text, "kind": parsed.kind.value, "cap": checked_cap}

        return run_command(self.engine, self.clock, actor, "instrument.define", instrument, body, work)

    def define_defaults(self, actor: Actor) -> list[Outcome]:
        """Define the packaged instruments that are not defined yet (used by `init`)."""
        from carbonmarket.registry.catalogue import default_instruments

        return [
            self.define_instrument(actor, spec.id, spec.cap, spec.source) for spec in default_instruments()
        ]

    def open_central_accounts(self, actor: Actor) -> Outcome:
        """Open the packaged central holders and accounts that do not exist yet (used by `init`)."""
        from carbonmarket.registry import postings
        from carbonmarket.registry.catalogue import central_accounts

        def work(connection: Connection, at: str) -> dict[str, Any]:
            opened = []
            for spec in central_accounts():
                postings.ensure_holder(
                    connection, actor, spec.holder_id, spec.holder_name, spec.holder_kind, at
                )
                if postings.ensure_account(connection, actor, spec.id, spec.holder_id, spec.type, at):
                    opened.append(spec.id)
            return {"opened": opened}

        specs = [(s.id, s.type) for s in central_accounts()]
        return run_command(
            self.engine,
            self.clock,
            actor,
            "registry.central_accounts",
            derived_id("central", *specs),
            {"accounts": specs},
            work,
        )

    def set_cap(self, actor: Actor, command_id: str, instrument: str, cap: object) -> Outcome:
        """Change a vintage's issuance cap; never below what is already issued."""
        body = {"instrument": instrument, "cap": _jsonable(cap)}

        def work(connection: Connection, _at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "setting an issuance cap")
            row = _instrument_row(connection, instrument)
            checked = parse_quantity(cap, what="cap")
            if checked < row.issued:
                raise Refused(
                    Code.CAP_BELOW_ISSUED, f"{row.id} has {row.issued} t issued; the cap cannot go below it"
                )
            store.set_cap(connection, row.id, checked)
            return {"instrument": row.id, "cap": checked, "previous_cap": row.cap}

        return run_command(self.engine, self.clock, actor, "instrument.cap", command_id, body, work)

    def issue(
        self, actor: Actor, command_id: str, instrument: str, quantity: object, to_account: str
    ) -> Outcome:
        """Create units of a vintage in an issuance account — only by a regulator, never above the cap."""
        body = {"instrument": instrument, "quantity": _jsonable(quantity), "to": to_account}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "issuing units")
            target = self._acquiring(connection, to_account, instrument, None)
            check_issuance_target(target)
            amount = parse_quantity(quantity)
            row = ledger_store.lock_instrument(connection, _canonical(instrument))
            assert row is not None, "checked by _acquiring"
            check_issuance_cap(row.issued, amount, row.cap, row.id)
            leg = Leg(MINT_ACCOUNT_ID, to_account, row.id, amount, LegKind.ISSUE)
            applied = ledger.apply(connection, command_id, [leg], at, self._is_retirement(connection, target))
            self._completed(connection, command_id, "issuance", None, to_account, row.id, amount, actor, at)
            return {
                "transaction": command_id,
                "instrument": row.id,
                "quantity": amount,
                "to": to_account,
                "issued_total": row.issued + amount,
                "serials": applied.serials.get(0),
            }

        return run_command(
            self.engine, self.clock, actor, "registry.issue", command_id, body, work, namespace=MOVEMENTS
        )

    # --- transfers ------------------------------------------------------------------------------

    def transfer(
        self,
        actor: Actor,
        command_id: str,
        from_account: str,
        to_account: str,
        instrument: str,
        quantity: object,
    ) -> Outcome:
        """Move units between two accounts; waits for a second person if the sender requires approval."""
        body = {
            "from": from_account,
            "to": to_account,
            "instrument": instrument,
            "quantity": _jsonable(quantity),
        }

        direct = self._direct_transfer(
            actor, command_id, body, from_account, to_account, instrument, quantity
        )
        if direct is not None:
            return direct

        def work(connection: Connection, at: str) -> dict[str, Any]:
            sender, receiver = self._parties(
                connection, actor, from_account, to_account, instrument, "a transfer"
            )
            return self._move(
                connection, actor, command_id, "transfer", sender, receiver, instrument, quantity, at
            )

        return run_command(
            self.engine, self.clock, actor, TRANSFER_KIND, command_id, body, work, namespace=MOVEMENTS
        )

    def _direct_transfer(
        self,
        actor: Actor,
        command_id: str,
        body: dict[str, Any],
        from_account: str,
        to_account: str,
        instrument: str,
        quantity: object,
    ) -> Done | None:
        """The one-statement path (registry/direct.py) when it applies; None: take the ordinary one."""
        if self._direct is None:
            return None
        try:
            instrument_id = _canonical(instrument)
        except Refused:
            return None
        kind = self._instrument_kinds.get(instrument_id)
        if kind is None or ledger.known_serialised(instrument_id) is not False:
            return None  # the ordinary path learns both on its first transfer of the instrument
        return self._direct.attempt(
            actor,
            command_id,
            TRANSFER_KIND,
            MOVEMENTS,
            body,
            from_account,
            to_account,
            instrument_id,
            kind,
            quantity,
        )

    def cancel(
        self,
        actor: Actor,
        command_id: str,
        from_account: str,
        instrument: str,
        quantity: object,
        to_account: str,
        beneficiary: str,
        purpose: str,
    ) -> Outcome:
        """Voluntary cancellation (retirement) into a cancellation account, with a certificate."""
        body = {
            "from": from_account,
            "instrument": instrument,
            "quantity": _jsonable(quantity),
            "to": to_account,
            "beneficiary": beneficiary,
            "purpose": purpose,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            sender, receiver = self._parties(
                connection, actor, from_account, to_account, instrument, "a cancellation"
            )
            check_retirement_target(receiver, AccountType.CANCELLATION)
            check_text(beneficiary, "beneficiary")
            check_text(purpose, "purpose")
            result = self._move(
                connection, actor, command_id, "cancellation", sender, receiver, instrument, quantity, at
            )
            if result["status"] == TransactionStatus.COMPLETED:
                result["certificate"] = self._certify(
                    connection, command_id, result, beneficiary, purpose, at
                )
            return result

        return run_command(
            self.engine, self.clock, actor, "registry.cancel", command_id, body, work, namespace=MOVEMENTS
        )

    def surrender(
        self,
        actor: Actor,
        command_id: str,
        from_account: str,
        instrument: str,
        quantity: object,
        to_account: str,
    ) -> Outcome:
        """Move units to a surrender account (the compliance context decides what counts for which year)."""
        body = {
            "from": from_account,
            "instrument": instrument,
            "quantity": _jsonable(quantity),
            "to": to_account,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            sender, receiver = self._parties(
                connection, actor, from_account, to_account, instrument, "a surrender"
            )
            check_retirement_target(receiver, AccountType.SURRENDER)
            return self._move(
                connection, actor, command_id, "surrender", sender, receiver, instrument, quantity, at
            )

        return run_command(
            self.engine, self.clock, actor, "registry.surrender", command_id, body, work, namespace=MOVEMENTS
        )

    def _move(
        self,
        connection: Connection,
        actor: Actor,
        command_id: str,
        type_: str,
        sender: Account,
        receiver: Account,
        instrument: str,
        quantity: object,
        at: str,
    ) -> dict[str, Any]:
        """Check the quantity, then either complete the move or reserve it pending approval."""
        amount = parse_quantity(quantity)
        instrument_id = _canonical(instrument)
        base = {
            "transaction": command_id,
            "from": sender.id,
            "to": receiver.id,
            "instrument": instrument_id,
            "quantity": amount,
        }
        if sender.approval_required and not actor.superuser:
            request = ledger.HoldRequest(command_id, HoldKind.TRANSACTION, sender.id, instrument_id, amount)
            ledger.create_hold(connection, request, at)
            store.insert_transaction(
                connection,
                id=command_id,
                type=type_,
                status=TransactionStatus.AWAITING_APPROVAL,
                from_account=sender.id,
                to_account=receiver.id,
                instrument_id=instrument_id,
                quantity=amount,
                hold_id=command_id,
                initiated_by=actor.username,
                created_at=at,
            )
            return {**base, "status": TransactionStatus.AWAITING_APPROVAL}
        leg = Leg(
            sender.id,
            receiver.id,
            instrument_id,
            amount,
            LegKind.RETIRE if receiver.type in RETIREMENT_TYPES else LegKind.TRANSFER,
        )
        applied = ledger.apply(
            connection, command_id, [leg], at, self._is_retirement(connection, sender, receiver)
        )
        self._completed(
            connection, command_id, type_, sender.id, receiver.id, instrument_id, amount, actor, at
        )
        serials = applied.serials.get(0)
        return movement_result(command_id, sender.id, receiver.id, instrument_id, amount, serials)

    def approve(self, actor: Actor, transaction_id: str, approve: bool, reason: str = "") -> Outcome:
        """Four-eyes: a second person with the approve right completes or rejects a waiting transaction."""
        body = {"transaction": transaction_id, "approve": approve, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            row = store.lock_transaction(connection, transaction_id)
            if row is None:
                raise Refused(Code.TRANSACTION_NOT_FOUND, f"no registry transaction {transaction_id!r}")
            if row.status != TransactionStatus.AWAITING_APPROVAL:
                raise Refused(
                    Code.TRANSACTION_NOT_AWAITING_APPROVAL, f"transaction {transaction_id!r} is {row.status}"
                )
            require_right(actor, row.from_account, Permission.APPROVE, "approving a transaction")
            if actor.username == row.initiated_by:
                raise Refused(
                    Code.APPROVER_IS_INITIATOR, "the person who proposed a transaction cannot approve it"
                )
            hold = ledger.load_pending_hold(connection, row.hold_id, at)
            if not approve:
                ledger.void_hold(connection, hold, at)
                store.update_transaction(
                    connection,
                    transaction_id,
                    status=TransactionStatus.REJECTED,
                    approved_by=actor.username,
                    reason=reason,
                    completed_at=at,
                )
                return {"transaction": transaction_id, "status": TransactionStatus.REJECTED}
            receiver = self._acquiring(connection, row.to_account, row.instrument_id, row.from_account)
            applied = ledger.post_hold(
                connection, hold, receiver.id, None, transaction_id, at, self._is_retirement(connection)
            )
            store.update_transaction(
                connection,
                transaction_id,
                status=TransactionStatus.COMPLETED,
                approved_by=actor.username,
                completed_at=at,
            )
            result = {
                "transaction": transaction_id,
                "status": TransactionStatus.COMPLETED,
                "serials": applied.serials.get(0),
            }
            if row.type == "cancellation":
                result["certificate"] = f"CERT-{transaction_id}"
            return result

        return run_command(
            self.engine,
            self.clock,
            actor,
            "registry.approve",
            derived_id("decide", transaction_id, actor.username, approve),
            body,
            work,
        )

    # --- holds: freeze and pledge ---------------------------------------------------------------

    def freeze(
        self,
        actor: Actor,
        hold_id: str,
        account_id: str,
        instrument: str,
        quantity: object,
        reason: str,
        expires_at: str | None = None,
    ) -> Outcome:
        """Freeze holdings (e.g. on a court order): the units stay but cannot move until released."""
        body = {
            "account": account_id,
            "instrument": instrument,
            "quantity": _jsonable(quantity),
            "reason": reason,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, OPERATORS, "freezing holdings")
            check_text(reason, "reason")
            return self._hold(
                connection,
                hold_id,
                HoldKind.FREEZE,
                account_id,
                instrument,
                quantity,
                None,
                expires_at,
                reason,
                at,
            )

        return run_command(self.engine, self.clock, actor, "registry.freeze", hold_id, body, work)

    def pledge(
        self,
        actor: Actor,
        hold_id: str,
        account_id: str,
        instrument: str,
        quantity: object,
        pledgee: str,
        expires_at: str | None = None,
    ) -> Outcome:
        """Pledge holdings: frozen now, later released to the holder or executed to the pledgee."""
        body = {
            "account": account_id,
            "instrument": instrument,
            "quantity": _jsonable(quantity),
            "pledgee": pledgee,
        }

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_right(actor, account_id, Permission.INITIATE, "pledging holdings")
            if not pledgee:
                raise Refused(Code.PLEDGEE_REQUIRED, "a pledge names the pledgee's account")
            self._acquiring(connection, pledgee, instrument, account_id)
            return self._hold(
                connection,
                hold_id,
                HoldKind.PLEDGE,
                account_id,
                instrument,
                quantity,
                pledgee,
                expires_at,
                None,
                at,
            )

        return run_command(self.engine, self.clock, actor, "registry.pledge", hold_id, body, work)

    def _hold(
        self,
        connection: Connection,
        hold_id: str,
        kind: HoldKind,
        account_id: str,
        instrument: str,
        quantity: object,
        pledgee: str | None,
        expires_at: str | None,
        reason: str | None,
        at: str,
    ) -> dict[str, Any]:
        """Common checks and the ledger hold for freezes and pledges."""
        check_id(hold_id, what="hold id")
        accounts = store.get_accounts(connection, [account_id])
        account = check_transferring(accounts.get(account_id), account_id)
        instrument_id = _instrument_row(connection, instrument).id
        amount = parse_quantity(quantity)
        if ledger_store.get_hold(connection, hold_id) is not None:
            raise Refused(Code.EXISTS_WITH_DIFFERENT_FIELDS, f"hold id {hold_id!r} is already in use")
        request = ledger.HoldRequest(
            hold_id, kind, account.id, instrument_id, amount, pledgee, expires_at, reason
        )
        ledger.create_hold(connection, request, at)
        return {
            "hold": hold_id,
            "kind": kind.value,
            "account": account.id,
            "instrument": instrument_id,
            "quantity": amount,
            "pledgee": pledgee,
            "status": HoldStatus.PENDING.value,
        }

    def release(self, actor: Actor, hold_id: str, reason: str = "") -> Outcome:
        """Release a freeze or pledge: the units become available to their holder again."""
        body = {"hold": hold_id, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            hold = ledger.load_pending_hold(connection, hold_id, at)
            self._require_hold_control(actor, hold, "releasing a hold")
            ledger.void_hold(connection, hold, at)
            return {"hold": hold_id, "status": HoldStatus.VOIDED.value, "released": hold.quantity}

        return run_command(self.engine, self.clock, actor, "registry.release", hold_id, body, work)

    def execute_pledge(self, actor: Actor, hold_id: str, quantity: object | None = None) -> Outcome:
        """Enforce a pledge: the pledged units (all, or a part) move to the pledgee; the rest is released."""
        body = {"hold": hold_id, "quantity": _jsonable(quantity)}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            hold = ledger.load_pending_hold(connection, hold_id, at)
            if hold.kind != HoldKind.PLEDGE:
                raise Refused(Code.HOLD_NOT_FOUND, f"hold {hold_id!r} is a {hold.kind}, not a pledge")
            self._require_hold_control(actor, hold, "executing a pledge")
            amount = None if quantity is None else parse_quantity(quantity)
            self._acquiring(connection, hold.pledgee_account, hold.instrument_id, hold.account_id)
            # '@' cannot start a client's id, so this batch id never collides with a client command.
            batch = f"@pledge:{hold_id}"
            applied = ledger.post_hold(
                connection, hold, hold.pledgee_account, amount, batch, at, self._is_retirement(connection)
            )
            moved = hold.quantity if amount is None else amount
            self._completed(
                connection,
                batch,
                "pledge_execution",
                hold.account_id,
                hold.pledgee_account,
                hold.instrument_id,
                moved,
                actor,
                at,
            )
            return {
                "hold": hold_id,
                "transaction": batch,
                "status": HoldStatus.POSTED.value,
                "to": hold.pledgee_account,
                "quantity": moved,
                "released": hold.quantity - moved,
                "serials": applied.serials.get(0),
            }

        return run_command(self.engine, self.clock, actor, "registry.pledge_execute", hold_id, body, work)

    def _require_hold_control(self, actor: Actor, hold: Any, action: str) -> None:
        """Operators control every hold; a pledgee's representative controls its pledges."""
        if actor.superuser or actor.role in OPERATORS:
            return
        if hold.kind == HoldKind.PLEDGE and actor.has_right(hold.pledgee_account, Permission.INITIATE):
            return
        raise Refused(Code.FORBIDDEN, f"{action} needs a registry operator or, for a pledge, the pledgee")

    def expire_holds(self, actor: Actor, command_id: str, limit: int = 1000) -> Outcome:
        """Expire every pending hold whose time has passed, releasing its units."""

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, OPERATORS, "expiring holds")
            expired = []
            for hold_id in ledger_store.due_holds(connection, at, limit):
                hold = ledger_store.lock_hold(connection, hold_id)
                if hold is not None and hold.status == HoldStatus.PENDING:
                    ledger.void_hold(connection, hold, at, HoldStatus.EXPIRED)
                    expired.append(hold_id)
            return {"expired": expired}

        return run_command(
            self.engine, self.clock, actor, "registry.expire_holds", command_id, {"limit": limit}, work
        )

    # --- reversal -------------------------------------------------------------------------------

    def reverse(self, actor: Actor, command_id: str, original: str, reason: str) -> Outcome:
        """Correct a completed transaction with a reversing one that names it (rule 3); regulators only."""
        body = {"original": original, "reason": reason}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "reversing a transaction")
            check_text(reason, "reason")
            accounts = {leg.credit for _, leg in ledger_store.batch_legs(connection, original)}
            found = store.get_accounts(connection, sorted(accounts - {MINT_ACCOUNT_ID}))
            for account_id in sorted(found):
                check_transferring(_as_sender_for_reversal(found[account_id]), account_id)
            applied = ledger.reverse(connection, original, command_id, at, self._is_retirement(connection))
            store.insert_transaction(
                connection,
                id=command_id,
                type="reversal",
                status=TransactionStatus.COMPLETED,
                initiated_by=actor.username,
                reason=f"reverses {original}: {reason}",
                created_at=at,
                completed_at=at,
            )
            return {"transaction": command_id, "reverses": original, "legs": len(applied.transfer_ids)}

        return run_command(
            self.engine, self.clock, actor, "registry.reverse", command_id, body, work, namespace=MOVEMENTS
        )

    # --- queries --------------------------------------------------------------------------------

    def balance(self, actor: Actor, account_id: str) -> dict[str, Any]:
        """An account's balances per instrument, with what is reserved and what is available."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.account_row(connection, account_id)
            if row is None:
                raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account_id!r} does not exist")
            if not actor.may_view(account_id):
                raise Refused(Code.FORBIDDEN, f"{actor.username!r} may not view account {account_id!r}")
            rows = ledger_store.account_balances(connection, account_id)
            return {
                "account": account_id,
                "holder": row.holder_id,
                "holder_name": row.holder_name,
                "type": row.type,
                "status": row.status,
                "balances": {r.instrument_id: r.total for r in rows},
                "held": {r.instrument_id: r.held for r in rows if r.held},
                "available": {r.instrument_id: r.total - r.held for r in rows},
            }

        return dict(run_read(self.engine, read))

    def history(
        self, actor: Actor, account_id: str, limit: int = 100, before: int | None = None
    ) -> dict[str, Any]:
        """An account's movements, newest first, a page at a time."""
        page = min(max(limit, 1), page_size_max)

        def read(connection: Connection) -> dict[str, Any]:
            if store.account_row(connection, account_id) is None:
                raise Refused(Code.UNKNOWN_ACCOUNT, f"account {account_id!r} does not exist")
            if not actor.may_view(account_id):
                raise Refused(Code.FORBIDDEN, f"{actor.username!r} may not view account {account_id!r}")
            rows = ledger_store.account_history(connection, account_id, page, before)
            entries = [
                {
                    "id": r.id,
                    "transaction": r.batch_id,
                    "kind": r.kind,
                    "instrument": r.instrument_id,
                    "quantity": r.quantity if r.credit_account == account_id else -r.quantity,
                    "counterparty": r.debit_account if r.credit_account == account_id else r.credit_account,
                    "reverses": r.reverses_id,
                    "at": r.at,
                }
                for r in rows
            ]
            holds = [
                {
                    "hold": h.id,
                    "kind": h.kind,
                    "instrument": h.instrument_id,
                    "quantity": h.quantity,
                    "pledgee": h.pledgee_account,
                }
                for h in ledger_store.pending_holds_of(connection, account_id)
            ]
            return {"account": account_id, "entries": entries, "pending_holds": holds}

        return dict(run_read(self.engine, read))

    def instruments(self) -> list[dict[str, Any]]:
        """Every instrument with issued, retired and circulating supply (public)."""
        rows = run_read(self.engine, store.list_instruments)
        return [
            {
                "instrument": r.id,
                "kind": r.kind,
                "vintage": _vintage_text(r.vintage_first, r.vintage_last),
                "unit": r.unit,
                "cap": r.cap,
                "issued": r.issued,
                "retired": r.retired,
                "supply": r.issued - r.retired,
                "source": r.source,
            }
            for r in rows
        ]

    def accounts(self, holder_id: str | None = None, limit: int = page_size_max) -> list[dict[str, Any]]:
        """Accounts with their holder and status."""
        rows = run_read(self.engine, lambda c: store.list_accounts(c, holder_id, min(limit, page_size_max)))
        return [
            {
                "account": r.id,
                "holder": r.holder_id,
                "type": r.type,
                "status": r.status,
                "approval_required": r.approval_required,
            }
            for r in rows
        ]

    def holders(self, limit: int = page_size_max) -> list[dict[str, Any]]:
        """Holders with their kind."""
        rows = run_read(self.engine, lambda c: store.list_holders(c, min(limit, page_size_max)))
        return [{"holder": r.id, "name": r.name, "kind": r.kind} for r in rows]

    def transactions(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Registry transactions, newest first."""
        rows = run_read(self.engine, lambda c: store.list_transactions(c, status, min(limit, page_size_max)))
        return [dict(r._mapping) for r in rows]

    def certificate(self, certificate_id: str) -> dict[str, Any]:
        """A retirement certificate, public so a claim can be checked by anyone."""
        row = run_read(self.engine, lambda c: store.get_certificate(c, certificate_id))
        if row is None:
            raise Refused(Code.CERTIFICATE_NOT_FOUND, f"no retirement certificate {certificate_id!r}")
        data = dict(row._mapping)
        data["serials"] = json.loads(data["serials"]) if data["serials"] else None
        return data

    def reconcile(self) -> ledger.Reconciliation:
        """Replay the ledger against every cached figure."""
        return ledger.reconcile(self.engine, store.retirement_account_ids)

    # --- helpers --------------------------------------------------------------------------------

    def _parties(
        self,
        connection: Connection,
        actor: Actor,
        sender_id: str,
        receiver_id: str,
        instrument: str,
        action: str,
    ) -> tuple[Account, Account]:
        """Both accounts of a movement, loaded in one query and checked in the UK order."""
        kind = self._instrument_kind(connection, instrument)
        accounts = store.get_accounts(connection, [sender_id, receiver_id])
        sender = self._check_sender(accounts.get(sender_id), sender_id, actor, action)
        receiver = check_acquiring(accounts.get(receiver_id), receiver_id, kind, sender_id)
        return sender, receiver

    def _instrument_kind(self, connection: Connection, instrument: str) -> InstrumentKind:
        """The kind of a defined instrument; remembered, since instruments are never redefined or removed."""
        canonical = _canonical(instrument)
        if canonical not in self._instrument_kinds:
            self._instrument_kinds[canonical] = InstrumentKind(_instrument_row(connection, canonical).kind)
        return self._instrument_kinds[canonical]

    def _transferring(self, connection: Connection, actor: Actor, account_id: str, action: str) -> Account:
        """Transferring-side checks, then the actor's right to initiate from the account."""
        accounts = store.get_accounts(connection, [account_id])
        return self._check_sender(accounts.get(account_id), account_id, actor, action)

    def _check_sender(self, found: Account | None, account_id: str, actor: Actor, action: str) -> Account:
        """UK transferring checks, then the right to initiate (regulators act for government accounts)."""
        account = check_transferring(found, account_id)
        if not (actor.role is Role.REGULATOR and account.holder_kind is HolderKind.GOVERNMENT):
            require_right(actor, account_id, Permission.INITIATE, action)
        return account

    def _acquiring(
        self, connection: Connection, account_id: str, instrument: str, sender: str | None
    ) -> Account:
        """Acquiring-side checks for a known instrument."""
        row = _instrument_row(connection, instrument)
        accounts = store.get_accounts(connection, [account_id])
        return check_acquiring(accounts.get(account_id), account_id, InstrumentKind(row.kind), sender)

    def _is_retirement(self, connection: Connection, *loaded: Account) -> Callable[[str], bool]:
        """A memoised lookup of whether an account is a retirement account (seeded with those loaded)."""
        known: dict[str, bool] = {MINT_ACCOUNT_ID: False}
        known.update((account.id, account.type in RETIREMENT_TYPES) for account in loaded)

        def is_retirement(account_id: str) -> bool:
            if account_id not in known:
                found = store.get_accounts(connection, [account_id]).get(account_id)
                known[account_id] = found is not None and found.type in RETIREMENT_TYPES
            return known[account_id]

        return is_retirement

    def _completed(
        self,
        connection: Connection,
        transaction_id: str,
        type_: str,
        from_account: str | None,
        to_account: str,
        instrument: str,
        quantity: int,
        actor: Actor,
        at: str,
    ) -> None:
        """Record a transaction that completed at once (no approval was configured)."""
        store.insert_transaction(
            connection,
            id=transaction_id,
            type=type_,
            status=TransactionStatus.COMPLETED,
            from_account=from_account,
            to_account=to_account,
            instrument_id=instrument,
            quantity=quantity,
            initiated_by=actor.username,
            created_at=at,
            completed_at=at,
        )

    def _certify(
        self,
        connection: Connection,
        transaction_id: str,
        result: dict[str, Any],
        beneficiary: str,
        purpose: str,
        at: str,
    ) -> str:
        """Keep the retirement certificate: who retired what, for whom, why, with which serials."""
        certificate_id = f"CERT-{transaction_id}"
        serials = result.get("serials")
        store.insert_certificate(
            connection,
            id=certificate_id,
            transaction_id=transaction_id,
            account_id=result["from"],
            instrument_id=result["instrument"],
            quantity=result["quantity"],
            beneficiary=beneficiary.strip(),
            purpose=purpose.strip(),
            serials=json.dumps(serials) if serials else None,
            at=at,
        )
        return certificate_id


def _as_sender_for_reversal(account: Account) -> Account:
    """A reversal takes units back out of retirement accounts, so only the status checks apply."""
    if account.type in RETIREMENT_TYPES:
        return Account(
            account.id, account.holder_id, account.holder_kind, AccountType.HOLDING, account.status
        )
    return account


def _insert_instrument(
    connection: Connection, parsed: InstrumentId, cap: int | None, source: str | None, at: str
) -> None:
    """Store a new instrument; CCER units carry serial numbers, allowances and funds do not."""
    vintage = parsed.vintage
    store.insert_instrument(
        connection,
        id=parsed.text,
        kind=parsed.kind.value,
        vintage_first=vintage.first_year if vintage else None,
        vintage_last=vintage.last_year if vintage else None,
        unit=parsed.unit,
        cap=cap,
        issued=0,
        retired=0,
        serialised=parsed.kind is InstrumentKind.CCER,
        next_serial=1,
        source=source,
        created_at=at,
    )


def _instrument_row(connection: Connection, instrument: str) -> Any:
    """A defined instrument, or a refusal naming the unknown or malformed id."""
    row = store.get_instrument(connection, _canonical(instrument))
    if row is None:
        raise Refused(Code.UNKNOWN_INSTRUMENT, f"instrument {instrument!r} is not defined in this registry")
    return row


def _canonical(instrument: str) -> str:
    """The canonical text of an instrument id (refuses malformed ids)."""
    return parse_instrument(instrument).text


def _jsonable(value: object) -> Any:
    """Keep a raw input in the command body exactly as given, for the idempotency hash."""
    return value if isinstance(value, int | str | None) else repr(value)


def _vintage_text(first: int | None, last: int | None) -> str | None:
    if first is None:
        return None
    return str(first) if first == last else f"{first}-{last}"
