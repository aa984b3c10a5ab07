"""The `exchange` commands of the CLI; `carbonmarket.cli` mounts `exchange_app`."""

from __future__ import annotations

import typer

exchange_app = typer.Typer(
    help="The exchange: orders, books, bulk agreements, one-way bidding, auctions, settlement, market data.",
    no_args_is_help=True,
)
