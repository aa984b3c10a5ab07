"""The `allocation` commands of the CLI; `carbonmarket.cli` mounts `allocation_app`."""

from __future__ import annotations

import typer

allocation_app = typer.Typer(
    help="Allocation plans, allowance calculation, pre-allocation, issuance and true-up.",
    no_args_is_help=True,
)
