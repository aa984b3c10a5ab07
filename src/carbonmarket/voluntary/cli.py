"""The `ccer` commands of the CLI; `carbonmarket.cli` mounts `ccer_app`."""

from __future__ import annotations

import typer

ccer_app = typer.Typer(
    help="The voluntary market: CCER methodologies, projects, VVBs, issuance, cancellation.",
    no_args_is_help=True,
)
