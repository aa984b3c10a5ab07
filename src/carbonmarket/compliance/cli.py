"""The `compliance` commands of the CLI; `carbonmarket.cli` mounts `compliance_app`."""

from __future__ import annotations

import typer

compliance_app = typer.Typer(
    help="Obligations, surrender, offsets, compliance status, year close, penalties, banking, risk.",
    no_args_is_help=True,
)
