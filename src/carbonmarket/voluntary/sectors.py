"""Project sectors and the ones under mandatory ETS obligations (data/sectors.toml).

Pure: reads the packaged data file only. Used by the lifecycle (a project in a covered sector is
refused) and by `facts.credit_facts` (compliance excludes credits of covered sectors).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Sectors:
    """The sectors a project may name, and the first year each covered sector is under obligation."""

    known: frozenset[str]
    covered_from: dict[str, int]

    def is_covered(self, sector: str, year: int | None = None) -> bool:
        """Whether the sector is under mandatory obligations (in `year`, or in any year when None)."""
        first = self.covered_from.get(sector)
        if first is None:
            return False
        return year is None or year >= first


@functools.cache
def sectors() -> Sectors:
    """The packaged sector list (DOMAIN.md §1 and §6: covered sectors are excluded from CCER)."""
    text = resources.files("carbonmarket.voluntary").joinpath("data", "sectors.toml").read_text("utf-8")
    return parse_sectors(tomllib.loads(text))


def parse_sectors(document: dict[str, Any]) -> Sectors:
    """Build `Sectors` from the TOML document, checking its shape."""
    if document.get("schema_version") != _SCHEMA_VERSION:
        raise ValueError(f"sectors.toml: schema_version must be {_SCHEMA_VERSION}")
    known = frozenset(str(name) for name in document["known"]["names"])
    covered = {str(name): int(entry["first_year"]) for name, entry in document["covered"].items()}
    unknown = set(covered) - known
    if unknown:
        raise ValueError(f"sectors.toml: covered sectors not in the known list: {sorted(unknown)}")
    return Sectors(known, covered)
