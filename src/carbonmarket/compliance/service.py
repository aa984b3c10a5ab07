"""Compliance use cases: open a year, surrender, mandatory compliance, close with penalties, banking,
status, risk and the public list. Each write is one command (`run_command`): checked, applied in one
transaction with its ledger legs (`registry.postings`), audited.

Who acts (docs/markets-contract.md): the regulator opens and closes a year and converts banked
allowances; an entity's representative (the initiate right on `<entity>-H`) surrenders and applies
for banking; a provincial authority (assigned to a province here) orders mandatory compliance and
watches the risk of the entities of its province (the roster's entity rows carry the province).
The local operator at the CLI may do everything.

Neighbours that may not be installed yet are read lazily: CCER facts from `voluntary.facts`, the
Art. 24 price from `exchange.marketdata`; both are injectable for tests and what-ifs.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from carbonmarket.compliance import store
from carbonmarket.compliance.model import (
    CcerFacts,
    Position,
    Rate,
    RiskLevel,
    Rules,
    Status,
    SurrenderMode,
    YearRule,
    YearState,
    banking_limit,
    check_banking_quantity,
    check_ccer,
    check_multiple,
    check_price,
    check_surrender,
    check_vintage,
    days_to_deadline,
    items_per_batch_max,
    national_rate,
    offset_cap,
    parse_items,
    penalty,
    plan_differentiated,
    plan_mandatory,
    risk_of,
    rules,
    status_of,
    vintage_order,
)
from carbonmarket.core.actors import Actor, Permission, Role, require_right, require_role
from carbonmarket.core.clock import Clock, SystemClock
from carbonmarket.core.ids import check_id, derived_id
from carbonmarket.core.instruments import FUNDS_ID, InstrumentKind, parse_instrument
from carbonmarket.core.results import Code, Outcome, Refused
from carbonmarket.core.units import parse_quantity
from carbonmarket.db.command import run_command, run_read
from carbonmarket.ledger import store as ledger_store
from carbonmarket.mrv.verification import store as verification_store
from carbonmarket.registry import postings
from carbonmarket.registry.postings import Authority, Move, holding_account

REGULATORS = {Role.REGULATOR}
OVERSEERS = {Role.REGULATOR, Role.REGISTRY_OPERATOR}
ORDERING = {Role.REGULATOR, Role.REGISTRY_OPERATOR, Role.PROVINCIAL_AUTHORITY}
SURRENDER_ACCOUNT = "CN-SURRENDER"
DELETION_ACCOUNT = "CN-DELETION"
ISSUANCE_ACCOUNT = "CN-ISSUANCE"
# Ledger batches are split so one statement's parameters stay under SQLite's 32,766 and
# PostgreSQL's 65,535 (a move locks two balance rows, two parameters each); one command still
# commits every sub-batch together or none.
moves_per_posting_max = 5_000
# Lists in answers (non-compliant entities at close, alerts, dashboards) are cut here and say so.
listed_max = 1_000
page_size_max = 5_000
province_length_max = 64


def trading_account(entity_id: str) -> str:
    """An entity's trading account, where its exchange funds sit."""
    return f"{entity_id}-T"


def _transaction_id(prefix: str, command_id: str) -> str:
    """A ledger batch id of our own per command: readable when short enough, derived otherwise.

    It starts with '@', which no client's id can (registry.postings.internal_id), so a client can
    never take the id of a surrender or a conversion before it happens.
    """
    text = f"@{prefix}-{command_id}"
    return text if len(text) <= 60 else "@" + derived_id(prefix, command_id)


def _optional_module(name: str) -> Any:
    """A neighbour's module if it is installed yet, else None (parts of issues 4-6 land separately)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name is not None and name.startswith(missing.name):
            return None
        raise


class FactsSource(Protocol):
    """The CCER eligibility inputs of one instrument (the voluntary part's CreditFacts)."""

    def facts(self, connection: Connection, instrument_id: str) -> CcerFacts | None:
        """Project registration date, sector and Article 6 flag, or None when unknown."""
        ...


class VoluntaryFacts:
    """`voluntary.facts.credit_facts` when that part exists; no facts (so no CCER counts) otherwise."""

    def facts(self, connection: Connection, instrument_id: str) -> CcerFacts | None:
        """Translate the voluntary part's CreditFacts into the fields the offset rules read."""
        module = _optional_module("carbonmarket.voluntary.facts")
        if module is None:
            return None
        found = module.credit_facts(connection, instrument_id)
        if found is None:
            return None
        registered = getattr(found, "registered_on", None)
        if isinstance(registered, str):
            registered = date.fromisoformat(registered[:10])
        article6 = getattr(found, "article6", None)
        if article6 is None:
            article6 = getattr(found, "article6_authorised", False)
        sector = getattr(found, "sector", None)
        return CcerFacts(
            registered_on=registered if isinstance(registered, date) else None,
            sector=None if sector is None else str(getattr(sector, "value", sector)),
            article6_authorised=bool(article6),
            in_mandatory_sector=bool(getattr(found, "in_mandatory_sector", False)),
        )


class PriceSource(Protocol):
    """The market's monthly average price (fen per tonne), for Art. 24 and the risk monitor."""

    def monthly_average_price_fen(self, connection: Connection, year: int, month: int) -> int | None:
        """Volume-weighted average of the month's trades, or None without trades or an exchange."""
        ...


class ExchangePrices:
    """`exchange.marketdata.monthly_average_price_fen` when the exchange part exists."""

    def monthly_average_price_fen(self, connection: Connection, year: int, month: int) -> int | None:
        """The exchange's figure, or None before the exchange exists."""
        module = _optional_module("carbonmarket.exchange.marketdata")
        if module is None:
            return None
        value = module.monthly_average_price_fen(connection, year, month)
        return None if value is None else int(value)


@dataclass(frozen=True)
class Line:
    """One surrender line: units of one instrument from one account for one entity."""

    entity_id: str
    from_account: str
    instrument: str
    quantity: int


class Compliance:
    """The compliance cycle over one database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        rules_: Rules | None = None,
        facts: FactsSource | None = None,
        prices: PriceSource | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.rules = rules_ or rules()
        self.facts = facts or VoluntaryFacts()
        self.prices = prices or ExchangePrices()

    # --- who acts for which province ----------------------------------------------------------------

    def assign_authority(self, actor: Actor, username: str, province: str) -> Outcome:
        """Let a provincial authority user act for one province (its entities, by the roster)."""
        body = {"username": username, "province": province}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "assigning a provincial authority")
            from carbonmarket.identity import store as identity_store

            user = identity_store.get_user(connection, username)
            if user is None:
                raise Refused(Code.UNKNOWN_USER, f"user {username!r} does not exist")
            if user.role != Role.PROVINCIAL_AUTHORITY.value:
                raise Refused(Code.INVALID_ROLE, f"{username!r} is a {user.role}, not a provincial_authority")
            checked = _check_province(province)
            before = store.set_authority(connection, username, checked, actor.username, at)
            return {"username": username, "province": checked, "previous": before}

        command_id = derived_id("authority", username, province)
        return run_command(self.engine, self.clock, actor, "compliance.authority", command_id, body, work)

    # --- the year ----------------------------------------------------------------------------------

    def open_year(self, actor: Actor, command_id: str, year: int) -> Outcome:
        """Open a year for surrender; obligations = the year's verified emissions (mrv-contract.md)."""
        body = {"year": year}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "opening a compliance year")
            rule = self.rules.year(year)
            if store.get_year(connection, year, lock=True) is not None:
                raise Refused(Code.COMPLIANCE_YEAR_ALREADY_OPEN, f"compliance year {year} was already opened")
            store.insert_year(connection, year, actor.username, at)
            added = _catch_up_obligations(connection, year, at)
            return {
                "year": year,
                "status": YearState.OPEN.value,
                "deadline": rule.deadline.isoformat(),
                "vintages": list(rule.vintages),
                "entities": added["entities"],
                "obligation_t": added["obligation_t"],
            }

        return run_command(self.engine, self.clock, actor, "compliance.open", command_id, body, work)

    # --- surrender ---------------------------------------------------------------------------------

    def surrender(
        self, actor: Actor, command_id: str, entity_id: str, year: int, items: Sequence[Sequence[Any]]
    ) -> Outcome:
        """An entity surrenders allowances and CCERs for a year (A §六; M Art. 29: CCER ≤ 5%)."""
        body = {"entity_id": entity_id, "year": year, "items": [list(item) for item in items]}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(entity_id, what="entity id")
            account = holding_account(entity_id)
            if not actor.superuser:
                require_right(actor, account, Permission.INITIATE, f"surrendering for {entity_id}")
            lines = [Line(entity_id, account, i, q) for i, q in parse_items(items)]
            done = self._surrender(connection, actor, at, year, command_id, lines, SurrenderMode.ENTITY)
            return {"entity_id": entity_id, **done}

        return run_command(self.engine, self.clock, actor, "compliance.surrender", command_id, body, work)

    def surrender_batch(
        self, actor: Actor, command_id: str, year: int, lines: Sequence[Sequence[Any]]
    ) -> Outcome:
        """Many entities' surrenders as one command, all or none: [(entity, instrument, quantity), ...]."""
        body = {"year": year, "lines": len(lines), "digest": derived_id("lines", *map(tuple, lines))}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            if not lines or len(lines) > items_per_batch_max:
                raise Refused(
                    Code.QUANTITY_TOO_LARGE if lines else Code.INVALID_REQUEST,
                    f"a batch carries 1 to {items_per_batch_max} surrender lines, not {len(lines)}",
                )
            parsed: list[Line] = []
            seen: set[tuple[str, str]] = set()
            for line in lines:
                if len(line) != 3:
                    raise Refused(
                        Code.INVALID_REQUEST, f"a batch line is (entity, instrument, quantity): {line!r}"
                    )
                entity_id = check_id(str(line[0]), what="entity id")
                instrument = parse_instrument(str(line[1])).text
                if (entity_id, instrument) in seen:
                    raise Refused(
                        Code.INVALID_REQUEST, f"{entity_id} {instrument} appears twice in the batch"
                    )
                seen.add((entity_id, instrument))
                account = holding_account(entity_id)
                if not actor.superuser:
                    require_right(actor, account, Permission.INITIATE, f"surrendering for {entity_id}")
                parsed.append(Line(entity_id, account, instrument, parse_quantity(line[2])))
            return self._surrender(connection, actor, at, year, command_id, parsed, SurrenderMode.ENTITY)

        return run_command(
            self.engine, self.clock, actor, "compliance.surrender_batch", command_id, body, work
        )

    def _surrender(
        self,
        connection: Connection,
        actor: Actor,
        at: str,
        year: int,
        command_id: str,
        lines: Sequence[Line],
        mode: SurrenderMode,
        releases: Sequence[Move] = (),
    ) -> dict[str, Any]:
        """Check every line against the year's rules and the entities' positions, then move the units."""
        rule = self.rules.year(year)
        _require_open(connection, year)
        now = self.clock.now()
        kinds = {line.instrument: self._check_unit(connection, rule, line.instrument, now) for line in lines}
        late = now >= self.rules.cutoff(year)
        if late and mode is SurrenderMode.ENTITY:
            raise Refused(
                Code.COMPLIANCE_DEADLINE_PASSED,
                f"the deadline for {year} was {rule.deadline} (A §六); surrenders are closed, "
                "what is still owed goes to mandatory compliance and Art. 24 penalties",
                deadline=rule.deadline.isoformat(),
            )
        positions, late_before = _positions(connection, year, sorted({line.entity_id for line in lines}), at)
        per_entity: dict[str, list[Line]] = defaultdict(list)
        for line in lines:
            per_entity[line.entity_id].append(line)
        totals: list[dict[str, Any]] = []
        for entity_id, entity_lines in per_entity.items():
            ccer = sum(ln.quantity for ln in entity_lines if kinds[ln.instrument] is InstrumentKind.CCER)
            allowances = sum(ln.quantity for ln in entity_lines) - ccer
            try:
                after = check_surrender(
                    positions[entity_id], allowances, ccer, self.rules.offsets.ratio_percent
                )
            except Refused as refused:
                # Name the entity: in a batch the words must say whose line failed.
                raise Refused(
                    refused.refusal.code,
                    f"{entity_id} {year}: {refused.refusal.message}",
                    **refused.refusal.details,
                ) from None
            positions[entity_id] = after
            totals.append(
                {
                    "k_year": year,
                    "k_entity": entity_id,
                    "v_surrendered": after.surrendered,
                    "v_ccer": after.ccer,
                    "v_late": late or late_before[entity_id],
                    "v_at": at,
                }
            )
        transaction = _transaction_id("CS" if mode is SurrenderMode.ENTITY else "CM", command_id)
        type_ = "surrender" if mode is SurrenderMode.ENTITY else "mandatory_surrender"
        authority = Authority.HOLDER if mode is SurrenderMode.ENTITY else Authority.ORDER
        moves = [Move(ln.from_account, SURRENDER_ACCOUNT, ln.instrument, ln.quantity) for ln in lines]
        batches = _post(connection, actor, transaction, type_, moves, at, authority)
        if releases:
            batches += _post(
                connection, actor, _transaction_id("CR", command_id), "release", releases, at, Authority.ORDER
            )
        store.insert_surrenders(
            connection,
            [
                {
                    "year": year,
                    "entity_id": ln.entity_id,
                    "instrument_id": ln.instrument,
                    "kind": kinds[ln.instrument].value,
                    "quantity_t": ln.quantity,
                    "mode": mode.value,
                    "from_account": ln.from_account,
                    "transaction_id": transaction,
                    "after_deadline": late,
                    "actor": actor.username,
                    "at": at,
                }
                for ln in lines
            ],
        )
        store.set_totals(connection, totals)
        single = len(per_entity) == 1
        result: dict[str, Any] = {
            "year": year,
            "transaction": transaction,
            "batches": batches,
            "entities": len(per_entity),
            "surrendered_t": sum(ln.quantity for ln in lines),
            "after_deadline": late,
        }
        if single:
            position = next(iter(positions.values()))
            result.update(
                {
                    "lines": [{"instrument": ln.instrument, "quantity": ln.quantity} for ln in lines],
                    "obligation_t": position.obligation,
                    "total_surrendered_t": position.surrendered,
                    "ccer_t": position.ccer,
                    "owed_t": position.owed,
                    "status": position.status.value,
                }
            )
        return result

    def _check_unit(
        self, connection: Connection, rule: YearRule, instrument: str, now: datetime
    ) -> InstrumentKind:
        """The unit's family, once it is shown to settle the year (vintage rule or CCER rules)."""
        parsed = parse_instrument(instrument)
        if parsed.kind is InstrumentKind.ALLOWANCE:
            check_vintage(rule, parsed)
        elif parsed.kind is InstrumentKind.CCER:
            on = (now + timedelta(hours=self.rules.deadline_offset_hours)).date()
            check_ccer(self.rules.offsets, rule, parsed.text, self.facts.facts(connection, parsed.text), on)
        else:
            raise Refused(
                Code.COMPLIANCE_NOT_A_COMPLIANCE_UNIT,
                f"{instrument} is not a carbon unit; only allowances and CCERs settle an obligation",
            )
        return parsed.kind

    # --- mandatory compliance ------------------------------------------------------------------------

    def mandatory(
        self,
        actor: Actor,
        command_id: str,
        entity_id: str,
        year: int,
        source_account: str | None = None,
        held: object | None = None,
    ) -> Outcome:
        """On an authority's order the registry surrenders for an entity what it holds, up to what it owes.

        With `source_account` (a provincial account holding `held` t for the entity: differentiated
        allocation, A §五(四)) the rest of `held` is released to the entity afterwards (vector 9).
        """
        body = {"entity_id": entity_id, "year": year, "source": source_account, "held": held}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, ORDERING, "ordering mandatory compliance")
            rule = self.rules.year(year)
            _require_open(connection, year)
            position = _positions(connection, year, [entity_id], at)[0][entity_id]
            self._require_province(connection, actor, year, entity_id)
            if position.owed == 0:
                raise Refused(Code.COMPLIANCE_NOTHING_OWED, f"{entity_id} owes nothing for {year}")
            if source_account is None:
                return self._mandatory_from_holdings(
                    connection, actor, at, rule, command_id, entity_id, position
                )
            return self._differentiated(
                connection, actor, at, rule, command_id, entity_id, position, source_account, held
            )

        return run_command(self.engine, self.clock, actor, "compliance.mandatory", command_id, body, work)

    def _mandatory_from_holdings(
        self,
        connection: Connection,
        actor: Actor,
        at: str,
        rule: YearRule,
        command_id: str,
        entity_id: str,
        position: Position,
    ) -> dict[str, Any]:
        account = holding_account(entity_id)
        plan = plan_mandatory(position.owed, _eligible_available(connection, rule, [account])[account])
        if not plan:
            raise Refused(
                Code.COMPLIANCE_NOTHING_TO_SURRENDER,
                f"{account} holds no available allowance of {', '.join(rule.vintages)}; "
                f"{position.owed} t is still owed for {rule.year}",
            )
        lines = [Line(entity_id, account, instrument, quantity) for instrument, quantity in plan]
        done = self._surrender(connection, actor, at, rule.year, command_id, lines, SurrenderMode.MANDATORY)
        return {"entity_id": entity_id, "released_t": 0, "still_owed_t": done["owed_t"], **done}

    def _differentiated(
        self,
        connection: Connection,
        actor: Actor,
        at: str,
        rule: YearRule,
        command_id: str,
        entity_id: str,
        position: Position,
        source_account: str,
        held: object | None,
    ) -> dict[str, Any]:
        """A §五(四): allowances held in a provincial account are surrendered, the rest released."""
        quantity = parse_quantity(held, what="allowances held for the entity")
        available = _eligible_available(connection, rule, [source_account])[source_account]
        if quantity > sum(q for _, q in available):
            raise Refused(
                Code.COMPLIANCE_HELD_ABOVE_BALANCE,
                f"{source_account} has {sum(q for _, q in available)} t of {', '.join(rule.vintages)} "
                f"available, less than the {quantity} t said to be held for {entity_id}",
            )
        split = plan_differentiated(position.owed, quantity)
        units = plan_mandatory(quantity, available)
        to_surrender = plan_mandatory(split.surrendered, units)
        surrendered_of = dict(to_surrender)
        releases = [
            Move(
                source_account, holding_account(entity_id), instrument, q - surrendered_of.get(instrument, 0)
            )
            for instrument, q in units
            if q - surrendered_of.get(instrument, 0) > 0
        ]
        lines = [Line(entity_id, source_account, instrument, q) for instrument, q in to_surrender]
        done = self._surrender(
            connection, actor, at, rule.year, command_id, lines, SurrenderMode.DIFFERENTIATED, releases
        )
        return {
            "entity_id": entity_id,
            "released_t": split.released,
            "still_owed_t": split.still_owed,
            **done,
        }

    def mandatory_province(self, actor: Actor, command_id: str, province: str, year: int) -> Outcome:
        """One order for a whole province: every entity that still owes surrenders what it holds."""
        body = {"province": province, "year": year}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, ORDERING, "ordering mandatory compliance")
            rule = self.rules.year(year)
            _require_open(connection, year)
            checked = _check_province(province)
            scope = _province_scope(connection, actor)
            if scope is not None and scope != checked:
                raise Refused(
                    Code.COMPLIANCE_OUT_OF_PROVINCE, f"{actor.username!r} acts for {scope}, not {checked}"
                )
            owing = [
                r
                for r in store.obligations_of_year(connection, year, province=checked)
                if r.surrendered_t < r.obligation_t
            ]
            accounts = [holding_account(r.entity_id) for r in owing]
            available = _eligible_available(connection, rule, accounts)
            lines: list[Line] = []
            skipped: list[str] = []
            for row in owing:
                account = holding_account(row.entity_id)
                plan = plan_mandatory(row.obligation_t - row.surrendered_t, available[account])
                if not plan:
                    skipped.append(row.entity_id)
                lines += [Line(row.entity_id, account, instrument, q) for instrument, q in plan]
            if not lines:
                raise Refused(
                    Code.COMPLIANCE_NOTHING_TO_SURRENDER,
                    f"no entity of {checked} that owes for {year} holds an available eligible allowance",
                )
            done = self._surrender(connection, actor, at, year, command_id, lines, SurrenderMode.MANDATORY)
            return {
                "province": checked,
                **done,
                "owing_entities": len(owing),
                "nothing_held": skipped[:listed_max],
            }

        return run_command(
            self.engine, self.clock, actor, "compliance.mandatory_province", command_id, body, work
        )

    # --- close ---------------------------------------------------------------------------------------

    def close_year(
        self,
        actor: Actor,
        command_id: str,
        year: int,
        price_fen: int | None = None,
        multiple: int | None = None,
    ) -> Outcome:
        """Freeze the year: results, Art. 24 penalties (shortfall × price × multiple), cuts, the list."""
        body = {"year": year, "price_fen": price_fen, "multiple": multiple}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "closing a compliance year")
            rule = self.rules.year(year)
            _require_open(connection, year, lock=True)
            if self.clock.now() < self.rules.cutoff(year):
                raise Refused(
                    Code.COMPLIANCE_DEADLINE_NOT_PASSED,
                    f"{year} can be closed once its deadline {rule.deadline} has passed",
                )
            chosen = check_multiple(
                self.rules.penalty, self.rules.penalty.multiple_min if multiple is None else multiple
            )
            _catch_up_obligations(connection, year, at)
            rows = store.obligations_of_year(connection, year)
            short = any(r.surrendered_t < r.obligation_t for r in rows)
            price, source = self._penalty_price(connection, rule, price_fen, short)
            results = [_result_row(self.rules, year, r, price, chosen) for r in rows]
            store.insert_results(connection, results)
            rate = national_rate(Position(r.obligation_t, r.surrendered_t, r.ccer_t) for r in rows)
            store.close_year(
                connection,
                year,
                closed_by=actor.username,
                closed_at=at,
                price_fen=price,
                price_source=source,
                multiple=chosen,
                entities=rate.entities,
                entities_met=rate.entities_met,
                obligation_t=rate.obligation,
                surrendered_t=rate.surrendered,
            )
            failing = [r for r in results if r["shortfall_t"] > 0]
            return {
                "year": year,
                "status": YearState.CLOSED.value,
                **rate.as_json(),
                "price_fen": price,
                "price_source": source,
                "multiple": chosen,
                "fines_fen": sum(r["fine_fen"] or 0 for r in failing),
                "allocation_cut_t": sum(r["allocation_cut_t"] for r in failing),
                "non_compliant": [_penalty_json(r) for r in failing[:listed_max]],
                "non_compliant_listed": min(len(failing), listed_max),
            }

        return run_command(self.engine, self.clock, actor, "compliance.close", command_id, body, work)

    def _penalty_price(
        self, connection: Connection, rule: YearRule, given: int | None, needed: bool
    ) -> tuple[int | None, str | None]:
        """Art. 24's price: given, else the exchange's average of the month before the deadline."""
        if given is not None:
            return check_price(given, "the penalty price"), "given"
        found = self.prices.monthly_average_price_fen(connection, *rule.penalty_price_month)
        if found is not None:
            return check_price(found, "the exchange's monthly average"), "exchange"
        if needed:
            year_, month = rule.penalty_price_month
            raise Refused(
                Code.COMPLIANCE_PRICE_REQUIRED,
                f"some entities are short for {rule.year} and the exchange has no average price for "
                f"{year_}-{month:02d} (R Art. 24); give the price in fen per tonne",
            )
        return None, None

    # --- banking -------------------------------------------------------------------------------------

    def banking_limit(self, actor: Actor, entity_id: str) -> dict[str, Any]:
        """T for an entity now (A 附5): 10,000 t + 1.5 × net sold, at most its old-vintage holdings."""

        def read(connection: Connection) -> dict[str, Any]:
            self._require_view(connection, actor, entity_id)
            limit, banked = self._limit(connection, entity_id)
            eligible, reason = self._banking_eligibility(connection, entity_id)
            return {
                "entity_id": entity_id,
                "eligible": eligible,
                "reason": reason,
                "net_sold_t": limit.net_sold,
                "formula_t": limit.formula_t,
                "holdings_t": limit.holdings_t,
                "limit_t": limit.limit_t,
                "applied_t": banked,
                "room_t": max(limit.limit_t - banked, 0),
                "source": self.rules.banking.source,
            }

        return dict(run_read(self.engine, read))

    def apply_banking(self, actor: Actor, application_id: str, entity_id: str, quantity: object) -> Outcome:
        """An entity applies to convert old vintages into the new one, within T (A 附5; vector 6)."""
        body = {"entity_id": entity_id, "quantity": str(quantity)}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            check_id(entity_id, what="entity id")
            if not (actor.superuser or actor.role is Role.REGULATOR):
                require_right(actor, holding_account(entity_id), Permission.INITIATE, "applying for banking")
            amount = parse_quantity(quantity)
            rule = self.rules.banking
            today = _china_date(self.clock.now(), self.rules.deadline_offset_hours)
            if today > rule.applications_until:
                raise Refused(
                    Code.COMPLIANCE_BANKING_WINDOW_CLOSED,
                    f"banking applications closed on {rule.applications_until} (A 附5)",
                )
            eligible, reason = self._banking_eligibility(connection, entity_id)
            if not eligible:
                raise Refused(
                    Code.COMPLIANCE_BANKING_NOT_ELIGIBLE, f"{entity_id} may not bank: {reason} (A 附5)"
                )
            limit, banked = self._limit(connection, entity_id)
            check_banking_quantity(limit, banked, amount)
            store.insert_application(
                connection,
                id=application_id,
                entity_id=entity_id,
                status="applied",
                quantity_t=amount,
                limit_t=limit.limit_t,
                formula_t=limit.formula_t,
                net_sold_t=limit.net_sold,
                holdings_t=limit.holdings_t,
                applied_by=actor.username,
                applied_at=at,
            )
            return {
                "application": application_id,
                "entity_id": entity_id,
                "status": "applied",
                "quantity_t": amount,
                "limit_t": limit.limit_t,
                "net_sold_t": limit.net_sold,
                "room_after_t": limit.limit_t - banked - amount,
            }

        return run_command(
            self.engine, self.clock, actor, "compliance.bank_apply", application_id, body, work
        )

    def convert(self, actor: Actor, command_id: str, application_id: str) -> Outcome:
        """The regulator converts an application: old vintages deleted, the new one issued and delivered."""
        body = {"application": application_id}

        def work(connection: Connection, at: str) -> dict[str, Any]:
            require_role(actor, REGULATORS, "converting banked allowances")
            row = store.get_application(connection, application_id, lock=True)
            if row is None:
                raise Refused(
                    Code.COMPLIANCE_BANKING_APPLICATION_NOT_FOUND,
                    f"no banking application {application_id!r}",
                )
            if row.status != "applied":
                raise Refused(
                    Code.COMPLIANCE_BANKING_APPLICATION_NOT_PENDING,
                    f"banking application {application_id!r} is {row.status}, not applied",
                )
            rule = self.rules.banking
            account = holding_account(row.entity_id)
            old = _available_of(connection, account, rule.from_vintages)
            plan = plan_mandatory(int(row.quantity_t), old)
            moved = sum(q for _, q in plan)
            if moved < row.quantity_t:
                raise Refused(
                    Code.INSUFFICIENT_BALANCE,
                    f"{account} has {moved} t of {', '.join(rule.from_vintages)} available, "
                    f"less than the {row.quantity_t} t applied for",
                )
            base = _transaction_id("CB", command_id)
            deleted = [Move(account, DELETION_ACCOUNT, instrument, q) for instrument, q in plan]
            postings.move(
                connection, actor, f"{base[:60]}-D", "banking_deletion", deleted, at, Authority.ORDER
            )
            postings.issue(connection, actor, f"{base[:60]}-I", rule.to_vintage, moved, ISSUANCE_ACCOUNT, at)
            delivery = [Move(ISSUANCE_ACCOUNT, account, rule.to_vintage, moved)]
            postings.move(connection, actor, f"{base[:60]}-A", "banking_conversion", delivery, at)
            store.update_application(
                connection,
                application_id,
                status="converted",
                decided_by=actor.username,
                decided_at=at,
                transaction_id=base[:60],
            )
            return {
                "application": application_id,
                "entity_id": row.entity_id,
                "status": "converted",
                "deleted": [{"instrument": i, "quantity": q} for i, q in plan],
                "issued": {"instrument": rule.to_vintage, "quantity": moved},
                "transaction": base[:60],
            }

        return run_command(self.engine, self.clock, actor, "compliance.bank_convert", command_id, body, work)

    def _limit(self, connection: Connection, entity_id: str) -> tuple[Any, int]:
        """T now, and what the entity's live applications already take of it."""
        rule = self.rules.banking
        accounts = [holding_account(entity_id), trading_account(entity_id)]
        offset = self.rules.deadline_offset_hours
        traded = postings.traded_net(
            connection,
            accounts,
            list(rule.from_vintages),
            _instant(rule.net_sold_from, offset),
            _instant(rule.net_sold_until, offset),
        )
        held = sum(sum(q for _, q in _totals_of(connection, a, rule.from_vintages)) for a in accounts)
        # T is capped at the holdings at the end of 2025 (A 附5); units converted since then were
        # part of them, so they count back in.
        limit = banking_limit(rule, traded["net_sold"], held + store.converted_by(connection, entity_id))
        return limit, store.banked_by(connection, entity_id)

    def _banking_eligibility(self, connection: Connection, entity_id: str) -> tuple[bool, str | None]:
        """Not for entities late or short in the years the rule names (A 附5: 2023 and 2024)."""
        for year in self.rules.banking.requires_compliance_in:
            if store.get_obligation(connection, year, entity_id) is None:
                continue
            result = store.result_of(connection, year, entity_id)
            if result is None:
                return False, f"compliance year {year} is not closed yet"
            if result.shortfall_t > 0:
                return False, f"it was {result.shortfall_t} t short for {year}"
            if result.late:
                return False, f"it completed {year} late"
        return True, None

    # --- queries -------------------------------------------------------------------------------------

    def years(self) -> list[dict[str, Any]]:
        """The configured compliance years with their deadline and whether they are open or closed."""

        def read(connection: Connection) -> list[dict[str, Any]]:
            opened = {r.year: r for r in store.list_years(connection)}
            return [
                {
                    "year": y,
                    "deadline": rule.deadline.isoformat(),
                    "vintages": list(rule.vintages),
                    "status": opened[y].status if y in opened else "not_open",
                }
                for y, rule in sorted(self.rules.years.items())
            ]

        return list(run_read(self.engine, read))

    def position(self, actor: Actor, entity_id: str, year: int) -> dict[str, Any]:
        """An entity's position: obligation, surrendered by instrument, owed, offset room, holdings."""

        def read(connection: Connection) -> dict[str, Any]:
            rule = self.rules.year(year)
            self._require_view(connection, actor, entity_id, year)
            year_row = store.get_year(connection, year)
            row = store.get_obligation(connection, year, entity_id)
            obligation = (
                _obligation_figure(connection, year, entity_id) if row is None else int(row.obligation_t)
            )
            if obligation is None:
                raise Refused(
                    Code.COMPLIANCE_NO_OBLIGATION,
                    f"{entity_id} has no verified emissions for {year} yet, so no obligation",
                )
            position = (
                Position(obligation, 0, 0)
                if row is None
                else Position(obligation, row.surrendered_t, row.ccer_t)
            )
            cap = offset_cap(obligation, self.rules.offsets.ratio_percent)
            now = self.clock.now()
            result = store.result_of(connection, year, entity_id)
            return {
                "entity_id": entity_id,
                "year": year,
                "year_status": year_row.status if year_row else "not_open",
                "deadline": rule.deadline.isoformat(),
                "days_to_deadline": days_to_deadline(self.rules, year, now),
                "obligation_t": position.obligation,
                "surrendered_t": position.surrendered,
                "ccer_t": position.ccer,
                "owed_t": position.owed,
                "status": position.status.value,
                "offset_cap_t": cap,
                "offset_room_t": min(max(cap - position.ccer, 0), position.owed),
                "eligible_vintages": list(rule.vintages),
                "surrendered_by_instrument": {
                    r.instrument_id: int(r.quantity)
                    for r in store.surrendered_by_instrument(connection, year, entity_id)
                },
                "holdings": self._holdings(connection, rule, entity_id, now),
                "surrenders": [_surrender_json(r) for r in store.surrenders_of(connection, year, entity_id)],
                "result": None if result is None else _penalty_json(result._asdict()),
            }

        return dict(run_read(self.engine, read))

    def _holdings(
        self, connection: Connection, rule: YearRule, entity_id: str, now: datetime
    ) -> list[dict[str, Any]]:
        """What the holding account holds, each with whether it may settle the year and why not."""
        rows = ledger_store.account_balances(connection, holding_account(entity_id))
        shown = []
        for r in rows:
            if r.total == 0:
                continue
            try:
                kind = self._check_unit(connection, rule, r.instrument_id, now)
                eligible, reason = True, None
            except Refused as refused:
                kind, eligible, reason = None, False, refused.refusal.message
            shown.append(
                {
                    "instrument": r.instrument_id,
                    "kind": None if kind is None else kind.value,
                    "total": int(r.total),
                    "available": int(r.total - r.held),
                    "eligible": eligible,
                    "reason": reason,
                }
            )
        return sorted(shown, key=lambda h: vintage_order(h["instrument"]))

    def status(
        self, actor: Actor, year: int, province: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """The year's compliance per entity and the compliance rate (share surrendered, entities in full)."""

        def read(connection: Connection) -> dict[str, Any]:
            rule = self.rules.year(year)
            scope = self._overseer_scope(connection, actor, province)
            year_row = store.get_year(connection, year)
            rows = store.obligations_of_year(connection, year, province=scope)
            positions = [Position(r.obligation_t, r.surrendered_t, r.ccer_t) for r in rows]
            counts = {s.value: 0 for s in Status}
            for p in positions:
                counts[p.status.value] += 1
            by_instrument = {
                r.instrument_id: int(r.quantity) for r in store.surrendered_by_instrument(connection, year)
            }
            return {
                "year": year,
                "province": scope,
                "year_status": year_row.status if year_row else "not_open",
                "deadline": rule.deadline.isoformat(),
                **national_rate(positions).as_json(),
                "by_status": counts,
                "surrendered_by_instrument": by_instrument if scope is None else None,
                "entities_shown": min(len(rows), _page(limit)),
                "rows": [_position_json(r) for r in rows[: _page(limit)]],
            }

        return dict(run_read(self.engine, read))

    def penalties(self, actor: Actor, year: int, province: str | None = None) -> dict[str, Any]:
        """A closed year's Art. 24 penalties: per short entity the fine range, the fine and the cut."""

        def read(connection: Connection) -> dict[str, Any]:
            self.rules.year(year)
            scope = self._overseer_scope(connection, actor, province)
            year_row = _closed(connection, year)
            rows = store.results_of_year(
                connection, year, province=scope, not_met_only=True, limit=listed_max
            )
            return {
                "year": year,
                "province": scope,
                "price_fen": year_row.price_fen,
                "price_source": year_row.price_source,
                "multiple": year_row.multiple,
                "multiple_range": [self.rules.penalty.multiple_min, self.rules.penalty.multiple_max],
                "source": self.rules.penalty.source,
                "rows": [_penalty_json(r._asdict()) for r in rows],
            }

        return dict(run_read(self.engine, read))

    def public_list(self, year: int | None = None) -> dict[str, Any]:
        """The published list of a closed year (the newest by default): the rate and who fell short."""

        def read(connection: Connection) -> dict[str, Any]:
            closed = [r for r in store.list_years(connection) if r.status == YearState.CLOSED.value]
            chosen = year if year is not None else (closed[0].year if closed else None)
            row = next((r for r in closed if r.year == chosen), None)
            if row is None:
                raise Refused(
                    Code.COMPLIANCE_LIST_NOT_PUBLISHED,
                    "no compliance list is published yet"
                    if chosen is None
                    else f"the {chosen} list is not published: the year is not closed",
                )
            failing = store.results_of_year(connection, row.year, not_met_only=True, limit=listed_max)
            rate = Rate(row.entities, row.entities_met, row.obligation_t, row.surrendered_t)
            return {
                "year": row.year,
                "closed_at": row.closed_at,
                "published_years": [r.year for r in closed],
                **rate.as_json(),
                "non_compliant": [
                    {
                        "entity_id": r.entity_id,
                        "province": r.province,
                        "obligation_t": r.obligation_t,
                        "surrendered_t": r.surrendered_t,
                        "shortfall_t": r.shortfall_t,
                        "status": r.status,
                    }
                    for r in failing
                ],
            }

        return dict(run_read(self.engine, read))

    def risk(
        self, actor: Actor, year: int, province: str | None = None, price_fen: int | None = None
    ) -> dict[str, Any]:
        """Compliance risk per entity (eligible holdings + funds at a price vs owed) and deadline alerts."""

        def read(connection: Connection) -> dict[str, Any]:
            rule = self.rules.year(year)
            scope = self._overseer_scope(connection, actor, province)
            now = self.clock.now()
            price, price_source = self._risk_price(connection, now, price_fen)
            rows = [r for r in store.obligations_of_year(connection, year, province=scope)]
            entities = [r.entity_id for r in rows]
            accounts = [holding_account(e) for e in entities] + [trading_account(e) for e in entities]
            keys = [(a, v) for a in accounts for v in rule.vintages] + [
                (trading_account(e), FUNDS_ID) for e in entities
            ]
            found = postings.balances(connection, keys) if keys else {}
            days = days_to_deadline(self.rules, year, now)
            alerting = 0 <= days <= self.rules.risk.alert_days
            levels = {level.value: 0 for level in RiskLevel}
            shown: list[dict[str, Any]] = []
            alerts: list[dict[str, Any]] = []
            for r in rows:
                e = r.entity_id
                owed = max(r.obligation_t - r.surrendered_t, 0)
                held = sum(
                    found[(a, v)].total
                    for a in (holding_account(e), trading_account(e))
                    for v in rule.vintages
                )
                pending = sum(
                    found[(a, v)].held
                    for a in (holding_account(e), trading_account(e))
                    for v in rule.vintages
                )
                funds = found[(trading_account(e), FUNDS_ID)]
                risk = risk_of(self.rules.risk, owed, held, funds.total - funds.held, price)
                levels[risk.level.value] += 1
                item = {
                    "entity_id": e,
                    "province": r.province,
                    "owed_t": owed,
                    "holdings_t": held,
                    "pending_t": pending,
                    "funds_fen": risk.funds_fen,
                    "funds_t": risk.funds_t,
                    "cover_percent": risk.cover_percent,
                    "level": risk.level.value,
                }
                if risk.level is not RiskLevel.NONE:
                    shown.append(item)
                if alerting and owed > 0:
                    alerts.append(
                        {"entity_id": e, "owed_t": owed, "days_to_deadline": days, "level": risk.level.value}
                    )
            order = [
                RiskLevel.CRITICAL.value,
                RiskLevel.HIGH.value,
                RiskLevel.MEDIUM.value,
                RiskLevel.LOW.value,
            ]
            shown.sort(key=lambda item: (order.index(item["level"]), -item["owed_t"], item["entity_id"]))
            return {
                "year": year,
                "province": scope,
                "deadline": rule.deadline.isoformat(),
                "days_to_deadline": days,
                "alert_days_before_deadline": self.rules.risk.alert_days,
                "price_fen": price,
                "price_source": price_source,
                "entities": len(rows),
                "by_level": levels,
                "rows": shown[:listed_max],
                "alerts": alerts[:listed_max],
                "alerts_total": len(alerts),
                "thresholds_percent": {
                    "low": self.rules.risk.low_cover_percent,
                    "medium": self.rules.risk.medium_cover_percent,
                    "high": self.rules.risk.high_cover_percent,
                },
                "source": self.rules.risk.source,
            }

        return dict(run_read(self.engine, read))

    def _risk_price(
        self, connection: Connection, now: datetime, given: int | None
    ) -> tuple[int | None, str | None]:
        """The price funds are converted at: given, else the exchange's average of last month, else none."""
        if given is not None:
            return check_price(given), "given"
        first = now.date().replace(day=1) - timedelta(days=1)
        found = self.prices.monthly_average_price_fen(connection, first.year, first.month)
        return (found, "exchange") if found else (None, None)

    def trace(self, entity_id: str, year: int) -> dict[str, Any]:
        """The compliance link of an entity-year's chain: obligation, surrenders, status, penalty."""

        def read(connection: Connection) -> dict[str, Any]:
            row = store.get_obligation(connection, year, entity_id)
            year_row = store.get_year(connection, year)
            result = store.result_of(connection, year, entity_id)
            surrenders = store.surrenders_of(connection, year, entity_id)
            return {
                "entity_id": entity_id,
                "year": year,
                "year_status": year_row.status if year_row else "not_open",
                "obligation_t": None if row is None else int(row.obligation_t),
                "surrendered_t": 0 if row is None else int(row.surrendered_t),
                "ccer_t": 0 if row is None else int(row.ccer_t),
                "owed_t": None if row is None else max(int(row.obligation_t - row.surrendered_t), 0),
                "status": None
                if row is None
                else status_of(int(row.obligation_t), int(row.surrendered_t)).value,
                "surrenders": [_surrender_json(r) for r in surrenders],
                "penalty": None if result is None else _penalty_json(result._asdict()),
            }

        return dict(run_read(self.engine, read))

    def allocation_cut(self, entity_id: str, year: int) -> int:
        """Tonnes to cut from an entity's allocation of `year` for a shortfall in year − 1 (R Art. 24)."""
        return int(run_read(self.engine, lambda connection: store.cut_for(connection, entity_id, year)))

    def applications(
        self, actor: Actor, entity_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Banking applications (an entity's own, or all for overseers), newest first."""

        def read(connection: Connection) -> list[dict[str, Any]]:
            if entity_id is None:
                require_role(actor, OVERSEERS, "listing every banking application")
            else:
                self._require_view(connection, actor, entity_id)
            return [dict(r._asdict()) for r in store.applications_of(connection, entity_id, _page(limit))]

        return list(run_read(self.engine, read))

    # --- who may see and order what ------------------------------------------------------------------

    def _require_view(
        self, connection: Connection, actor: Actor, entity_id: str, year: int | None = None
    ) -> None:
        """The entity's own people (a right on its holding account), its province's authority, overseers."""
        if actor.superuser or actor.role in OVERSEERS or actor.may_view(holding_account(entity_id)):
            return
        if actor.role is Role.PROVINCIAL_AUTHORITY:
            scope = store.province_of_authority(connection, actor.username)
            _, province = store.province_of(connection, entity_id)
            if scope is not None and scope == province:
                return
        raise Refused(
            Code.FORBIDDEN, f"{actor.username!r} may not see the compliance position of {entity_id}"
        )

    def _require_province(self, connection: Connection, actor: Actor, year: int, entity_id: str) -> None:
        """A provincial authority orders only for the entities of its own province."""
        scope = _province_scope(connection, actor)
        if scope is None:
            return
        row = store.get_obligation(connection, year, entity_id)
        province = row.province if row is not None else store.province_of(connection, entity_id)[1]
        if province != scope:
            raise Refused(
                Code.COMPLIANCE_OUT_OF_PROVINCE,
                f"{entity_id} is in {province or 'no known province'}; {actor.username!r} acts for {scope}",
            )

    def _overseer_scope(self, connection: Connection, actor: Actor, province: str | None) -> str | None:
        """Overseers see all (or the province they ask for); a provincial authority only its own."""
        if actor.superuser or actor.role in OVERSEERS:
            return None if province is None else _check_province(province)
        if actor.role is Role.PROVINCIAL_AUTHORITY:
            scope = _province_scope(connection, actor)
            if province is not None and _check_province(province) != scope:
                raise Refused(
                    Code.COMPLIANCE_OUT_OF_PROVINCE, f"{actor.username!r} acts for {scope}, not {province}"
                )
            return scope
        raise Refused(
            Code.FORBIDDEN,
            "compliance status and risk are for the regulator and provincial authorities; "
            f"{actor.username!r} is {actor.role.value}",
        )


# --- helpers -----------------------------------------------------------------------------------------


def _check_province(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > province_length_max:
        raise Refused(
            Code.COMPLIANCE_INVALID_PROVINCE,
            f"a province is 1-{province_length_max} characters, not {value!r}",
        )
    return value.strip()


def _province_scope(connection: Connection, actor: Actor) -> str | None:
    """None for national actors; the assigned province for a provincial authority (refused without one)."""
    if actor.superuser or actor.role is not Role.PROVINCIAL_AUTHORITY:
        return None
    scope = store.province_of_authority(connection, actor.username)
    if scope is None:
        raise Refused(Code.FORBIDDEN, f"{actor.username!r} is not assigned to a province yet")
    return scope


def _page(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= page_size_max:
        raise Refused(Code.INVALID_REQUEST, f"limit must be 1-{page_size_max}")
    return limit


def _china_date(now: datetime, offset_hours: int) -> date:
    return (now.astimezone(UTC) + timedelta(hours=offset_hours)).date()


def _instant(day: date, offset_hours: int) -> str:
    """Midnight of a China date as the ledger's UTC timestamp text."""
    zone = timezone(timedelta(hours=offset_hours))
    return datetime.combine(day, time(0), zone).astimezone(UTC).isoformat(timespec="microseconds")


def _require_open(connection: Connection, year: int, lock: bool = False) -> Any:
    row = store.get_year(connection, year, lock=lock)
    if row is None:
        raise Refused(Code.COMPLIANCE_YEAR_NOT_OPEN, f"compliance year {year} is not open for surrender yet")
    if row.status == YearState.CLOSED.value:
        raise Refused(
            Code.COMPLIANCE_YEAR_CLOSED, f"compliance year {year} is closed; its figures are frozen"
        )
    return row


def _closed(connection: Connection, year: int) -> Any:
    row = store.get_year(connection, year)
    if row is None or row.status != YearState.CLOSED.value:
        raise Refused(Code.COMPLIANCE_YEAR_NOT_CLOSED, f"compliance year {year} is not closed yet")
    return row


def _catch_up_obligations(connection: Connection, year: int, at: str) -> dict[str, int]:
    """Add an obligation row for every accepted verification of the year that has none yet."""
    known = store.obligation_entities(connection, year)
    fresh = [
        {
            "year": year,
            "entity_id": r.entity_id,
            "province": r.province,
            "obligation_t": int(r.verified),
            "surrendered_t": 0,
            "ccer_t": 0,
            "late": False,
            "updated_at": at,
        }
        for r in store.verified_of_year(connection, year)
        if r.entity_id not in known
    ]
    store.insert_obligations(connection, fresh)
    return {"entities": len(fresh), "obligation_t": sum(r["obligation_t"] for r in fresh)}


def _obligation_figure(connection: Connection, year: int, entity_id: str) -> int | None:
    """The verified emissions of an entity-year (mrv-contract.md), None before acceptance."""
    row = verification_store.live_verification(connection, entity_id, year)
    if row is None or row.status != "verified":
        return None
    return int(row.verified_emissions_tco2e)


def _positions(
    connection: Connection, year: int, entity_ids: Sequence[str], at: str
) -> tuple[dict[str, Position], dict[str, bool]]:
    """Locked positions of the entities and whether each was late already; a row is made for one
    verified after the year opened."""
    rows = store.get_obligations(connection, year, entity_ids, lock=True)
    missing = [e for e in entity_ids if e not in rows]
    fresh: list[dict[str, Any]] = []
    for entity_id in missing:
        figure = _obligation_figure(connection, year, entity_id)
        if figure is None:
            known, _ = store.province_of(connection, entity_id)
            raise Refused(
                Code.COMPLIANCE_NO_OBLIGATION if known else Code.COMPLIANCE_ENTITY_NOT_FOUND,
                f"{entity_id} has no verified emissions for {year}, so nothing can be surrendered for it yet"
                if known
                else f"{entity_id} is not a covered entity on the roster",
            )
        fresh.append(
            {
                "year": year,
                "entity_id": entity_id,
                "province": store.province_of(connection, entity_id)[1],
                "obligation_t": figure,
                "surrendered_t": 0,
                "ccer_t": 0,
                "late": False,
                "updated_at": at,
            }
        )
    store.insert_obligations(connection, fresh)
    positions = {
        e: Position(int(r.obligation_t), int(r.surrendered_t), int(r.ccer_t)) for e, r in rows.items()
    }
    late = {e: bool(r.late) for e, r in rows.items()}
    for made in fresh:
        positions[str(made["entity_id"])] = Position(int(made["obligation_t"]), 0, 0)
        late[str(made["entity_id"])] = False
    return positions, late


def _post(
    connection: Connection,
    actor: Actor,
    transaction: str,
    type_: str,
    moves: Sequence[Move],
    at: str,
    authority: Authority,
) -> int:
    """Post the moves in sub-batches of at most `moves_per_posting_max`; returns how many batches."""
    if len(moves) <= moves_per_posting_max:
        postings.move(connection, actor, transaction, type_, moves, at, authority)
        return 1
    count = 0
    for start in range(0, len(moves), moves_per_posting_max):
        part = f"{transaction[:56]}.{count}"
        postings.move(
            connection, actor, part, type_, moves[start : start + moves_per_posting_max], at, authority
        )
        count += 1
    return count


def _available_of(connection: Connection, account: str, instruments: Sequence[str]) -> list[tuple[str, int]]:
    """Available (total − held) units of the instruments in one account, oldest vintage first."""
    found = postings.balances(connection, [(account, i) for i in instruments])
    pairs = [(i, found[(account, i)].total - found[(account, i)].held) for i in instruments]
    return sorted([(i, q) for i, q in pairs if q > 0], key=lambda p: vintage_order(p[0]))


def _totals_of(connection: Connection, account: str, instruments: Sequence[str]) -> list[tuple[str, int]]:
    """Total units (held ones included) of the instruments in one account."""
    found = postings.balances(connection, [(account, i) for i in instruments])
    return [(i, found[(account, i)].total) for i in instruments]


def _eligible_available(
    connection: Connection, rule: YearRule, accounts: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """Per account, available allowances of the year's vintages, oldest first (one read for all)."""
    keys = [(a, v) for a in accounts for v in rule.vintages]
    found = postings.balances(connection, keys) if keys else {}
    ordered = sorted(rule.vintages, key=vintage_order)
    result: dict[str, list[tuple[str, int]]] = {}
    for account in accounts:
        pairs = [(v, found[(account, v)].total - found[(account, v)].held) for v in ordered]
        result[account] = [(v, q) for v, q in pairs if q > 0]
    return result


def _result_row(rules_: Rules, year: int, row: Any, price: int | None, multiple: int) -> dict[str, Any]:
    """The frozen result of one entity-year, with its Art. 24 penalty."""
    shortfall = max(int(row.obligation_t) - int(row.surrendered_t), 0)
    fine = penalty(rules_.penalty, shortfall, price, multiple)
    return {
        "year": year,
        "entity_id": row.entity_id,
        "province": row.province,
        "obligation_t": int(row.obligation_t),
        "surrendered_t": int(row.surrendered_t),
        "ccer_t": int(row.ccer_t),
        "shortfall_t": shortfall,
        "status": status_of(int(row.obligation_t), int(row.surrendered_t)).value,
        "late": bool(row.late),
        "price_fen": price if shortfall else None,
        "fine_min_fen": fine.fine_min_fen if shortfall else None,
        "fine_max_fen": fine.fine_max_fen if shortfall else None,
        "fine_fen": fine.fine_fen if shortfall else None,
        "allocation_cut_t": fine.allocation_cut,
        "cut_year": year + 1,
    }


def _penalty_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity_id": row["entity_id"],
        "province": row["province"],
        "obligation_t": row["obligation_t"],
        "surrendered_t": row["surrendered_t"],
        "shortfall_t": row["shortfall_t"],
        "status": row["status"],
        "late": bool(row["late"]),
        "price_fen": row["price_fen"],
        "fine_min_fen": row["fine_min_fen"],
        "fine_max_fen": row["fine_max_fen"],
        "fine_fen": row["fine_fen"],
        "allocation_cut_t": row["allocation_cut_t"],
        "cut_year": row["cut_year"],
    }


def _position_json(row: Any) -> dict[str, Any]:
    return {
        "entity_id": row.entity_id,
        "province": row.province,
        "obligation_t": int(row.obligation_t),
        "surrendered_t": int(row.surrendered_t),
        "ccer_t": int(row.ccer_t),
        "owed_t": max(int(row.obligation_t - row.surrendered_t), 0),
        "status": status_of(int(row.obligation_t), int(row.surrendered_t)).value,
    }


def _surrender_json(row: Any) -> dict[str, Any]:
    return {
        "instrument": row.instrument_id,
        "kind": row.kind,
        "quantity": int(row.quantity_t),
        "mode": row.mode,
        "from_account": row.from_account,
        "transaction": row.transaction_id,
        "after_deadline": bool(row.after_deadline),
        "actor": row.actor,
        "at": row.at,
    }
