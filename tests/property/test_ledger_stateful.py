"""The ledger under random sequences of registry commands, checked against a model after every step.

A Hypothesis state machine drives the registry's use cases (issue, transfer, freeze, pledge,
release, execute pledge, cancel, reverse, and replays of earlier command ids) on a fresh database
per example, and keeps in Python what every balance, hold and supply counter must be. After every
step it checks the rules of the house: no balance below zero, held never above total, cached
balances equal to the model and to a replay of the transfers, debits equal to credits, supply equal
to issued minus retired, a clean audit chain — and that a refused or replayed command changed nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, create_engine, func, select, text

from carbonmarket.audit.service import verify as verify_audit
from carbonmarket.core.actors import LOCAL_OPERATOR
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.db.engine import make_engine
from carbonmarket.db.migrate import upgrade
from carbonmarket.db.tables import (
    balances,
    commands,
    holds,
    instruments,
    registry_transactions,
    serial_blocks,
    transfers,
)
from carbonmarket.ledger.model import MINT_ACCOUNT_ID
from carbonmarket.registry.service import Registry
from pgtest import IN_CI, PG_ADMIN_URL, create_pg_database, drop_pg_database

ISSUANCE = "GOV-ISS"
CANCELLATION = "GOV-CAN"
ENTITIES = ("E1-HOLD", "E2-HOLD", "E3-HOLD", "E4-HOLD")
CCER = "CCER-P0001-2025"
INSTRUMENTS = ("CEA24", "CEA25", CCER)
# Small enough that random issuance reaches it, so `issuance_above_cap` is exercised.
ccer_cap_t = 3_000

# Quantities that must always be refused, with the code each must be refused with.
INVALID_QUANTITIES: dict[Any, Code] = {
    0: Code.QUANTITY_NOT_POSITIVE,
    -1: Code.QUANTITY_NOT_POSITIVE,
    "1.5": Code.QUANTITY_NOT_INTEGER,
    "abc": Code.QUANTITY_NOT_INTEGER,
    10**13: Code.QUANTITY_TOO_LARGE,
}
invalid_quantities = st.sampled_from(list(INVALID_QUANTITIES))

# Which idempotency key (kind, id field) each Registry method uses (rule 4).
KIND = {
    "issue": "registry.issue",
    "transfer": "registry.transfer",
    "cancel": "registry.cancel",
    "freeze": "registry.freeze",
    "pledge": "registry.pledge",
    "release": "registry.release",
    "execute_pledge": "registry.pledge_execute",
    "reverse": "registry.reverse",
}
ID_FIELD = {
    "issue": "command_id",
    "transfer": "command_id",
    "cancel": "command_id",
    "reverse": "command_id",
    "freeze": "hold_id",
    "pledge": "hold_id",
    "release": "hold_id",
    "execute_pledge": "hold_id",
}

Key = tuple[str, str]
# What the model expects of a command: a refusal code, or a function that applies its effect.
Expectation = Code | Callable[[Done], None]


def expected_quantity(value: Any) -> int | Code:
    """What `parse_quantity` must make of a value this machine sends."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10**12:
        return value
    if isinstance(value, str) and value.isdigit() and 0 < int(value) <= 10**12:
        return int(value)
    return INVALID_QUANTITIES[value]


def json_normalised(data: dict[str, Any]) -> dict[str, Any]:
    """A command's result as it comes back from the idempotency table (tuples become lists)."""
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


@dataclass
class ModelHold:
    """A hold as the model sees it."""

    kind: str
    account: str
    instrument: str
    quantity: int
    pledgee: str | None
    status: str = "pending"


@dataclass
class ModelBatch:
    """A completed ledger batch (every registry command makes one leg): what may be reversed."""

    debit: str
    credit: str
    instrument: str
    quantity: int
    is_reversal: bool = False
    reversed: bool = False


@dataclass(frozen=True)
class Logged:
    """A command that succeeded: replaying it must give back exactly this."""

    method: str
    kwargs: dict[str, Any]
    data: dict[str, Any]


class LedgerMachine(RuleBasedStateMachine):
    """Random registry commands against a model of every balance; subclasses choose the database."""

    def __init__(self) -> None:
        super().__init__()
        self.url = self.open_database()
        self.engine: Engine = make_engine(self.url)
        self.registry = Registry(self.engine)
        self.total: dict[Key, int] = {}
        self.held: dict[Key, int] = {}
        self.issued = dict.fromkeys(INSTRUMENTS, 0)
        self.retired = dict.fromkeys(INSTRUMENTS, 0)
        self.holds: dict[str, ModelHold] = {}
        self.batches: dict[str, ModelBatch] = {}
        self.log: dict[tuple[str, str], Logged] = {}
        self.next_number = 0
        try:
            self._set_up_registry()
        except BaseException:
            self.teardown()  # Hypothesis calls teardown only for a machine that was built
            raise

    # --- the database of one example ----------------------------------------------------------

    def open_database(self) -> str:
        """Create and migrate an empty database; return its URL."""
        raise NotImplementedError

    def close_database(self) -> None:
        """Remove the example's database."""
        raise NotImplementedError

    def teardown(self) -> None:
        self.engine.dispose()
        self.close_database()

    def _set_up_registry(self) -> None:
        """Instruments, a government holder with issuance and cancellation accounts, four entities,
        and a first distribution of units so that early steps have something to move."""
        registry = self.registry
        assert all(isinstance(o, Done) for o in registry.define_defaults(LOCAL_OPERATOR))
        assert isinstance(registry.define_instrument(LOCAL_OPERATOR, CCER, ccer_cap_t, "test"), Done)
        self.caps = {row["instrument"]: row["cap"] for row in registry.instruments()}
        assert self.caps[CCER] == ccer_cap_t
        assert isinstance(registry.add_holder(LOCAL_OPERATOR, "GOV", "Ministry", "government"), Done)
        assert isinstance(registry.open_account(LOCAL_OPERATOR, ISSUANCE, "GOV", "issuance"), Done)
        assert isinstance(registry.open_account(LOCAL_OPERATOR, CANCELLATION, "GOV", "cancellation"), Done)
        for number, account in enumerate(ENTITIES, start=1):
            holder = f"ENTITY-{number}"
            assert isinstance(registry.add_holder(LOCAL_OPERATOR, holder, f"Entity {number}", "entity"), Done)
            assert isinstance(registry.open_account(LOCAL_OPERATOR, account, holder, "holding"), Done)
        for instrument in ("CEA24", CCER):
            self._issue(instrument, ISSUANCE, 1_000)
            for account in ENTITIES:
                self._transfer(ISSUANCE, account, instrument, 150)

    # --- the model ----------------------------------------------------------------------------

    def available(self, account: str, instrument: str) -> int:
        key = (account, instrument)
        return self.total.get(key, 0) - self.held.get(key, 0)

    def _move(self, debit: str, credit: str, instrument: str, quantity: int) -> None:
        """Apply one leg to the model, with the supply counters the ledger keeps."""
        if debit == MINT_ACCOUNT_ID:
            self.issued[instrument] += quantity
        else:
            self.total[(debit, instrument)] = self.total.get((debit, instrument), 0) - quantity
        if credit == MINT_ACCOUNT_ID:
            self.issued[instrument] -= quantity
        else:
            self.total[(credit, instrument)] = self.total.get((credit, instrument), 0) + quantity
        if credit == CANCELLATION:
            self.retired[instrument] += quantity
        if debit == CANCELLATION:
            self.retired[instrument] -= quantity

    def _completed(self, batch_id: str, debit: str, credit: str, instrument: str, quantity: int) -> None:
        """A one-leg batch went through: move the units and remember it for reversals."""
        self._move(debit, credit, instrument, quantity)
        self.batches[batch_id] = ModelBatch(debit, credit, instrument, quantity)

    def _new_id(self, prefix: str) -> str:
        self.next_number += 1
        return f"{prefix}{self.next_number}"

    def _snapshot(self) -> dict[str, Any]:
        """Everything a command may change, except the audit log (which records refusals too)."""
        with self.engine.connect() as connection:
            return {
                "balances": sorted(tuple(r) for r in connection.execute(select(balances))),
                "transfers": connection.execute(select(func.count()).select_from(transfers)).scalar_one(),
                "holds": sorted(
                    tuple(r) for r in connection.execute(select(holds.c.id, holds.c.status, holds.c.quantity))
                ),
                "instruments": sorted(
                    tuple(r)
                    for r in connection.execute(
                        select(
                            instruments.c.id,
                            instruments.c.issued,
                            instruments.c.retired,
                            instruments.c.next_serial,
                        )
                    )
                ),
                "serial_blocks": sorted(tuple(r) for r in connection.execute(select(serial_blocks))),
                "commands": connection.execute(select(func.count()).select_from(commands)).scalar_one(),
                "transactions": connection.execute(
                    select(func.count()).select_from(registry_transactions)
                ).scalar_one(),
            }

    def _submit(self, method: str, kwargs: dict[str, Any], expect: Callable[[], Expectation]) -> Outcome:
        """Send one command and check its outcome against the model (idempotency first, as in
        `run_command`); a refusal or a replay must leave the database exactly as it was."""
        key = (KIND[method], kwargs[ID_FIELD[method]])
        logged = self.log.get(key)
        expected = None if logged is not None else expect()
        before = self._snapshot()
        outcome: Outcome = getattr(self.registry, method)(LOCAL_OPERATOR, **kwargs)
        event(f"{method}: {outcome.result if isinstance(outcome, Done) else outcome.code.value}")
        if logged is not None:
            if logged.kwargs == kwargs:
                assert outcome == Done("exists", logged.data), (method, kwargs, outcome)
            else:
                assert isinstance(outcome, Refusal), (method, kwargs, outcome)
                assert outcome.code is Code.EXISTS_WITH_DIFFERENT_FIELDS, outcome
            assert self._snapshot() == before, f"replayed {method} {kwargs} changed the database"
            return outcome
        if isinstance(expected, Code):
            assert isinstance(outcome, Refusal), f"{method} {kwargs}: expected {expected}, got {outcome}"
            assert outcome.code is expected, f"{method} {kwargs}: expected {expected}, got {outcome}"
            assert self._snapshot() == before, f"refused {method} {kwargs} changed the database"
            return outcome
        assert isinstance(outcome, Done), f"{method} {kwargs}: expected success, got {outcome}"
        assert outcome.result == "created", outcome
        assert expected is not None
        expected(outcome)
        self.log[key] = Logged(method, dict(kwargs), json_normalised(outcome.data))
        return outcome

    # --- commands, shared by the rules and the set-up -------------------------------------------

    def _issue(self, instrument: str, target: str, quantity: Any) -> None:
        command_id = self._new_id("iss-")

        def expect() -> Expectation:
            if target != ISSUANCE:
                return Code.ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED
            amount = expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if self.issued[instrument] + amount > self.caps[instrument]:
                return Code.ISSUANCE_ABOVE_CAP

            def effect(done: Done) -> None:
                assert done.data["quantity"] == amount
                self._completed(command_id, MINT_ACCOUNT_ID, target, instrument, amount)
                assert done.data["issued_total"] == self.issued[instrument]

            return effect

        kwargs = {
            "command_id": command_id,
            "instrument": instrument,
            "quantity": quantity,
            "to_account": target,
        }
        self._submit("issue", kwargs, expect)

    def _transfer(self, source: str, target: str, instrument: str, quantity: Any) -> None:
        command_id = self._new_id("trf-")

        def expect() -> Expectation:
            if source == CANCELLATION:
                return Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED
            if source == target:
                return Code.SAME_ACCOUNT
            amount = expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if amount > self.available(source, instrument):
                return Code.INSUFFICIENT_BALANCE
            return lambda _done: self._completed(command_id, source, target, instrument, amount)

        kwargs = {
            "command_id": command_id,
            "from_account": source,
            "to_account": target,
            "instrument": instrument,
            "quantity": quantity,
        }
        self._submit("transfer", kwargs, expect)

    def _quantity_for(self, data: st.DataObject, account: str, instrument: str) -> Any:
        """Mostly amounts the account can afford, often exactly its available balance or one more,
        sometimes far more than any balance, sometimes input that is not a valid quantity at all."""
        available = self.available(account, instrument)
        affordable = st.integers(1, available) if available > 0 else st.just(1)
        return data.draw(
            st.one_of(
                affordable,
                affordable.map(str),
                st.sampled_from([available, available + 1]).filter(lambda q: q > 0),
                st.integers(available + 1, 10**12),
                invalid_quantities,
            ),
            label="quantity",
        )

    # --- rules ----------------------------------------------------------------------------------

    @rule(
        instrument=st.sampled_from(INSTRUMENTS),
        account=st.sampled_from((ISSUANCE, ISSUANCE, ISSUANCE, ENTITIES[0])),
        quantity=st.one_of(st.integers(1, 2_000), st.just(10**12), invalid_quantities),
    )
    def issue_units(self, instrument: str, account: str, quantity: Any) -> None:
        self._issue(instrument, account, quantity)

    @rule(
        data=st.data(),
        source=st.sampled_from((ISSUANCE, *ENTITIES, CANCELLATION)),
        destination=st.sampled_from((ISSUANCE, *ENTITIES)),
        instrument=st.sampled_from(INSTRUMENTS),
    )
    def transfer_units(self, data: st.DataObject, source: str, destination: str, instrument: str) -> None:
        self._transfer(source, destination, instrument, self._quantity_for(data, source, instrument))

    @rule(
        data=st.data(),
        account=st.sampled_from((ISSUANCE, *ENTITIES, CANCELLATION)),
        instrument=st.sampled_from(INSTRUMENTS),
    )
    def freeze_units(self, data: st.DataObject, account: str, instrument: str) -> None:
        hold_id = self._new_id("frz-")
        quantity = self._quantity_for(data, account, instrument)

        def expect() -> Expectation:
            if account == CANCELLATION:
                return Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED
            amount = expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if amount > self.available(account, instrument):
                return Code.INSUFFICIENT_BALANCE

            def effect(_done: Done) -> None:
                key = (account, instrument)
                self.held[key] = self.held.get(key, 0) + amount
                self.holds[hold_id] = ModelHold("freeze", account, instrument, amount, None)

            return effect

        kwargs = {
            "hold_id": hold_id,
            "account_id": account,
            "instrument": instrument,
            "quantity": quantity,
            "reason": "court order",
        }
        self._submit("freeze", kwargs, expect)

    @rule(
        data=st.data(),
        account=st.sampled_from((ISSUANCE, *ENTITIES)),
        pledgee=st.sampled_from(ENTITIES),
        instrument=st.sampled_from(INSTRUMENTS),
    )
    def pledge_units(self, data: st.DataObject, account: str, pledgee: str, instrument: str) -> None:
        hold_id = self._new_id("plg-")
        quantity = self._quantity_for(data, account, instrument)

        def expect() -> Expectation:
            if account == pledgee:
                return Code.SAME_ACCOUNT
            amount = expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if amount > self.available(account, instrument):
                return Code.INSUFFICIENT_BALANCE

            def effect(_done: Done) -> None:
                key = (account, instrument)
                self.held[key] = self.held.get(key, 0) + amount
                self.holds[hold_id] = ModelHold("pledge", account, instrument, amount, pledgee)

            return effect

        kwargs = {
            "hold_id": hold_id,
            "account_id": account,
            "instrument": instrument,
            "quantity": quantity,
            "pledgee": pledgee,
        }
        self._submit("pledge", kwargs, expect)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release_a_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)), label="hold")
        hold = self.holds[hold_id]

        def expect() -> Expectation:
            if hold.status != "pending":
                return Code.HOLD_NOT_PENDING

            def effect(done: Done) -> None:
                assert done.data["released"] == hold.quantity
                self.held[(hold.account, hold.instrument)] -= hold.quantity
                hold.status = "voided"

            return effect

        self._submit("release", {"hold_id": hold_id, "reason": "order lifted"}, expect)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def execute_a_pledge(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)), label="hold")
        hold = self.holds[hold_id]
        quantity = data.draw(
            st.one_of(
                st.none(),
                st.integers(1, hold.quantity),
                st.just(hold.quantity + 1),
                invalid_quantities,
            ),
            label="quantity",
        )

        def expect() -> Expectation:
            if hold.status != "pending":
                return Code.HOLD_NOT_PENDING
            if hold.kind != "pledge":
                return Code.HOLD_NOT_FOUND
            amount = hold.quantity if quantity is None else expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if amount > hold.quantity:
                return Code.POST_QUANTITY_EXCEEDS_HOLD

            def effect(done: Done) -> None:
                assert done.data["quantity"] == amount
                assert done.data["released"] == hold.quantity - amount
                assert hold.pledgee is not None
                self.held[(hold.account, hold.instrument)] -= hold.quantity
                self._completed(done.data["transaction"], hold.account, hold.pledgee, hold.instrument, amount)
                hold.status = "posted"

            return effect

        self._submit("execute_pledge", {"hold_id": hold_id, "quantity": quantity}, expect)

    @rule(
        data=st.data(),
        source=st.sampled_from((ISSUANCE, *ENTITIES, CANCELLATION)),
        instrument=st.sampled_from(INSTRUMENTS),
    )
    def cancel_units(self, data: st.DataObject, source: str, instrument: str) -> None:
        command_id = self._new_id("can-")
        quantity = self._quantity_for(data, source, instrument)

        def expect() -> Expectation:
            if source == CANCELLATION:
                return Code.TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED
            amount = expected_quantity(quantity)
            if isinstance(amount, Code):
                return amount
            if amount > self.available(source, instrument):
                return Code.INSUFFICIENT_BALANCE

            def effect(done: Done) -> None:
                assert done.data["certificate"] == f"CERT-{command_id}"
                self._completed(command_id, source, CANCELLATION, instrument, amount)

            return effect

        kwargs = {
            "command_id": command_id,
            "from_account": source,
            "instrument": instrument,
            "quantity": quantity,
            "to_account": CANCELLATION,
            "beneficiary": "Example Ltd",
            "purpose": "offsetting 2025 travel",
        }
        self._submit("cancel", kwargs, expect)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def reverse_a_completed_transaction(self, data: st.DataObject) -> None:
        # Mostly transactions that can still be reversed; sometimes anything, reversals and
        # unknown ids included, which must be refused.
        reversible = sorted(
            b for b, batch in self.batches.items() if not (batch.is_reversal or batch.reversed)
        )
        anything = st.sampled_from([*sorted(self.batches), "no-such-transaction"])
        original = data.draw(
            st.sampled_from(reversible) | anything if reversible else anything, label="original"
        )
        command_id = self._new_id("rev-")

        def expect() -> Expectation:
            batch = self.batches.get(original)
            if batch is None:
                return Code.TRANSFER_NOT_FOUND
            if batch.is_reversal:
                return Code.NOT_REVERSIBLE
            if batch.reversed:
                return Code.ALREADY_REVERSED
            if batch.credit != MINT_ACCOUNT_ID and batch.quantity > self.available(
                batch.credit, batch.instrument
            ):
                return Code.INSUFFICIENT_BALANCE

            def effect(done: Done) -> None:
                assert done.data["legs"] == 1
                self._move(batch.credit, batch.debit, batch.instrument, batch.quantity)
                batch.reversed = True
                self.batches[command_id] = ModelBatch(
                    batch.credit, batch.debit, batch.instrument, batch.quantity, is_reversal=True
                )

            return effect

        kwargs = {"command_id": command_id, "original": original, "reason": "entered in error"}
        self._submit("reverse", kwargs, expect)

    @precondition(lambda self: self.log)
    @rule(data=st.data(), same_body=st.booleans())
    def replay_a_previous_command_id(self, data: st.DataObject, same_body: bool) -> None:
        logged = data.draw(st.sampled_from(list(self.log.values())), label="replayed")
        kwargs = dict(logged.kwargs)
        if not same_body:
            kwargs = _with_a_different_body(logged.method, kwargs)
        self._submit(logged.method, kwargs, lambda: pytest.fail("a logged command is never run afresh"))

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def no_balance_is_negative_and_held_never_exceeds_total(self) -> None:
        with self.engine.connect() as connection:
            rows = list(connection.execute(select(balances)))
        for row in rows:
            assert row.total >= 0, row
            assert 0 <= row.held <= row.total, row

    @invariant()
    def cached_balances_equal_the_model(self) -> None:
        with self.engine.connect() as connection:
            rows = list(connection.execute(select(balances)))
        cached_total = {(r.account_id, r.instrument_id): r.total for r in rows if r.total}
        cached_held = {(r.account_id, r.instrument_id): r.held for r in rows if r.held}
        assert cached_total == {k: v for k, v in self.total.items() if v}
        assert cached_held == {k: v for k, v in self.held.items() if v}

    @invariant()
    def supply_of_each_instrument_is_issued_minus_retired(self) -> None:
        listed = {row["instrument"]: row for row in self.registry.instruments()}
        for instrument in INSTRUMENTS:
            row = listed[instrument]
            assert row["issued"] == self.issued[instrument], instrument
            assert row["retired"] == self.retired[instrument], instrument
            in_circulation = sum(
                v for (account, i), v in self.total.items() if i == instrument and account != CANCELLATION
            )
            assert row["supply"] == row["issued"] - row["retired"] == in_circulation, instrument
            assert row["issued"] <= self.caps[instrument]

    @invariant()
    def reconciliation_is_clean_and_debits_equal_credits(self) -> None:
        report = self.registry.reconcile()
        assert report.ok, report.as_json()
        assert report.as_json()["debits_equal_credits"] is True
        assert report.mismatches == []
        for instrument in INSTRUMENTS:
            assert report.supply[instrument]["supply"] == self.issued[instrument] - self.retired[instrument]

    @invariant()
    def audit_chain_is_intact(self) -> None:
        check = verify_audit(self.engine)
        assert check.ok, check


def _with_a_different_body(method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same command id with one field changed."""
    if method in ("issue", "transfer", "pledge"):
        amount = expected_quantity(kwargs["quantity"])
        assert isinstance(amount, int)
        return {**kwargs, "quantity": amount + 1}
    if method == "execute_pledge":
        return {**kwargs, "quantity": 1 if kwargs["quantity"] is None else None}
    if method == "cancel":
        return {**kwargs, "purpose": kwargs["purpose"] + " (again)"}
    if method in ("freeze", "release", "reverse"):
        return {**kwargs, "reason": kwargs["reason"] + " (again)"}
    raise AssertionError(f"no different body defined for {method}")


class SqliteLedgerMachine(LedgerMachine):
    """The machine on a fresh SQLite file per example."""

    def open_database(self) -> str:
        self.directory = Path(tempfile.mkdtemp(prefix="cm-stateful-"))
        url = f"sqlite:///{self.directory / 'carbonmarket.db'}"
        upgrade(url)
        return url

    def close_database(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresLedgerMachine(LedgerMachine):
    """The machine on a fresh PostgreSQL database per example."""

    def open_database(self) -> str:
        url = create_pg_database("cmstateful")
        upgrade(url)
        return url

    def close_database(self) -> None:
        drop_pg_database(self.url)


def _pg_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _require_pg() -> None:
    """Skip when PostgreSQL is unreachable, but fail in CI, where it must never be skipped."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but is not reachable at " + PG_ADMIN_URL)
        pytest.skip("PostgreSQL not reachable at " + PG_ADMIN_URL)


def test_ledger_keeps_every_invariant_under_random_commands_on_sqlite() -> None:
    run_state_machine_as_test(
        SqliteLedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.postgres
def test_ledger_keeps_every_invariant_under_random_commands_on_postgresql() -> None:
    _require_pg()
    run_state_machine_as_test(
        PostgresLedgerMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
