"""The figures built on verified emissions, linked into `carbonmarket trace` (issue 3's chain, issue 4).

The MRV trace (`mrv/trace.py`) knows nothing of the contexts downstream of it; it offers a hook
(`register_consumer`). This module plugs allocation and compliance into it, so the chain reads
monthly parameter → rule results → report → verification → allocation → obligation, surrenders and
penalty. The CLI and the web app call `register()` when they wire the contexts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from carbonmarket.mrv import trace


def register() -> None:
    """Add the allocation and compliance figures to every trace (the same names replace)."""
    trace.register_consumer("allocation", "allocation", allocation_figures)
    trace.register_consumer("compliance", "compliance", compliance_figures)


def allocation_figures(engine: Engine, entity_id: str, year: int) -> list[dict[str, Any]]:
    """Every allocation line of the entity-year (unit, entity, top-up ...) and the entity's position."""
    from carbonmarket.allocation.service import Allocation

    found = Allocation(engine).trace(entity_id, year)
    figures: list[dict[str, Any]] = []
    for run in found.get("runs", []):
        for number, line in enumerate(run.get("lines", [])):
            figures.append(
                {
                    "id": f"{year}:{run['run']}:{number}",
                    "figure": line.get("result_t"),
                    "run": run["run"],
                    "run_kind": run.get("kind"),
                    **line,
                }
            )
    position = found.get("position")
    if position:
        figures.append(
            {
                "id": f"{year}:position",
                "figure": position.get("final_t"),
                "owed_t": found.get("owed_t"),
                "deductions": found.get("deductions", []),
                **position,
            }
        )
    return figures


def compliance_figures(engine: Engine, entity_id: str, year: int) -> list[dict[str, Any]]:
    """The obligation (the verified figure), each surrender against it, and the penalty if any."""
    from carbonmarket.compliance.service import Compliance

    found = Compliance(engine).trace(entity_id, year)
    if found.get("obligation_t") is None:
        return []
    obligation = f"compliance:{year}:obligation"
    figures: list[dict[str, Any]] = [
        {
            "id": f"{year}:obligation",
            "figure": found["obligation_t"],
            "status": found["status"],
            "surrendered_t": found["surrendered_t"],
            "ccer_t": found["ccer_t"],
            "owed_t": found["owed_t"],
            "year_status": found["year_status"],
        }
    ]
    for surrender in found.get("surrenders", []):
        figures.append(
            {
                "id": f"{year}:surrender:{surrender['transaction']}",
                "figure": surrender["quantity"],
                "uses": obligation,
                **surrender,
            }
        )
    penalty = found.get("penalty")
    if penalty:
        figures.append(
            {"id": f"{year}:penalty", "figure": penalty.get("fine_fen"), "uses": obligation, **penalty}
        )
    return figures
