"""Ledger rules: legs, balance arithmetic, hold states — pure, with no database.

Double entry: every leg debits one account and credits another by the same whole quantity, so
the sum over all accounts of every instrument is always zero. Units come into being only by a
leg debiting the mint (a virtual account whose balance is minus the quantity issued) and leave
circulation only by landing in a retirement account (surrender, cancellation, deletion).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from carbonmarket.core.results import Code, Refused

# The virtual account units are issued from. It is an account row (so legs can name it) whose
# balance is never cached: a replay gives −issued for every instrument.
MINT_ACCOUNT_ID = "@mint"
MINT_HOLDER_ID = "@registry"


class LegKind(StrEnum):
    """Why a leg exists; reversals name the leg they undo."""

    ISSUE = "issue"
    TRANSFER = "transfer"
    RETIRE = "retire"
    POST = "post"  # a hold posted: the reserved units move
    REVERSE = "reverse"


class HoldKind(StrEnum):
    """What a two-phase reservation is for."""

    FREEZE = "freeze"  # judicial or administrative freeze of holdings
    PLEDGE = "pledge"  # holdings pledged to a pledgee
    ORDER = "order"  # a resting exchange order
    BID = "bid"  # a bid in an auction or one-way bidding session
    TRANSACTION = "transaction"  # units of a registry transaction awaiting approval


class HoldStatus(StrEnum):
    """A hold is pending until it is posted, voided or expired — exactly once."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Leg:
    """One movement of `quantity` units of `instrument` from `debit` to `credit`."""

    debit: str
    credit: str
    instrument: str
    quantity: int
    kind: LegKind
    hold_id: str | None = None
    reverses_id: int | None = None


@dataclass(frozen=True)
class Balance:
    """A cached balance: units in the account, and how many of them are reserved by holds."""

    total: int
    held: int

    @property
    def available(self) -> int:
        """Units that may be moved or reserved now."""
        return self.total - self.held


Key = tuple[str, str]  # (account id, instrument id)


def keys_touched(legs: Iterable[Leg]) -> list[Key]:
    """The cached balances the legs change, sorted: rows are always locked in this order."""
    keys = {(leg.debit, leg.instrument) for leg in legs} | {(leg.credit, leg.instrument) for leg in legs}
    return sorted(key for key in keys if key[0] != MINT_ACCOUNT_ID)


def balance_changes(
    legs: Iterable[Leg], balances: Mapping[Key, Balance], released: Mapping[Key, int]
) -> dict[Key, Balance]:
    """New balances after all legs, refusing the whole batch if any account would go below zero.

    `released` is the quantity of holds being posted in this batch per key: those units stop being
    reserved, and the legs that post them may spend them.
    """
    new: dict[Key, list[int]] = {key: [b.total, b.held] for key, b in balances.items()}
    for key, quantity in released.items():
        new[key][1] -= quantity
    for leg in legs:
        # The mint's balance is not cached: issuing debits it, reversing an issuance credits it.
        if leg.debit != MINT_ACCOUNT_ID:
            new[(leg.debit, leg.instrument)][0] -= leg.quantity
        if leg.credit != MINT_ACCOUNT_ID:
            new[(leg.credit, leg.instrument)][0] += leg.quantity
    for (account, instrument), (total, held) in new.items():
        if total < held or total < 0:
            before = balances[(account, instrument)]
            raise Refused(
                Code.INSUFFICIENT_BALANCE,
                f"account {account!r} has {before.available} t of {instrument} available "
                f"({before.total} held in all, {before.held} reserved); the request needs more",
                account=account,
                instrument=instrument,
                available=before.available,
            )
    return {key: Balance(total, held) for key, (total, held) in new.items()}


def check_hold_pending(hold_id: str, status: str) -> None:
    """A hold resolves once: posting, voiding or expiring a resolved hold is refused."""
    if status != HoldStatus.PENDING:
        raise Refused(Code.HOLD_NOT_PENDING, f"hold {hold_id!r} is already {status}")


def hold_remaining(quantity: int, posted: int | None) -> int:
    """Units a pending hold still reserves: what it reserved minus what was already posted from it.

    Orders fill in parts: each fill posts part of the order's hold and the rest stays reserved.
    """
    return quantity - (posted or 0)


def check_post_quantity(hold_id: str, held: int, wanted: int) -> None:
    """A post may take all or part of the reserved units, never more; the rest is released."""
    if wanted > held:
        raise Refused(
            Code.POST_QUANTITY_EXCEEDS_HOLD, f"hold {hold_id!r} reserves {held} t; cannot post {wanted} t"
        )


def reversal_legs(originals: Iterable[tuple[int, Leg]]) -> list[Leg]:
    """Legs that undo the originals, each naming the transfer it reverses (rule 3)."""
    return [
        Leg(leg.credit, leg.debit, leg.instrument, leg.quantity, LegKind.REVERSE, reverses_id=transfer_id)
        for transfer_id, leg in originals
    ]


def split_blocks(
    blocks: Iterable[tuple[int, int, int]], quantity: int
) -> tuple[list[int], tuple[int, int, int] | None]:
    """Choose serial blocks for `quantity` units, lowest serials first.

    `blocks` are (block id, first, last). Returns the ids of blocks that move whole and, if the
    last one must split, (block id, first, last) of the part that moves.
    """
    whole: list[int] = []
    remaining = quantity
    for block_id, first, last in blocks:
        size = last - first + 1
        if size <= remaining:
            whole.append(block_id)
            remaining -= size
            if remaining == 0:
                return whole, None
        else:
            return whole, (block_id, first, first + remaining - 1)
    raise AssertionError(f"serial blocks hold fewer units than the balance: {remaining} t short")
